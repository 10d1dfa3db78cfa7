"""API calls are counted per operation; errors that cannot succeed are not retried."""

from __future__ import annotations

from typing import Any

import pytest

from hdhooks.aws import session
from hdhooks.aws.session import AwsCallFailed, aws_call


@pytest.fixture
def counted(alb_emulator: Any, traffic_env: dict[str, str],
            monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in traffic_env.items():
        monkeypatch.setenv(name, value)
    session.CALLS.clear()
    session.THROTTLED.clear()
    return alb_emulator


def test_throttled_attempts_are_retried_and_counted(counted: Any) -> None:
    counted.fail("DescribeTargetGroups", "Throttling", times=2)
    elb = session.client("elbv2")
    with aws_call("elbv2", "DescribeTargetGroups"):
        elb.describe_target_groups()
    assert session.CALLS["elbv2:DescribeTargetGroups"] == 3
    assert session.THROTTLED["elbv2:DescribeTargetGroups"] == 2


@pytest.mark.parametrize("code", ["AccessDenied", "ValidationError"])
def test_errors_that_cannot_succeed_are_sent_once(counted: Any, code: str) -> None:
    counted.fail("DescribeTargetGroups", code)
    since = counted.calls()[-1].time if counted.calls() else 0.0
    with pytest.raises(AwsCallFailed) as exc, aws_call("elbv2", "DescribeTargetGroups"):
        session.client("elbv2").describe_target_groups()
    assert session.CALLS["elbv2:DescribeTargetGroups"] == 1
    assert len(counted.calls("DescribeTargetGroups", since=since)) == 1
    if code == "AccessDenied":
        assert "elasticloadbalancing:DescribeTargetGroups" in exc.value.one_line()
