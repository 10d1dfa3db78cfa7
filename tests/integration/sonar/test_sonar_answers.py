"""The Web API's JSON shapes, the verdict, the table, redirects: pure functions."""

from __future__ import annotations

import pytest

from hdhooks.build.sonar.client import failure_reason, redirect_target
from hdhooks.build.sonar.gate import (
    CeTask,
    Condition,
    GatePolicy,
    GateResult,
    ProjectStatus,
    ReportTask,
    SonarResponseError,
    error_messages,
    judge,
    parse_project_status,
    parse_task_json,
)
from hdhooks.build.sonar.table import condition_table, text_lines, to_json, write_status_file
from hdhooks.errors import InputError

REPORT = ReportTask("r.txt", "shop-api", "https://s", "T1", "https://s/api/ce/task?id=T1")
COVERAGE = Condition("new_coverage", "LT", "80", "75.0", "ERROR")
BUGS = Condition("new_bugs", "GT", "0", "0", "OK")


def test_task_answers():
    done = {"task": {"id": "T1", "type": "REPORT", "componentKey": "shop-api",
                     "status": "SUCCESS", "analysisId": "A1", "warnings": ["old scanner"]}}
    assert parse_task_json(done, "u") == CeTask("T1", "SUCCESS", "A1", "", "shop-api",
                                                ("old scanner",))
    failed = {"task": {"id": "T1", "status": "FAILED", "errorMessage": "boom"}}
    assert parse_task_json(failed, "u").error_message == "boom"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "u answered without a 'task' object"),
        ([], "u answered without a 'task' object"),
        ({"task": {"status": "DONE"}}, "u answered with an unknown task status 'DONE'"),
    ],
)
def test_task_answers_of_the_wrong_shape(data, message):
    with pytest.raises(SonarResponseError) as err:
        parse_task_json(data, "u")
    assert str(err.value).startswith(message)


def test_project_status_answers():
    data = {"projectStatus": {"status": "ERROR", "ignoredConditions": True, "conditions": [
        {"status": "ERROR", "metricKey": "new_coverage", "comparator": "LT",
         "errorThreshold": "80", "actualValue": "75.0"},
        {"status": "OK", "metricKey": "reliability_rating", "comparator": "GT",
         "warningThreshold": "1", "actualValue": "1"},
    ]}}
    status = parse_project_status(data, "u")
    assert status.status == "ERROR"
    assert status.ignored_conditions is True
    assert status.conditions == (COVERAGE, Condition("reliability_rating", "GT", "1", "1", "OK"))
    with pytest.raises(SonarResponseError, match="unknown gate status 'RED'"):
        parse_project_status({"projectStatus": {"status": "RED"}}, "u")
    with pytest.raises(SonarResponseError, match="without a 'projectStatus'"):
        parse_project_status({"errors": []}, "u")


def test_error_messages():
    assert error_messages({"errors": [{"msg": "a"}, {"msg": "b"}]}) == "a; b"
    assert error_messages(None) == ""


@pytest.mark.parametrize(
    ("status", "conditions", "policy", "passed", "verdict"),
    [
        ("OK", (BUGS,), GatePolicy(), True,
         "PASSED: quality gate OK for project 'shop-api' (1 condition met)"),
        ("ERROR", (COVERAGE, BUGS), GatePolicy(allow_warn=True, allow_none=True), False,
         "FAILED: quality gate ERROR for project 'shop-api': 1 of 2 conditions not met: "
         "new_coverage 75.0 LT 80"),
        ("WARN", (Condition("dups", "GT", "3", "4", "WARN"),), GatePolicy(), False,
         "FAILED: quality gate WARN for project 'shop-api': 1 of 1 condition not met: "
         "dups 4 GT 3; pass --allow-warn to accept WARN"),
        ("WARN", (), GatePolicy(allow_warn=True), True,
         "PASSED: quality gate WARN for project 'shop-api' (0 of 0 conditions not met; "
         "allowed by --allow-warn)"),
        ("NONE", (), GatePolicy(), False,
         "FAILED: no quality gate is attached to project 'shop-api' (status NONE); "
         "attach one in SonarQube or pass --allow-none"),
        ("NONE", (), GatePolicy(allow_none=True), True,
         "PASSED: no quality gate on project 'shop-api' (NONE, allowed by --allow-none)"),
    ],
)
def test_verdicts(status, conditions, policy, passed, verdict):
    assert judge(REPORT, ProjectStatus(status, conditions), policy) == (passed, verdict)


