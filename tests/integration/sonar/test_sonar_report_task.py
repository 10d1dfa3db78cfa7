"""report-task.txt parsing, discovery and the host override: pure functions."""

from __future__ import annotations

import os
import time

import pytest

from hdhooks.build.sonar.gate import (
    ReportTask,
    effective_urls,
    find_report_task,
    normalise_host,
    override_base,
    parse_report_task,
    project_status_url,
    read_report_task,
)
from hdhooks.errors import InputError

MAVEN = """\
projectKey=com.example:shop-api
serverUrl=https://sonar.example.com
serverVersion=10.4.1.88267
dashboardUrl=https://sonar.example.com/dashboard?id=com.example%3Ashop-api
ceTaskId=AY8F3xbnC1V7bs0FZ2aW
ceTaskUrl=https://sonar.example.com/api/ce/task?id=AY8F3xbnC1V7bs0FZ2aW
"""


def test_parses_what_the_maven_plugin_writes():
    report = parse_report_task(MAVEN, "target/sonar/report-task.txt")
    assert report == ReportTask(
        file="target/sonar/report-task.txt",
        project_key="com.example:shop-api",
        server_url="https://sonar.example.com",
        ce_task_id="AY8F3xbnC1V7bs0FZ2aW",
        ce_task_url="https://sonar.example.com/api/ce/task?id=AY8F3xbnC1V7bs0FZ2aW",
        dashboard_url="https://sonar.example.com/dashboard?id=com.example%3Ashop-api",
        server_version="10.4.1.88267",
    )


def test_comments_blank_lines_escapes_and_derived_task_url():
    text = (
        "# written by a properties store\n\n"
        "organization=acme\nprojectKey=web\nserverUrl=https\\://h/sonarqube/\n"
        "ceTaskId=T1\nbranch=feature/x\n"
    )
    report = parse_report_task(text, "r.txt")
    assert report.server_url == "https://h/sonarqube"
    assert report.ce_task_url == "https://h/sonarqube/api/ce/task?id=T1"
    assert (report.organization, report.branch) == ("acme", "feature/x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "r.txt: missing key 'projectKey'"),
        (MAVEN.replace("ceTaskId=AY8F3xbnC1V7bs0FZ2aW\n", ""), "r.txt: missing key 'ceTaskId'"),
        (MAVEN.replace("serverUrl=https://sonar.example.com", "serverUrl="),
         "r.txt: missing key 'serverUrl'"),
        ("projectKey=a\n<html>\n", "r.txt:2:1: expected key=value, got '<html>'"),
        (MAVEN.replace("serverUrl=https://", "serverUrl=ftp://"),
         "r.txt:2:1: serverUrl 'ftp://sonar.example.com' is not an http(s) URL"),
        (MAVEN.replace("ceTaskUrl=https://", "ceTaskUrl="),
         "r.txt:6:1: ceTaskUrl 'sonar.example.com/api/ce/task?id=AY8F3xbnC1V7bs0FZ2aW' "
         "is not an http(s) URL"),
    ],
)
def test_malformed_report_names_file_and_key_or_line(text, message):
    with pytest.raises(InputError) as err:
        parse_report_task(text, "r.txt")
    assert err.value.one_line().startswith(message)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="report file not found"):
        read_report_task(str(tmp_path / "nope.txt"))


def test_discovery_names_the_places_and_prefers_the_newest(tmp_path):
    with pytest.raises(InputError) as err:
        find_report_task(str(tmp_path))
    assert "target/sonar/report-task.txt, .scannerwork/report-task.txt" in str(err.value)
    old = tmp_path / "target/sonar/report-task.txt"
    new = tmp_path / ".scannerwork/report-task.txt"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_text(MAVEN)
    past = time.time() - 600
    os.utime(old, (past, past))
    assert find_report_task(str(tmp_path)) == str(new)


def _report(server: str, task_url: str = "") -> ReportTask:
    return ReportTask("r", "p", server, "T1", task_url or f"{server}/api/ce/task?id=T1")


@pytest.mark.parametrize(
    ("server", "host", "base", "task"),
    [
        ("http://sonar.invalid:9000", "", "http://sonar.invalid:9000",
         "http://sonar.invalid:9000/api/ce/task?id=T1"),
        ("http://sonar.invalid:9000", "https://127.0.0.1:8443", "https://127.0.0.1:8443",
         "https://127.0.0.1:8443/api/ce/task?id=T1"),
        # no path in the override: the recorded context path stays
        ("https://old/sonarqube", "http://new:9000", "http://new:9000/sonarqube",
         "http://new:9000/sonarqube/api/ce/task?id=T1"),
        # a path in the override is the whole new base
        ("https://old/sonarqube", "http://new/sq", "http://new/sq",
         "http://new/sq/api/ce/task?id=T1"),
        ("https://old", "http://new/sq", "http://new/sq", "http://new/sq/api/ce/task?id=T1"),
    ],
)
def test_host_override(server, host, base, task):
    assert effective_urls(_report(server), host) == (base, task)


def test_task_url_not_under_server_url_is_rebuilt_with_an_override():
    report = _report("https://a", "https://b/api/ce/task?id=T1")
    assert effective_urls(report) == ("https://a", "https://b/api/ce/task?id=T1")
    assert effective_urls(report, "http://c") == ("http://c", "http://c/api/ce/task?id=T1")


def test_override_base_and_normalise_host():
    assert override_base("https://old:9000/x/", "http://new") == "http://new/x"
    assert normalise_host(" https://h/sonar/ ", "--host") == "https://h/sonar"
    with pytest.raises(InputError, match="SONAR_HOST_URL 'sonar:9000' is not an http"):
        normalise_host("sonar:9000", "SONAR_HOST_URL")


def test_project_status_url_by_analysis_or_by_project_and_branch():
    report = ReportTask("r", "com.x:app", "https://s", "T", "https://s/api/ce/task?id=T",
                        branch="feature/a b")
    assert project_status_url("https://s", report, "AY1") == (
        "https://s/api/qualitygates/project_status?analysisId=AY1"
    )
    assert project_status_url("https://s", report, "") == (
        "https://s/api/qualitygates/project_status?projectKey=com.x%3Aapp&branch=feature%2Fa%20b"
    )
