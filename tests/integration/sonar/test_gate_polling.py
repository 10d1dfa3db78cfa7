"""Polling with an injected clock against the real local server: no waiting."""

from __future__ import annotations

from hdhooks.build.sonar.client import SonarClient
from hdhooks.build.sonar.gate import GatePolicy, gate, parse_report_task
from tests.support.sonar_server import SonarScript, report_task_text


class Clock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _client(clock: Clock) -> SonarClient:
    return SonarClient(token="squ_goodtoken", clock=clock, sleep=clock.sleep)


def test_polls_at_the_interval_and_stops_at_the_timeout(sonar):
    script = SonarScript(statuses=["PENDING", "IN_PROGRESS"])
    server = sonar(script)
    report = parse_report_task(report_task_text(server.base), "r.txt")
    clock = Clock()
    seen: list[str] = []

    result = gate(report, _client(clock), timeout=12, interval=5, progress=seen.append)

    assert clock.sleeps == [5, 5, 2]
    assert script.polls == 4
    assert (result.status, result.passed, result.exit_code) == ("TIMEOUT", False, 1)
    assert seen == [
        "background task AYtask0000000000001: PENDING",
        "background task AYtask0000000000001: IN_PROGRESS",
    ]


def test_success_after_polls_reads_the_gate_once(sonar):
    script = SonarScript(statuses=["PENDING", "PENDING", "SUCCESS"], gate="WARN")
    server = sonar(script)
    report = parse_report_task(report_task_text(server.base), "r.txt")
    clock = Clock()

    result = gate(report, _client(clock), interval=5, policy=GatePolicy(allow_warn=True))

    assert clock.sleeps == [5, 5]
    assert (result.status, result.passed) == ("WARN", True)
    assert sum("project_status" in r.path for r in script.requests) == 1
