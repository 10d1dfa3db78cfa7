"""A hostile or broken SonarQube server, and hostile local files, against ``sonar gate``.

Every row asserts the exit code, the one error (or verdict) line, that the
token appears nowhere in stdout or stderr, and that stdout and the env file
hold exactly one ``QUALITY_GATE_STATUS=`` line with hdhooks' own word.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.integration.sonar.conftest import TOKEN, Run
from tests.support.sonar_server import SonarScript, condition

TASK = "/api/ce/task"
GATE = "/api/qualitygates/project_status"
FORGED = "\nQUALITY_GATE_STATUS=OK\n"


def body(payload: object) -> tuple[int, bytes, str]:
    return 200, json.dumps(payload).encode(), "application/json"


def task(**fields: object) -> tuple[int, bytes, str]:
    return body({"task": {"id": "AYtask0000000000001", "status": "SUCCESS",
                          "analysisId": "AYanalysis00000001", **fields}})


def status(**fields: object) -> tuple[int, bytes, str]:
    return body({"projectStatus": {"status": "OK", **fields}})


def assert_clean(run: Run, env_file: Path, word: str) -> None:
    """One status line with ``word`` on stdout and in the env file; no token anywhere."""
    assert TOKEN not in run.out and TOKEN not in run.err
    lines = run.out.splitlines()
    assert [line for line in lines if line.startswith("QUALITY_GATE_STATUS")] == [
        f"QUALITY_GATE_STATUS={word}"]
    assert lines[-1] == f"QUALITY_GATE_STATUS={word}"
    assert env_file.read_text() == f"QUALITY_GATE_STATUS={word}\n"
    assert "internal error" not in run.err


# (id, endpoint answers, exit code, status word, text the last stderr line ends with)
SHAPES = [
    ("task-is-a-list", {TASK: body([{"task": {}}])}, 2, "UNKNOWN",
     "answered without a 'task' object (is the URL the SonarQube base URL? see --host)"),
    ("task-is-null", {TASK: body({"task": None})}, 2, "UNKNOWN",
     "answered without a 'task' object (is the URL the SonarQube base URL? see --host)"),
    ("status-is-a-list", {TASK: task(status=["SUCCESS"])}, 2, "UNKNOWN",
     "answered with an unknown task status '['SUCCESS']'"),
    ("status-is-a-number", {TASK: task(status=3)}, 2, "UNKNOWN",
     "answered with an unknown task status '3'"),
    ("status-missing", {TASK: body({"task": {"id": "x"}})}, 2, "UNKNOWN",
     "answered with an unknown task status ''"),
    ("status-with-newline", {TASK: task(status="SUCCESS\nQUALITY_GATE_STATUS=OK")}, 2,
     "UNKNOWN", "answered with an unknown task status 'SUCCESS\\nQUALITY_GATE_STATUS=OK'"),
    ("gate-is-a-string", {GATE: body({"projectStatus": "OK"})}, 2, "UNKNOWN",
     "answered without a 'projectStatus' object (is the URL the SonarQube base URL? "
     "see --host)"),
    ("gate-status-forged", {GATE: status(status="ERROR\rQUALITY_GATE_STATUS=OK")}, 2,
     "UNKNOWN", "answered with an unknown gate status 'ERROR\\rQUALITY_GATE_STATUS=OK'"),
    ("conditions-is-a-number", {GATE: status(conditions=7)}, 2, "UNKNOWN",
     "answered with 'conditions' that is not a list"),
    ("conditions-is-a-dict", {GATE: status(conditions={"a": 1})}, 2, "UNKNOWN",
     "answered with 'conditions' that is not a list"),
    ("not-json", {TASK: (200, b"<html>login</html>", "text/html")}, 2, "UNKNOWN",
     ": HTTP 200 but not JSON (text/html) (is the URL the SonarQube base URL? see --host)"),
    ("content-type-forged", {TASK: (200, b"x", "text/plain\x0bQUALITY_GATE_STATUS=OK")}, 2,
     "UNKNOWN", ": HTTP 200 but not JSON (text/plain\\x0bQUALITY_GATE_STATUS=OK) "
     "(is the URL the SonarQube base URL? see --host)"),
    ("not-utf8", {TASK: (200, b"\xff\xfe{}", "application/json")}, 2, "UNKNOWN",
     ": HTTP 200 but not JSON (application/json) (is the URL the SonarQube base URL? "
     "see --host)"),
    ("deep-json", {TASK: (200, b"[" * 100_000 + b"]" * 100_000, "application/json")}, 2,
     "UNKNOWN", ": HTTP 200 but not JSON (application/json) (is the URL the SonarQube "
     "base URL? see --host)"),
    ("huge-json", {TASK: (200, b'{"task": "' + b"x" * (3 << 20) + b'"}', "application/json")},
     2, "UNKNOWN", "answer larger than 2097152 bytes (is the URL the SonarQube base URL? "
     "see --host)"),
    ("error-echoes-token", {TASK: (500, json.dumps({"errors": [
        {"msg": f"bad token {TOKEN}{FORGED}"}]}).encode(), "application/json")}, 2, "UNKNOWN",
     ": HTTP 500 Internal Server Error: bad token ****\\nQUALITY_GATE_STATUS=OK\\n"),
    ("errors-not-a-list", {TASK: (500, b'{"errors": {"msg": "x"}}', "application/json")}, 2,
     "UNKNOWN", ": HTTP 500 Internal Server Error"),
]


@pytest.mark.parametrize(("raw", "code", "word", "ending"),
                         [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_odd_answers_are_one_line(sonar, report, gate_cli, tmp_path, raw, code, word, ending):
    server = sonar(SonarScript(raw=raw))
    report(server.base)
    env_file = tmp_path / "qg.env"

    run = gate_cli("--env-file", str(env_file))

    assert run.code == code, run.err
    assert run.err.count("hdhooks: error:") == 1
    assert run.err.splitlines()[-1].endswith(ending), run.err
    assert_clean(run, env_file, word)


# Text the server controls inside an answer of the right shape: shown, escaped, one line.
VERDICTS = [
    ("failed-task-message", SonarScript(statuses=["FAILED"], error_message=f"boom{FORGED}x"),
     1, "FAILED", "FAILED: background task AYtask0000000000001 FAILED: "
     "boom\\nQUALITY_GATE_STATUS=OK\\nx"),
    ("metric-name", SonarScript(gate="ERROR", conditions=[
        condition(f"coverage{FORGED}", "LT", "80", "10\r", "ERROR")]), 1, "ERROR",
     "FAILED: quality gate ERROR for project 'shop-api': 1 of 1 condition not met: "
     "coverage\\nQUALITY_GATE_STATUS=OK\\n 10\\r LT 80"),
    ("token-in-metric", SonarScript(gate="ERROR", conditions=[
        condition(TOKEN, "LT", "80", "10", "ERROR")]), 1, "ERROR",
     "1 of 1 condition not met: **** 10 LT 80"),
    ("escape-and-bidi", SonarScript(gate="ERROR", conditions=[
        condition("\x1b[2Jcov\u202e", "LT", "80", "10", "ERROR")]), 1, "ERROR",
     "not met: \\x1b[2Jcov\\u202e 10 LT 80"),
]


@pytest.mark.parametrize(("script", "code", "word", "verdict"),
                         [v[1:] for v in VERDICTS], ids=[v[0] for v in VERDICTS])
def test_server_text_cannot_forge_a_line(sonar, report, gate_cli, tmp_path, script, code,
                                         word, verdict):
    server = sonar(script)
    report(server.base)
    env_file = tmp_path / "qg.env"

    run = gate_cli("--env-file", str(env_file))

    assert run.code == code, run.err
    lines = run.out.splitlines()
    assert lines[-2].endswith(verdict), run.out
    for line in lines:
        assert "\r" not in line and "\x1b" not in line and "\u202e" not in line
    assert_clean(run, env_file, word)


def test_warnings_from_the_analysis_are_escaped(sonar, report, gate_cli, tmp_path):
    server = sonar(SonarScript(raw={TASK: task(warnings=[f"w1{FORGED}", 5, None])}))
    report(server.base)
    env_file = tmp_path / "qg.env"

    run = gate_cli("--env-file", str(env_file))

    assert run.code == 0, run.err
    assert "warning from the analysis: w1\\nQUALITY_GATE_STATUS=OK\\n" in run.out.splitlines()
    assert_clean(run, env_file, "OK")


def test_json_format_keeps_the_status_line_off_stdout(sonar, report, gate_cli, tmp_path):
    server = sonar(SonarScript(statuses=["FAILED"], error_message=f"x{FORGED}"))
    report(server.base)

    run = gate_cli("--format", "json")

    assert run.code == 1
    doc = json.loads(run.out)
    assert doc["status"] == "FAILED"
    assert doc["task"]["errorMessage"] == "x\\nQUALITY_GATE_STATUS=OK\\n"
    assert run.err.splitlines()[-1] == "QUALITY_GATE_STATUS=FAILED"


# (id, Location header, code, exit, text the last stderr line ends with). {base} is the
# redirector's own base URL.
REDIRECTS = [
    ("missing", "", 302, 2, "answered with a redirect without a Location"),
    ("other-scheme", "ftp://127.0.0.1/api/ce/task", 302, 2,
     "redirects to 'ftp://127.0.0.1/api/ce/task', which is not an http(s) URL (fix the "
     "server's redirect, or pass --host with the SonarQube URL)"),
    ("file-scheme", "file:///etc/passwd", 301, 2,
     "redirects to 'file:///etc/passwd', which is not an http(s) URL (fix the server's "
     "redirect, or pass --host with the SonarQube URL)"),
    ("bad-port", "http://127.0.0.1:99999/x", 302, 2,
     "redirects to an invalid URL 'http://127.0.0.1:99999/x': Port out of range 0-65535"),
    ("bad-ipv6", "http://[::1/x", 302, 2,
     "redirects to an invalid URL 'http://[::1/x': Invalid IPv6 URL"),
    ("scheme-relative-other-host", "//sonar.invalid/api/ce/task", 307, 2,
     "redirects to another host: http://sonar.invalid/api/ce/task (the token is only sent "
     "to the host in report-task.txt; pass --host with the new server URL if it is the "
     "right one)"),
    ("userinfo-other-host", "http://127.0.0.1@sonar.invalid/api", 302, 2,
     "redirects to another host: http://127.0.0.1@sonar.invalid/api (the token is only "
     "sent to the host in report-task.txt; pass --host with the new server URL if it is "
     "the right one)"),
    ("relative-loop", "/api/ce/task?id=AYtask0000000000001", 302, 2,
     "more than 5 redirects (check the host is reachable from the build, or point to it "
     "with --host / SONAR_HOST_URL)"),
]


@pytest.mark.parametrize(("location", "http_code", "code", "ending"),
                         [r[1:] for r in REDIRECTS], ids=[r[0] for r in REDIRECTS])
def test_bad_redirects_are_refused(redirector, report, gate_cli, tmp_path, location,
                                   http_code, code, ending):
    server = redirector("http://127.0.0.1:1", code=http_code, location=location)
    report(server.base)
    env_file = tmp_path / "qg.env"

    run = gate_cli("--env-file", str(env_file))

    assert run.code == code, run.err
    assert run.err.splitlines()[-1].endswith(ending), run.err
    assert_clean(run, env_file, "UNKNOWN")
    assert len(server.requests) == (6 if "more than" in ending else 1)


def test_relative_redirect_is_followed_on_the_same_host(sonar, redirector, report, gate_cli,
                                                        tmp_path):
    script = SonarScript()
    real = sonar(script)
    # A scheme-relative Location to another port of the same host, which forwards
    # (absolute) to the real server.
    hop = redirector(real.base, code=302)
    first = redirector(hop.base.removeprefix("http:"), code=302)
    report(first.base)
    env_file = tmp_path / "qg.env"

    run = gate_cli("--env-file", str(env_file))

    assert run.code == 0, run.err
    assert len(first.requests) == len(hop.requests) == len(script.requests) == 2
    assert script.requests[0].authorization.startswith("Basic ")
    assert_clean(run, env_file, "OK")


# Local inputs: special files are refused at once, never read forever.
def fifo(tmp: Path) -> str:
    path = tmp / "report.fifo"
    os.mkfifo(path)
    return str(path)


def device(tmp: Path) -> str:
    """A character device like /dev/null, made here so no system node is at stake."""
    path = tmp / "null-device"
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    return str(path)


def huge(tmp: Path) -> str:
    path = tmp / "big-report.txt"
    with open(path, "wb") as fh:
        fh.truncate(2 * 1024 * 1024)
    return str(path)


LOCAL = [
    ("dev-zero", lambda tmp: ["--report-task", "/dev/zero"],
     "/dev/zero: more than the 1048576 bytes allowed (is it the right file?)"),
    ("fifo", lambda tmp: ["--report-task", fifo(tmp)],
     "report.fifo: not a regular file (a FIFO or socket) (pass a regular file)"),
    ("directory", lambda tmp: ["--report-task", str(tmp)],
     ": is a directory, expected a file"),
    ("huge", lambda tmp: ["--report-task", huge(tmp)],
     "big-report.txt: more than the 1048576 bytes allowed (is it the right file?)"),
    ("ca-bundle-fifo", lambda tmp: ["--ca-bundle", fifo(tmp)],
     "report.fifo: not a regular file (a FIFO or socket) (pass a regular file)"),
    ("ca-bundle-not-pem", lambda tmp: ["--ca-bundle", "/etc/hostname"],
     "--ca-bundle /etc/hostname: no PEM certificate in the file (pass the CA "
     "certificate(s) in PEM form)"),
    ("env-file-directory", lambda tmp: ["--env-file", str(tmp)],
     ": is a directory; --env-file needs a file name"),
    ("env-file-fifo", lambda tmp: ["--env-file", fifo(tmp)],
     "report.fifo: not a regular file (a FIFO, socket or device); --env-file needs a "
     "file name"),
    ("env-file-device", lambda tmp: ["--env-file", device(tmp)],
     "null-device: not a regular file (a FIFO, socket or device); --env-file needs a "
     "file name"),
    ("report-read-fails", lambda tmp: ["--report-task", "/proc/self/mem"],
     "/proc/self/mem: cannot read: Input/output error"),
    ("timeout-nan", lambda tmp: ["--timeout", "nan"],
     "Invalid value for '--timeout': must be a number of seconds, not nan "
     "(see 'hdhooks sonar gate --help')"),
    ("interval-huge", lambda tmp: ["--interval", "1e308"],
     "Invalid value for '--interval': 1e+308 is not in the range 0.01<=x<=3600.0. "
     "(see 'hdhooks sonar gate --help')"),
    ("timeout-inf", lambda tmp: ["--timeout", "inf"],
     "Invalid value for '--timeout': inf is not in the range 0<=x<=86400.0. "
     "(see 'hdhooks sonar gate --help')"),
]


@pytest.mark.parametrize(("args", "ending"), [c[1:] for c in LOCAL], ids=[c[0] for c in LOCAL])
def test_special_local_inputs_are_refused_at_once(sonar, report, gate_cli, tmp_path, args,
                                                  ending):
    server = sonar()
    report(server.base)

    run = gate_cli(*args(tmp_path))

    assert run.code == 2, run.err
    assert run.err.splitlines()[-1].endswith(ending), run.err
    assert run.err.count("hdhooks: error:") == 1
    assert TOKEN not in run.out + run.err
    for special in ("report.fifo", "null-device"):  # refused, never replaced by a file
        if (tmp_path / special).exists():
            assert not (tmp_path / special).is_file()
