"""Bad input through the console script: one line, exit 2, never a traceback."""

from __future__ import annotations

import pytest

REPORT = "projectKey=shop-api\nserverUrl=http://127.0.0.1:1\nceTaskId=T1\n"


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({}, [],
         "no report-task.txt in {tmp} (looked for target/sonar/report-task.txt, "
         ".scannerwork/report-task.txt, build/sonar/report-task.txt) (run the scanner "
         "first, or pass --report-task FILE or --project-dir DIR)"),
        ({}, ["--report-task", "out/report-task.txt"],
         "out/report-task.txt: report file not found"),
        ({"target/sonar/report-task.txt": REPORT.replace("ceTaskId=T1\n", "")}, [],
         "target/sonar/report-task.txt: missing key 'ceTaskId' (the scanner did not finish; "
         "re-run it and check its log)"),
        ({"r.txt": "projectKey=a\n\nserverUrl http://x\n"}, ["--report-task", "r.txt"],
         "r.txt:3:1: expected key=value, got 'serverUrl http://x'"),
        ({"r.txt": REPORT}, ["--report-task", "r.txt", "--host", "sonar:9000"],
         "--host 'sonar:9000' is not an http(s) URL"),
        ({"r.txt": REPORT}, ["--report-task", "r.txt", "--timeout", "-1"],
         "Invalid value for '--timeout'"),
        ({"r.txt": REPORT}, ["--report-task", "r.txt", "--auth", "digest"],
         "Invalid value for '--auth'"),
    ],
)
def test_bad_input(gate_cli, tmp_path, files, args, message):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    run = gate_cli(*args)

    assert run.code == 2
    error = run.err.splitlines()[-1]
    assert error.startswith("hdhooks: error: " + message.format(tmp=tmp_path)), error