def test_table_and_text_and_json():
    assert condition_table((COVERAGE, BUGS)) == [
        "METRIC        COMPARATOR  THRESHOLD  ACTUAL  STATUS",
        "new_coverage  LT          80         75.0    ERROR",
        "new_bugs      GT          0          0       OK",
    ]
    task = CeTask("T1", "SUCCESS", "A1")
    result = GateResult("ERROR", False, "FAILED: x", REPORT, task,
                        ProjectStatus("ERROR", (COVERAGE,)))
    lines = text_lines(result)
    assert lines[0] == "SonarQube quality gate: project shop-api (task T1, analysis A1)"
    assert lines[-1] == "FAILED: x"
    data = to_json(result)
    assert (data["status"], data["passed"], data["exitCode"]) == ("ERROR", False, 1)
    assert data["conditions"][0]["metric"] == "new_coverage"


@pytest.mark.parametrize(
    ("current", "location", "target"),
    [
        ("http://h:9000/api/ce/task?id=1", "https://h/api/ce/task?id=1",
         "https://h/api/ce/task?id=1"),
        ("http://h/api/x", "/sonarqube/api/x", "http://h/sonarqube/api/x"),
        ("http://H:9000/a", "https://h:8443/a", "https://h:8443/a"),
    ],
)
def test_redirects_that_keep_the_token(current, location, target):
    assert redirect_target(current, location, current) == target


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("https://other/a", "redirects to another host: https://other/a"),
        ("http://h/a", "redirects from https down to http://h/a"),
        ("", "redirect without a Location"),
    ],
)
def test_redirects_that_stop(location, message):
    with pytest.raises(InputError, match=message):
        redirect_target("https://h/a", location, "https://h/a")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("HTTPSConnectionPool(host='127.0.0.1', port=1): Max retries exceeded (Caused by "
         "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate "
         "verify failed: self-signed certificate in certificate chain (_ssl.c:1006)')))",
         "TLS certificate verification failed (self-signed certificate in certificate chain)"),
        ("Caused by NameResolutionError(\"Failed to resolve 'sonar.invalid'\")",
         "the host name does not resolve (DNS)"),
        ("NewConnectionError: [Errno 111] Connection refused", "connection refused"),
        ("Read timed out. (read timeout=30)", "no answer within 30 s"),
    ],
)
def test_failure_reasons(text, reason):
    assert failure_reason(Exception(text)) == reason


def test_status_file_is_written_whole(tmp_path):
    path = tmp_path / "qg.env"
    write_status_file(str(path), "OK")
    write_status_file(str(path), "ERROR")
    assert path.read_text() == "QUALITY_GATE_STATUS=ERROR\n"
    assert [p.name for p in tmp_path.iterdir()] == ["qg.env"]
    with pytest.raises(InputError, match="cannot write the env file"):
        write_status_file(str(tmp_path / "missing" / "qg.env"), "OK")


def test_condition_without_a_measure_is_shown_as_such():
    # SonarQube omits actualValue when there is nothing to measure yet (no new code).
    hotspots = Condition("new_security_hotspots_reviewed", "LT", "100", "", "ERROR")
    assert condition_table((hotspots,))[1].split() == [
        "new_security_hotspots_reviewed", "LT", "100", "-", "ERROR"]
    passed, verdict = judge(REPORT, ProjectStatus("ERROR", (hotspots,)), GatePolicy())
    assert not passed
    assert verdict.endswith("new_security_hotspots_reviewed (no value) LT 100")
