"""The doctor's pure judgements, as tables: recorded inputs, expected verdicts."""

from __future__ import annotations

import os
import stat

import pytest

from hdhooks.doctor.cloud import metadata_verdict
from hdhooks.doctor.deploys import role_arn, traffic_verdict
from hdhooks.doctor.files import dir_problem, disk_verdict
from hdhooks.doctor.host import agent_verdict, parse_agent_version, python_verdict
from hdhooks.doctor.model import Finding
from hdhooks.doctor.network import skew_verdict
from hdhooks.doctor.run import summary, table

GiB = 1024 ** 3


@pytest.mark.parametrize(("text", "version"), [
    ("OFFICIAL_1.7.1-110_rpm\n", (1, 7, 1)),
    ("OFFICIAL_1.6.0-49_deb", (1, 6, 0)),
    ("1.2", (1, 2)),
    ("", None),
    ("unknown", None),
])
def test_agent_version_file(text: str, version: tuple[int, ...] | None) -> None:
    assert parse_agent_version(text) == version


@pytest.mark.parametrize(("version", "al2023", "status", "fix"), [
    ((1, 7, 1), True, "ok", ""),
    ((1, 6, 0), True, "ok", ""),
    ((1, 5, 9), True, "fail", "1.6 or newer"),
    ((1, 5, 9), False, "ok", ""),
    ((1, 1, 2), False, "fail", "cannot use IMDSv2"),
    ((1, 1, 2), True, "fail", "cannot use IMDSv2"),
])
def test_agent_verdict(version: tuple[int, ...], al2023: bool, status: str, fix: str) -> None:
    got_status, got_fix = agent_verdict(version, al2023)
    assert got_status == status and fix in got_fix


@pytest.mark.parametrize(("version", "status"), [((3, 9, 18), "fail"), ((3, 10, 0), "ok"),
                                                 ((3, 11, 7), "ok"), ((3, 13, 0), "ok")])
def test_python_verdict(version: tuple[int, ...], status: str) -> None:
    found = python_verdict(version, "/x/python")
    assert found.status == status
    assert (found.fix != "") == (status == "fail")


@pytest.mark.parametrize(("skew", "status"), [(0.0, "ok"), (-29.0, "ok"), (45.0, "warn"),
                                              (-299.0, "warn"), (300.0, "fail"),
                                              (-3600.0, "fail")])
def test_clock_skew(skew: float, status: str) -> None:
    got, fix = skew_verdict(skew)
    assert got == status
    assert ("chronyd" in fix) == (status != "ok")


@pytest.mark.parametrize(("free", "status"), [(10 * GiB, "ok"), (GiB, "ok"),
                                              (GiB - 1, "warn"), (100 * 1024 ** 2, "fail")])
def test_disk(free: int, status: str) -> None:
    assert disk_verdict(free) == status


@pytest.mark.parametrize(("options", "status", "fix"), [
    ({"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"},
     "ok", ""),
    ({"HttpTokens": "required", "HttpPutResponseHopLimit": 1}, "ok", ""),
    ({"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}, "warn", "--http-tokens required"),
    ({"HttpEndpoint": "disabled"}, "fail", "--http-endpoint enabled"),
    ({}, "warn", "--http-tokens required"),
])
def test_metadata_options(options: dict[str, object], status: str, fix: str) -> None:
    found = metadata_verdict("i-0abc", options)
    assert found.status == status and fix in found.fix
    if status != "ok":
        assert "i-0abc" in found.fix


@pytest.mark.parametrize(("arn", "role"), [
    ("arn:aws:sts::123456789012:assumed-role/web-prod/i-0abc",
     "arn:aws:iam::123456789012:role/web-prod"),
    ("arn:aws-cn:sts::1:assumed-role/r/s", "arn:aws-cn:iam::1:role/r"),
    ("arn:aws:iam::123456789012:user/moto", "arn:aws:iam::123456789012:user/moto"),
    ("", ""),
])
def test_role_arn(arn: str, role: str) -> None:
    assert role_arn(arn) == role


@pytest.mark.parametrize(("group", "status"), [
    ({"deploymentGroupName": "g", "deploymentStyle": {"deploymentOption":
     "WITH_TRAFFIC_CONTROL"}, "loadBalancerInfo": {"targetGroupInfoList": [{"name": "t"}]}},
     "fail"),
    ({"deploymentGroupName": "g", "deploymentStyle": {"deploymentOption":
     "WITHOUT_TRAFFIC_CONTROL"}, "loadBalancerInfo": {"targetGroupInfoList": [{"name": "t"}]}},
     "ok"),
    ({"deploymentGroupName": "g", "deploymentStyle": {"deploymentOption":
     "WITH_TRAFFIC_CONTROL"}}, "ok"),
    ({}, "ok"),
])
def test_traffic_control(group: dict[str, object], status: str) -> None:
    assert traffic_verdict("traffic api", group).status == status


def _stat(mode: int, uid: int = 0) -> os.stat_result:
    return os.stat_result((mode, 0, 0, 1, uid, 0, 0, 0, 0, 0))


@pytest.mark.parametrize(("st", "problem"), [
    (None, "is missing"),
    (_stat(stat.S_IFLNK | 0o777), "symbolic link"),
    (_stat(stat.S_IFREG | 0o644), "not a directory"),
    (_stat(stat.S_IFDIR | 0o755, uid=1000), "owned by uid 1000"),
    (_stat(stat.S_IFDIR | 0o775), "group or others may write"),
    (_stat(stat.S_IFDIR | 0o757), "group or others may write"),
    (_stat(stat.S_IFDIR | 0o700), "expected 0755"),
    (_stat(stat.S_IFDIR | 0o755), None),
])
def test_state_directory(st: os.stat_result | None, problem: str | None) -> None:
    got = dir_problem(st, 0o755)
    assert got == problem if problem is None else problem in (got or "")


def test_table_puts_each_fix_under_its_line() -> None:
    findings = [Finding("python", "ok", "Python 3.11.7"),
                Finding("codedeploy agent", "fail", "not installed", "install it")]
    lines = table(findings)
    assert lines[0].startswith("OK    python ")
    assert lines[1].startswith("FAIL  codedeploy agent  not installed")
    assert lines[2].strip() == "fix: install it"
    assert summary(findings) == "doctor: FAILED (1 ok, 1 fail)"
    assert summary([]) == "doctor: OK (nothing checked)"
