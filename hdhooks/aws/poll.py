"""Poll schedules, deadlines and the verdicts on what DescribeTargetHealth says: pure.

Every number here comes from the ELB and Auto Scaling behaviour hdhooks
relies on (docs/traffic.md): drains are polled every 5 s for the first 30 s
then every 10 s; the wait for healthy polls every max(2, interval/2) s; both
with +/-20 % jitter so a fleet deploying at once does not poll in step, and
both stretched when ``fleet_concurrency`` instances share the account's
DescribeTargetHealth budget (refill 10 calls/s: hdhooks keeps a fleet under
half of it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Seconds from RegisterTargets / ExitStandby to the first health poll: a poll
#: sent at once can only say "initial", so it would be a call spent for nothing.
FIRST_HEALTH_POLL = 1.0
#: DescribeTargetHealth calls per second a whole fleet may spend (half the refill).
FLEET_DESCRIBE_RATE = 5.0
JITTER = 0.2
DRAINING = frozenset({"draining", "unhealthy.draining"})
#: Reasons that say the configuration, not the application, is wrong.
CONFIG_REASONS = frozenset({"Target.NotInUse", "Target.InvalidState", "Target.IpUnusable"})


def fleet_floor(fleet_concurrency: int, groups: int) -> float:
    """The shortest poll interval that keeps the fleet inside its share of the budget."""
    return max(1, fleet_concurrency) * max(1, groups) / FLEET_DESCRIBE_RATE


def jittered(seconds: float, rng: random.Random | None = None) -> float:
    r = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return seconds * r


def drain_interval(elapsed: float, *, fleet_concurrency: int = 1, groups: int = 1,
                   expected: float | None = None) -> float:
    """Seconds to the next drain poll (before jitter): 5 s for 30 s, then 10 s.

    ``expected`` is the longest deregistration delay: a drain cannot end
    before it, and when it ends sooner than the next regular poll, one poll
    just after it (at least 1 s away) notices the end without waiting out
    the interval.
    """
    regular = max(5.0 if elapsed < 30 else 10.0, fleet_floor(fleet_concurrency, groups))
    if expected is not None and elapsed < expected + 0.5 < elapsed + regular:
        return max(1.0, expected + 0.5 - elapsed)
    return regular


def healthy_interval(hc_interval: float, *, fleet_concurrency: int = 1,
                     groups: int = 1) -> float:
    """Seconds to the next health poll (before jitter): max(2, interval / 2)."""
    return max(2.0, hc_interval / 2, fleet_floor(fleet_concurrency, groups))


def drain_deadline(delays: list[int], configured: int | None = None) -> float:
    """Seconds a drain may take: the configured timeout, else the longest delay + 60 s."""
    if configured is not None:
        return float(configured)
    return float(max(delays, default=300) + 60)


def healthy_deadline(groups: list[tuple[int, int, int]]) -> float:
    """60 s + (HealthyThreshold + 1) x (interval + timeout), for the slowest group.

    ``groups`` are (interval, timeout, healthy threshold) triples.
    """
    worst = max(((h + 1) * (i + t) for i, t, h in groups), default=0)
    return 60.0 + worst


@dataclass(frozen=True)
class TargetState:
    """What DescribeTargetHealth says about this instance in one group."""

    group: str  # the group's name (for messages)
    arn: str
    state: str
    reason: str = ""
    description: str = ""

    def line(self, instance_id: str = "") -> str:
        text = f"tg/{self.group} {instance_id + ' ' if instance_id else ''}{self.state}"
        if self.reason:
            text += f" {self.reason}"
        if self.description:
            text += f" ({self.description})"
        return text


def parse_target_health(answer: dict[str, object], group: str, arn: str,
                        instance_id: str) -> TargetState:
    """This instance's entry of a DescribeTargetHealth answer (absent: unused)."""
    descriptions = answer.get("TargetHealthDescriptions") or []
    for item in descriptions if isinstance(descriptions, list) else []:
        if not isinstance(item, dict):
            continue
        target = item.get("Target") or {}
        if isinstance(target, dict) and target.get("Id") != instance_id:
            continue
        health = item.get("TargetHealth") or {}
        if not isinstance(health, dict):
            continue
        return TargetState(group, arn, str(health.get("State", "unused")),
                           str(health.get("Reason", "") or ""),
                           str(health.get("Description", "") or ""))
    return TargetState(group, arn, "unused", "Target.NotRegistered")


def is_drained(state: TargetState) -> bool:
    return state.state == "unused" or state.reason == "Target.NotRegistered"


@dataclass(frozen=True)
class Verdict:
    """What one round of health polls means for the wait: done, fail, or keep going."""

    done: bool = False
    failed: str = ""  # the outcome line's cause when the wait must stop now
    config_error: bool = False
    warnings: tuple[str, ...] = ()


def healthy_verdict(states: list[TargetState], unhealthy_streak: dict[str, int],
                    thresholds: dict[str, int], instance_id: str = "") -> Verdict:
    """Judge one poll of every group; ``unhealthy_streak`` is updated in place.

    Fail fast: a configuration reason at once; ``unhealthy`` with a Target.*
    reason on UnhealthyThreshold consecutive polls. ``unavailable`` (health
    checks disabled) passes with a warning.
    """
    warnings: list[str] = []
    pending = False
    for s in states:
        if s.reason in CONFIG_REASONS:
            return Verdict(failed=s.line(instance_id), config_error=True)
        if s.state == "unhealthy" and s.reason.startswith("Target."):
            unhealthy_streak[s.arn] = unhealthy_streak.get(s.arn, 0) + 1
            if unhealthy_streak[s.arn] >= max(1, thresholds.get(s.arn, 2)):
                return Verdict(failed=s.line(instance_id))
            pending = True
            continue
        unhealthy_streak[s.arn] = 0
        if s.state == "unavailable":
            warnings.append(f"{s.line(instance_id)}: health checks give no answer; "
                            "counted as healthy")
        elif s.state != "healthy":
            pending = True
    return Verdict(done=not pending, warnings=tuple(warnings))
