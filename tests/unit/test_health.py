"""Health evaluation and the polling loop (pure: scripted probes, a fake clock)."""

from __future__ import annotations

import json

import pytest

from hdhooks.instance.health import (
    HealthCheck,
    Probe,
    evaluate,
    json_field_value,
    wait_healthy,
)

URL = "http://127.0.0.1:8080/health"
UP = json.dumps({"status": "UP", "build_id": "b-7", "checks": [{"db": True}]})


@pytest.mark.parametrize(
    ("check", "status", "body", "reason"),
    [
        (HealthCheck(URL), 200, "", ""),
        (HealthCheck(URL), 503, "", "HTTP 503 (expected 200)"),
        (HealthCheck(URL, expect_status=(200, 204)), 500, "", "HTTP 500 (expected 200/204)"),
        (HealthCheck(URL, body_contains="UP"), 200, UP, ""),
        (HealthCheck(URL, body_contains="DOWN"), 200, UP, "body does not contain 'DOWN'"),
        (HealthCheck(URL, json_field="build_id", json_equals="b-7"), 200, UP, ""),
        (HealthCheck(URL, json_field="build_id", json_equals="b-8"), 200, UP,
         "build_id is 'b-7', expected 'b-8'"),
        (HealthCheck(URL, json_field="checks.0.db", json_equals="true"), 200, UP, ""),
        (HealthCheck(URL, json_field="version"), 200, UP, "body has no JSON field 'version'"),
        (HealthCheck(URL, json_field="build_id"), 200, "not json", "body has no JSON field"),
        (HealthCheck(URL, json_expect=(("status", "UP"), ("build_id", "b-7"))), 200, UP, ""),
        (HealthCheck(URL, json_expect=(("status", "UP"), ("build_id", "b-8"))), 200, UP,
         "build_id is 'b-7', expected 'b-8'"),
        (HealthCheck(URL, json_field="a"), 200, "[" * 60000 + "]" * 60000,
         "body is JSON nested deeper than 64 levels; refused unread"),
        (HealthCheck(URL, json_field="a"), 200, '{"a": "' + "[" * 5000 + '"}', ""),
        (HealthCheck(URL, json_field="a"), 200, '{"a": ' + "{" * 70000,
         "body is JSON nested deeper than 64"),
    ],
)
def test_evaluate(check: HealthCheck, status: int, body: str, reason: str) -> None:
    got = evaluate(check, status, body)
    assert got.startswith(reason) if reason else got == ""


def test_json_field_value_paths() -> None:
    data = {"a": {"b": [1, {"c": None}]}}
    assert json_field_value(data, "a.b.1.c") is None
    with pytest.raises(KeyError):
        json_field_value(data, "a.b.5")


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Scripted:
    """A probe that answers ok/not ok in a given order, repeating the last."""

    def __init__(self, *oks: bool) -> None:
        self.oks = list(oks)
        self.calls = 0

    def __call__(self, check: HealthCheck) -> Probe:
        ok = self.oks[min(self.calls, len(self.oks) - 1)]
        self.calls += 1
        return Probe(ok, 200 if ok else 503, "", "" if ok else "HTTP 503 (expected 200)")


def test_passes_after_consecutive_successes() -> None:
    t = FakeTime()
    probe = Scripted(False, True, False, True, True)
    result = wait_healthy(HealthCheck(URL, successes=2, interval=0.5), probe_fn=probe,
                          clock=t.clock, sleep=t.sleep)
    assert result.ok and result.attempts == 5 and probe.calls == 5
    assert t.sleeps == [0.5] * 4 and result.elapsed == 2.0


def test_deadline_reports_the_last_reason() -> None:
    t = FakeTime()
    result = wait_healthy(HealthCheck(URL, deadline=1.0, interval=0.3), probe_fn=Scripted(False),
                          clock=t.clock, sleep=t.sleep)
    assert not result.ok
    assert result.reason == "deadline 1s passed; last: HTTP 503 (expected 200)"
    assert t.sleeps == [0.3, 0.3, 0.3, pytest.approx(0.1)]
    assert result.one_line(URL).startswith(f"unhealthy {URL}: deadline 1s passed")


def test_a_dead_service_fails_at_once() -> None:
    t = FakeTime()
    asked: list[float] = []

    def alive() -> bool:
        asked.append(t.now)
        return len(asked) < 3

    result = wait_healthy(HealthCheck(URL, deadline=60, interval=0.25), alive=alive,
                          probe_fn=Scripted(False), clock=t.clock, sleep=t.sleep)
    assert not result.ok and result.reason == "the service is not running"
    assert asked == [0.25, 1.25, 2.25]  # at most once a second
