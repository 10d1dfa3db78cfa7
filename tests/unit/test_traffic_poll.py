"""Poll schedules, deadlines and health verdicts as tables (pure, no AWS)."""

from __future__ import annotations

import random

import pytest

from hdhooks.aws import poll
from hdhooks.aws.discovery import Discovery, Group, safe_name
from hdhooks.aws.poll import TargetState
from hdhooks.metrics import emf_line, metric_data


@pytest.mark.parametrize(("elapsed", "concurrency", "groups", "expected"), [
    (0, 1, 1, 5.0), (29.9, 1, 1, 5.0), (30, 1, 1, 10.0), (300, 1, 1, 10.0),
    (0, 26, 1, 5.2), (0, 100, 2, 40.0), (45, 26, 1, 10.0),
])
def test_drain_interval(elapsed: float, concurrency: int, groups: int,
                        expected: float) -> None:
    assert poll.drain_interval(elapsed, fleet_concurrency=concurrency,
                               groups=groups) == pytest.approx(expected)


def test_a_drain_shorter_than_the_interval_gets_one_poll_just_after_it() -> None:
    assert poll.drain_interval(0.2, expected=1) == pytest.approx(1.3)
    assert poll.drain_interval(0.9, expected=1) == 1.0  # never closer than 1 s
    assert poll.drain_interval(2.0, expected=1) == 5.0  # past it: the regular schedule
    assert poll.drain_interval(0, expected=300) == 5.0


@pytest.mark.parametrize(("interval", "concurrency", "expected"), [
    (2, 1, 2.0), (5, 1, 2.5), (30, 1, 15.0), (2, 26, 5.2), (30, 26, 15.0),
])
def test_healthy_interval(interval: int, concurrency: int, expected: float) -> None:
    assert poll.healthy_interval(interval, fleet_concurrency=concurrency) == \
        pytest.approx(expected)


def test_jitter_stays_within_twenty_percent() -> None:
    rng = random.Random(7)
    values = [poll.jittered(10, rng) for _ in range(500)]
    assert min(values) >= 8 and max(values) <= 12
    assert max(values) - min(values) > 2  # it does spread


def test_deadlines() -> None:
    assert poll.drain_deadline([300, 30]) == 360
    assert poll.drain_deadline([], None) == 360
    assert poll.drain_deadline([300], 90) == 90
    # 60 + (HealthyThreshold + 1) x (interval + timeout), slowest group wins
    assert poll.healthy_deadline([(30, 5, 5), (10, 5, 2)]) == 60 + 6 * 35
    assert poll.healthy_deadline([(2, 1, 2)]) == 69


def test_parse_target_health_picks_this_instance() -> None:
    answer = {"TargetHealthDescriptions": [
        {"Target": {"Id": "i-other", "Port": 80}, "TargetHealth": {"State": "healthy"}},
        {"Target": {"Id": "i-0abc", "Port": 80},
         "TargetHealth": {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                          "Description": "Health checks failed with these codes: [502]"}},
    ]}
    state = poll.parse_target_health(answer, "api-prod", "arn:tg", "i-0abc")
    assert state.line("i-0abc") == ("tg/api-prod i-0abc unhealthy Target.ResponseCodeMismatch "
                                    "(Health checks failed with these codes: [502])")
    missing = poll.parse_target_health({"TargetHealthDescriptions": []}, "g", "a", "i-0abc")
    assert missing.state == "unused" and poll.is_drained(missing)
    assert not poll.is_drained(TargetState("g", "a", "unhealthy.draining"))
    assert not poll.is_drained(TargetState("g", "a", "draining"))


def _s(state: str, reason: str = "", arn: str = "a") -> TargetState:
    return TargetState("g", arn, state, reason)


def test_verdict_healthy_initial_and_unavailable() -> None:
    streak: dict[str, int] = {}
    assert poll.healthy_verdict([_s("healthy")], streak, {}).done
    assert not poll.healthy_verdict([_s("initial", "Elb.InitialHealthChecking")], streak,
                                    {}).done
    v = poll.healthy_verdict([_s("unavailable", "Target.HealthCheckDisabled")], streak, {})
    assert v.done and v.warnings and "counted as healthy" in v.warnings[0]


def test_verdict_fails_fast_on_configuration_reasons() -> None:
    v = poll.healthy_verdict([_s("unused", "Target.NotInUse")], {}, {}, "i-1")
    assert v.failed == "tg/g i-1 unused Target.NotInUse" and v.config_error


def test_verdict_fails_after_unhealthy_threshold_consecutive_polls() -> None:
    streak: dict[str, int] = {}
    bad = [_s("unhealthy", "Target.Timeout")]
    assert not poll.healthy_verdict(bad, streak, {"a": 3}).failed
    assert not poll.healthy_verdict(bad, streak, {"a": 3}).failed
    assert poll.healthy_verdict(bad, streak, {"a": 3}).failed.endswith("Target.Timeout")
    # a pass in between resets the count; Elb.* reasons never count
    streak = {}
    poll.healthy_verdict(bad, streak, {"a": 2})
    poll.healthy_verdict([_s("initial")], streak, {"a": 2})
    assert not poll.healthy_verdict(bad, streak, {"a": 2}).failed
    assert not poll.healthy_verdict([_s("unhealthy", "Elb.InternalError")] * 1, {}, {"a": 1}
                                    ).failed


def test_discovery_round_trips_and_names_are_safe() -> None:
    d = Discovery("i-1", "eu-west-1", asg="a", groups=(Group("arn:1", "g", 80, in_asg=True),))
    assert Discovery.from_json(d.to_json()) == d
    assert d.asg_groups and not d.other_groups
    assert safe_name("d-ABC123") == "d-ABC123"
    for hostile in ("../../etc", "a/b", "", "x" * 100, "d-\n1"):
        name = safe_name(hostile)
        assert "/" not in name and ".." not in name and name and len(name) <= 64


def test_emf_line_carries_traffic_figures_and_put_metric_data_matches() -> None:
    line = emf_line(component="api", event="ValidateService", duration_s=1.5,
                    result="Succeeded", now=0,
                    figures={"HealthyWaitSeconds": 4.2, "ApiCalls": 7},
                    properties={"ApiCallsByOperation": {"elbv2:DescribeTargetHealth": 5}})
    assert '"HealthyWaitSeconds":4.2' in line and '"ApiCalls":7' in line
    assert '{"Name":"HealthyWaitSeconds","Unit":"Seconds"}' in line
    assert '"ApiCallsByOperation":{"elbv2:DescribeTargetHealth":5}' in line
    data = metric_data("api", "ValidateService", "Failed", 1.5, {"DrainSeconds": 3.0})
    names = {d["MetricName"]: d for d in data}
    assert names["Failed"]["Value"] == 1.0 and names["DrainSeconds"]["Unit"] == "Seconds"
