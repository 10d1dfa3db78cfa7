"""Target health as an Application Load Balancer keeps it: the state machine and the checks.

Used by :mod:`tests.support.alb_emulator`. A :class:`Target` is one
registration (target group, instance id, port); :func:`apply_check` moves it
by one health-check result the way the ELB documentation describes:

* a new registration is ``initial`` (``Elb.RegistrationInProgress``, then
  ``Elb.InitialHealthChecking``) and becomes ``healthy`` after one passing
  check, or ``unhealthy`` after UnhealthyThreshold failures;
* ``healthy`` becomes ``unhealthy`` after UnhealthyThreshold consecutive
  failures, with the reason of the last one (``Target.ResponseCodeMismatch``,
  ``Target.Timeout``, ``Target.FailedHealthChecks``);
* ``unhealthy`` needs HealthyThreshold consecutive passes;
* a deregistered target is ``draining`` (``Target.DeregistrationInProgress``)
  for the deregistration delay, then gone (``unused`` / ``Target.NotRegistered``).

:func:`http_check` is the real check: an HTTP GET of the target's health
path with the group's timeout, judged by its matcher.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass

DESCRIPTIONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Elb.InitialHealthChecking": "Initial health checks in progress",
    "Target.Timeout": "Request timed out",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.NotRegistered": "Target is not registered to the target group",
    "Target.NotInUse": "Target group is not configured to receive traffic from the load balancer",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
    "Target.HealthCheckDisabled": "Health checks are disabled",
}


@dataclass(frozen=True)
class TgSettings:
    """What the emulator needs of a target group, as moto stores it."""

    arn: str
    name: str
    port: int
    protocol: str
    path: str
    hc_port: str
    interval: float
    timeout: float
    healthy: int
    unhealthy: int
    matcher: str
    enabled: bool
    in_use: bool
    dereg_delay: float


@dataclass(frozen=True)
class TargetState:
    """What DescribeTargetHealth says of one target."""

    state: str
    reason: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    reason: str | None = None
    description: str | None = None


@dataclass
class Target:
    """One registration and its health-check bookkeeping (guarded by the emulator's lock)."""

    tg: str
    id: str
    port: int
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = DESCRIPTIONS["Elb.RegistrationInProgress"]
    passes: int = 0
    fails: int = 0
    next_check: float = 0.0
    drain_until: float | None = None
    in_flight: bool = False
    generation: int = 0

    def view(self) -> TargetState:
        return TargetState(self.state, self.reason, self.description)

    def set(self, state: str, reason: str | None = None, description: str | None = None) -> bool:
        """Change state; True when the visible state or reason changed."""
        if description is None and reason is not None:
            description = DESCRIPTIONS.get(reason)
        changed = (state, reason) != (self.state, self.reason)
        self.state, self.reason, self.description = state, reason, description
        return changed

    def register(self, now: float, delay: float) -> None:
        """(Re)start as a new registration: initial, first check after ``delay``."""
        self.generation += 1
        self.passes = self.fails = 0
        self.drain_until = None
        self.in_flight = False
        self.next_check = now + delay
        self.set("initial", "Elb.RegistrationInProgress")

    def drain(self, now: float, delay: float) -> None:
        self.generation += 1
        self.in_flight = False
        self.drain_until = now + delay
        self.set("draining", "Target.DeregistrationInProgress")


def apply_check(target: Target, result: CheckResult, settings: TgSettings) -> bool:
    """Move ``target`` by one check result; True when its visible state changed."""
    if result.ok:
        target.fails = 0
        target.passes += 1
        if target.state == "initial" or (
            target.state == "unhealthy" and target.passes >= settings.healthy
        ):
            return target.set("healthy")
        return False
    target.passes = 0
    target.fails += 1
    if target.state == "unhealthy":
        return target.set("unhealthy", result.reason, result.description)
    if target.fails >= settings.unhealthy:
        return target.set("unhealthy", result.reason, result.description)
    if target.state == "initial":
        return target.set("initial", "Elb.InitialHealthChecking")
    return False


def matches(matcher: str, status: int) -> bool:
    """The ALB matcher syntax: ``200``, ``200,202``, ``200-299``."""
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        try:
            if int(low) <= status <= int(high or low):
                return True
        except ValueError:
            continue
    return False


def http_check(host: str, port: int, settings: TgSettings) -> CheckResult:
    """One real health check of ``host:port`` as the group describes it."""
    conn = http.client.HTTPConnection(host, port, timeout=settings.timeout)
    try:
        conn.request("GET", settings.path or "/", headers={"User-Agent": "ELB-HealthChecker/2.0"})
        status = conn.getresponse().status
    except TimeoutError:
        return CheckResult(False, "Target.Timeout")
    except (OSError, http.client.HTTPException):
        return CheckResult(False, "Target.FailedHealthChecks")
    finally:
        conn.close()
    if matches(settings.matcher, status):
        return CheckResult(True)
    return CheckResult(False, "Target.ResponseCodeMismatch",
                       f"Health checks failed with these codes: [{status}]")
