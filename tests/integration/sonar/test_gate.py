"""The gate's verdicts through the installed console script, against a local SonarQube."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.integration.sonar.conftest import HDHOOKS, TOKEN
from tests.support.sonar_server import ANALYSIS_ID, SonarScript, condition

COVERAGE_OK = condition("new_coverage", "LT", "80", "91.3", "OK")
COVERAGE_BAD = condition("new_coverage", "LT", "80", "75.0", "ERROR")
BUGS_OK = condition("new_bugs", "GT", "0", "0", "OK")
DUPS_WARN = condition("new_duplicated_lines_density", "GT", "3", "4.2", "WARN")


def test_waits_through_pending_and_in_progress_then_passes_on_ok(
    sonar, report, gate_cli, tmp_path
):
    script = SonarScript(
        statuses=["PENDING", "PENDING", "IN_PROGRESS", "SUCCESS"],
        conditions=[COVERAGE_OK, BUGS_OK],
    )
    server = sonar(script)
    report(server.base)
    env_file = tmp_path / "qg.env"

    run = gate_cli("--env-file", str(env_file))

    assert run.code == 0, run.err
    assert script.polls == 4
    for state in ("PENDING", "IN_PROGRESS", "SUCCESS"):
        assert f": {state}" in run.err
    lines = run.out.splitlines()
    assert lines[1].split() == ["METRIC", "COMPARATOR", "THRESHOLD", "ACTUAL", "STATUS"]
    assert lines[2].split() == ["new_coverage", "LT", "80", "91.3", "OK"]
    assert lines[-2].startswith("PASSED: quality gate OK for project 'shop-api'")
    assert lines[-1] == "QUALITY_GATE_STATUS=OK"
    assert env_file.read_text() == "QUALITY_GATE_STATUS=OK\n"
    # the analysis the task produced is the one whose gate was read
    assert script.requests[-1].path.endswith(f"analysisId={ANALYSIS_ID}")
    assert all(r.authorization.startswith("Basic ") for r in script.requests)
    assert all(r.user_agent.startswith("hdhooks/") for r in script.requests)


def test_error_fails_the_build_and_names_the_condition(sonar, report, gate_cli, tmp_path):
    server = sonar(SonarScript(gate="ERROR", conditions=[COVERAGE_BAD, BUGS_OK]))
    report(server.base)
    env_file = tmp_path / "qg.env"

    run = gate_cli("--env-file", str(env_file))

    assert run.code == 1
    assert "new_coverage  LT          80         75.0    ERROR" in run.out
    assert (
        "FAILED: quality gate ERROR for project 'shop-api': 1 of 2 conditions not met: "
        "new_coverage 75.0 LT 80" in run.out
    )
    assert run.out.splitlines()[-1] == "QUALITY_GATE_STATUS=ERROR"
    assert env_file.read_text() == "QUALITY_GATE_STATUS=ERROR\n"


@pytest.mark.parametrize(
    ("gate", "conditions", "allow", "code", "verdict"),
    [
        ("WARN", [DUPS_WARN], None, 1, "FAILED: quality gate WARN"),
        ("WARN", [DUPS_WARN], "--allow-warn", 0, "PASSED: quality gate WARN"),
        ("NONE", [], None, 1, "FAILED: no quality gate is attached"),
        ("NONE", [], "--allow-none", 0, "PASSED: no quality gate"),
        ("NONE", [], "--allow-warn", 1, "FAILED: no quality gate is attached"),
    ],
)
def test_warn_and_none_fail_unless_allowed(
    sonar, report, gate_cli, gate, conditions, allow, code, verdict
):
    server = sonar(SonarScript(gate=gate, conditions=conditions))
    report(server.base)

    run = gate_cli(*([allow] if allow else []))

    assert run.code == code, run.out + run.err
    assert verdict in run.out
    assert run.out.splitlines()[-1] == f"QUALITY_GATE_STATUS={gate}"


@pytest.mark.parametrize("state", ["FAILED", "CANCELED"])
def test_failed_or_cancelled_task_fails_and_is_not_no_gate(sonar, report, gate_cli, state):
    script = SonarScript(statuses=["IN_PROGRESS", state], error_message="Java heap space")
    server = sonar(script)
    report(server.base)

    run = gate_cli("--allow-none")

    assert run.code == 1
    reason = "Java heap space" if state == "FAILED" else "no errorMessage given"
    assert f"FAILED: background task AYtask0000000000001 {state}: {reason}" in run.out
    assert run.out.splitlines()[-1] == f"QUALITY_GATE_STATUS={state}"
    assert not any("project_status" in r.path for r in script.requests)


def test_timeout_fails_with_the_last_state(sonar, report, gate_cli, tmp_path):
    script = SonarScript(statuses=["IN_PROGRESS"])
    server = sonar(script)
    report(server.base)
    env_file = tmp_path / "qg.env"

    run = gate_cli("--timeout", "0.3", "--env-file", str(env_file))

    assert run.code == 1
    assert "still IN_PROGRESS after 0.3 s; raise --timeout" in run.out
    assert env_file.read_text() == "QUALITY_GATE_STATUS=TIMEOUT\n"
    assert script.polls >= 2


def test_json_format(sonar, report, gate_cli):
    server = sonar(SonarScript(gate="ERROR", conditions=[COVERAGE_BAD]))
    report(server.base)

    run = gate_cli("--format", "json")

    assert run.code == 1
    data = json.loads(run.out)
    assert data["status"] == "ERROR"
    assert data["passed"] is False
    assert data["exitCode"] == 1
    assert data["task"]["analysisId"] == ANALYSIS_ID
    assert data["conditions"] == [
        {"metric": "new_coverage", "comparator": "LT", "threshold": "80",
         "actual": "75.0", "status": "ERROR"}
    ]
    assert "QUALITY_GATE_STATUS=ERROR" in run.err


@pytest.mark.parametrize(
    "where",
    ["target/sonar/report-task.txt", ".scannerwork/report-task.txt",
     "build/sonar/report-task.txt"],
)
def test_finds_the_report_of_each_scanner_under_project_dir(sonar, report, gate_cli, where):
    server = sonar()
    report(server.base, where="app/" + where)

    run = gate_cli("--project-dir", "app")

    assert run.code == 0, run.err
    assert f"reading app/{where}" in run.err


@pytest.mark.parametrize("shell", ["sh", "bash"])
@pytest.mark.parametrize(("gate", "code"), [("OK", 0), ("ERROR", 1)])
def test_buildspec_line_exports_the_status_and_keeps_the_exit_code(
    sonar, report, tmp_path, shell, gate, code
):
    """The command line docs/sonar.md gives the buildspec, run by the shell."""
    server = sonar(SonarScript(gate=gate, conditions=[COVERAGE_BAD]))
    report(server.base)
    env_file = tmp_path / "quality-gate.env"
    line = (
        f"{HDHOOKS} sonar gate --interval 0.05 --env-file {env_file}; rc=$?; "
        f". {env_file}; export QUALITY_GATE_STATUS; (exit $rc)"
    )
    script = f'{line}\necho "rc=$? status=$(printenv QUALITY_GATE_STATUS)"\n'
    env = {**os.environ, "SONAR_TOKEN": TOKEN, "NO_PROXY": "*"}
    proc = subprocess.run(
        [shell, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert proc.stdout.splitlines()[-1] == f"rc={code} status={gate}"
