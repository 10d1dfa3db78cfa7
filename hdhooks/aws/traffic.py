"""Take the instance out of its target groups (or into Standby), drain, bring it back healthy.

Every mutating call is journalled with its inverse before it is made
(:mod:`hdhooks.aws.journal`), so a failed, rolled back or killed deployment
is undone by ``hdhooks reconcile``. Polls make exactly one
DescribeTargetHealth per group (``Targets=[{Id, Port}]``), plus one
DescribeAutoScalingInstances while a Standby transition is pending; their
schedules and deadlines are the pure functions of :mod:`hdhooks.aws.poll`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hdhooks.aws import poll
from hdhooks.aws.discovery import Discovery, Group
from hdhooks.aws.journal import Entry, Journal
from hdhooks.aws.session import AwsCallFailed, aws_call, client
from hdhooks.errors import CheckFailed, UsageError

#: Error codes that say AWS refused the call outright: nothing was changed.
REFUSED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                     "ValidationError", "InvalidTarget", "TargetGroupNotFound"})
#: Seconds each traffic wait took, and how long: the hook's metric line reads them.
TIMINGS: dict[str, float] = {}


class TrafficFailed(CheckFailed):
    """Traffic could not be blocked or allowed; the message names group, instance, state."""

    def __init__(self, message: str, diagnostics: list[str] | tuple[str, ...] = (),
                 *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.diagnostics = list(diagnostics)

    def details(self) -> list[str]:
        return self.diagnostics


class TrafficConfigError(UsageError):
    """The traffic settings cannot work on this instance (exit 2); says what to set instead."""


@dataclass
class Mover:
    """One hook's traffic actions: the deployment, the journal and the collaborators."""

    found: Discovery
    journal: Journal
    component: str
    deployment_group: str
    deployment_id: str
    event: str
    fleet_concurrency: int = 1
    standby: bool | None = None
    wait_drain: bool = True
    drain_timeout: int | None = None
    say: Callable[[str], None] = print
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    warnings: list[str] = field(default_factory=list)
    changed_at: float | None = None  # when the last RegisterTargets / ExitStandby was sent

    # --- block ---------------------------------------------------------------

    def block(self) -> str:
        """Standby (ASG with attached groups) or deregistration, then the wait for drained."""
        f = self.found
        entered = self._enter_standby() if self.use_standby() else None
        if entered is not None:
            done = [entered]
            if f.other_groups:
                done.append(self._deregister(f.other_groups))
        else:
            done = [self._deregister(f.groups)]
        if self.wait_drain:
            done.append(self.wait_drained())
        return "; ".join(d for d in done if d)

    def use_standby(self) -> bool:
        """Whether Standby is the way out; refuses early what EnterStandby would refuse late."""
        f = self.found
        if self.standby is False or not f.asg or not f.asg_groups:
            if self.standby and not f.asg:
                raise TrafficConfigError(
                    f"traffic.standby is true but {f.instance_id} is in no Auto Scaling group",
                    hint="set traffic.standby: auto to deregister from the target groups")
            return False
        if f.asg_state == "Standby":
            return True
        if f.desired - 1 < f.min_size:
            what = (f"ASG {f.asg}: MinSize {f.min_size} equals the desired capacity "
                    f"{f.desired}, so EnterStandby with ShouldDecrementDesiredCapacity would "
                    "be refused")
            fix = ("lower MinSize below the desired capacity, or set traffic.standby: false; "
                   "hdhooks never changes MinSize")
            if self.standby:
                raise TrafficConfigError(what, hint=fix)
            self._warn(f"{what}; deregistering from the target groups instead ({fix})")
            return False
        return True

    def _enter_standby(self) -> str | None:
        """EnterStandby; None when Auto Scaling refused it and deregistering is the way out.

        Discovery's capacity is stale when several instances deploy at once
        (HalfAtATime): the second EnterStandby can find the desired capacity
        already at MinSize. With ``standby: auto`` that refusal means
        "deregister instead", not a failed deployment.
        """
        f = self.found
        if f.asg_state == "Standby":
            return f"already in Standby in {f.asg}"
        params = {"asg": f.asg, "instance_id": f.instance_id, "decrement": True}
        entry = self._begin("EnterStandby", params, {"asg": f.asg, "instance_id": f.instance_id})
        try:
            with aws_call("autoscaling", "EnterStandby", f"{f.asg} {f.instance_id}"):
                client("autoscaling", f.region).enter_standby(
                    InstanceIds=[f.instance_id], AutoScalingGroupName=f.asg,
                    ShouldDecrementDesiredCapacity=True)
        except AwsCallFailed as exc:
            if exc.code not in REFUSED:
                raise  # the call may have been made (a timeout): reconcile checks the state
            self.journal.settle(entry, "undone")  # refused: nothing happened
            if exc.code != "ValidationError" or self.standby:
                raise
            self._warn(f"{exc.one_line()}; deregistering from the target groups instead")
            return None
        self.say(f"      EnterStandby {f.instance_id} in {f.asg} (journal {entry.id})")
        return f"Standby in {f.asg}"

    def _deregister(self, groups: tuple[Group, ...]) -> str:
        states = self.poll_groups(groups)
        registered = [g for g, s in zip(groups, states, strict=True) if not poll.is_drained(s)]
        if not registered:
            return "already out of " + ", ".join(f"tg/{g.name}" for g in groups)
        targets = [{"arn": g.arn, "port": g.port} for g in registered]
        params = {"instance_id": self.found.instance_id, "targets": targets}
        entry = self._begin("DeregisterTargets", params, params)
        for n, g in enumerate(registered):
            try:
                with aws_call("elbv2", "DeregisterTargets", f"tg/{g.name}"):
                    client("elbv2", self.found.region).deregister_targets(
                        TargetGroupArn=g.arn, Targets=[{"Id": self.found.instance_id,
                                                        "Port": g.port}])
            except AwsCallFailed as exc:
                if n == 0 and exc.code in REFUSED:
                    self.journal.settle(entry, "undone")  # refused: nothing happened
                raise
        self.say(f"      DeregisterTargets from {_names(registered)} (journal {entry.id})")
        return "deregistered from " + _names(registered)

    def wait_drained(self, standby: bool | None = None) -> str:
        """Poll until every group says unused/NotRegistered (and Standby is reached).

        ``standby`` None: wait for Standby when this deployment entered it.
        """
        f = self.found
        groups = f.groups
        if standby is None:
            standby = self.use_standby_now()
        want_state = "Standby" if standby else None
        deadline = poll.drain_deadline([g.dereg_delay for g in groups], self.drain_timeout)
        start = self.clock()
        last: list[poll.TargetState] = []
        asg_ok = want_state is None
        while True:
            elapsed = self.clock() - start
            last = self.poll_groups(groups)
            # Auto Scaling is asked only until the transition is seen.
            asg_ok = asg_ok or self.asg_state() == want_state
            if asg_ok and all(poll.is_drained(s) for s in last):
                TIMINGS["DrainSeconds"] = round(self.clock() - start, 3)
                return f"drained in {self.clock() - start:.1f}s"
            if elapsed >= deadline:
                pending = [s.line(f.instance_id) for s in last if not poll.is_drained(s)]
                what = pending[0] if pending else f"{f.asg} not yet {want_state}"
                raise TrafficFailed(
                    f"{what} after {elapsed:.0f}s (drain deadline {deadline:.0f}s)",
                    self.asg_activities(),
                    hint="raise traffic.deregistration.timeout or shorten the group's "
                         "deregistration delay")
            step = poll.drain_interval(elapsed, fleet_concurrency=self.fleet_concurrency,
                                       groups=len(groups),
                                       expected=max((g.dereg_delay for g in groups), default=0))
            if step < 5:  # the early poll at the expected end is not jittered
                self.sleep(step)
            else:
                self.sleep(min(poll.jittered(step, self.rng), max(0.5, deadline - elapsed)))

    def use_standby_now(self) -> bool:
        return bool(self.found.asg and any(e.action == "EnterStandby" for e in self.mine()))

    # --- allow -----------------------------------------------------------------

    def allow(self) -> str:
        """Undo this deployment's entries (or make sure it is registered), wait healthy."""
        f = self.found
        entries = self.mine()
        done: list[str] = []
        client("elbv2", f.region)  # made before the change, so the first poll is not late
        standby = any(e.action == "EnterStandby" for e in entries) or f.asg_state == "Standby"
        if standby and f.asg and self.asg_state() == "Standby":
            self.changed_at = self.clock()
            with aws_call("autoscaling", "ExitStandby", f"{f.asg} {f.instance_id}"):
                client("autoscaling", f.region).exit_standby(
                    InstanceIds=[f.instance_id], AutoScalingGroupName=f.asg)
            done.append(f"ExitStandby in {f.asg}")
        plain = f.other_groups if standby else f.groups
        if plain:
            self.register(plain)
            done.append("registered with " + _names(plain))
        done.append(self.wait_healthy(want_asg="InService" if standby else None))
        for entry in entries:
            self.journal.settle(entry, "completed")
        return "; ".join(done)

    def register(self, groups: tuple[Group, ...]) -> None:
        elb = client("elbv2", self.found.region)
        if self.changed_at is None:
            self.changed_at = self.clock()
        for g in groups:
            with aws_call("elbv2", "RegisterTargets", f"tg/{g.name}"):
                elb.register_targets(
                    TargetGroupArn=g.arn, Targets=[{"Id": self.found.instance_id,
                                                    "Port": g.port}])

    def wait_healthy(self, want_asg: str | None = None) -> str:
        """Poll until healthy in every group; fail fast on reasons that will not change."""
        f = self.found
        groups = f.groups
        deadline = poll.healthy_deadline([(g.interval, g.timeout, g.healthy) for g in groups])
        thresholds = {g.arn: g.unhealthy for g in groups}
        streak: dict[str, int] = {}
        start = self.clock()
        base = min((g.interval for g in groups), default=30)
        asg_ok = want_asg is None
        # The first poll comes FIRST_HEALTH_POLL after the call that changed the
        # target was sent (its answer can take a while): sooner it can only say initial.
        since_change = start - (self.changed_at if self.changed_at is not None else start)
        self.sleep(max(0.0, poll.FIRST_HEALTH_POLL - since_change))
        while True:
            elapsed = self.clock() - start
            states = self.poll_groups(groups)
            verdict = poll.healthy_verdict(states, streak, thresholds, f.instance_id)
            if verdict.failed:
                self._fail(verdict.failed, config=verdict.config_error)
            asg_ok = asg_ok or self.asg_state() == want_asg
            if verdict.done and asg_ok:
                for w in verdict.warnings:
                    self._warn(w)
                TIMINGS["HealthyWaitSeconds"] = round(self.clock() - start, 3)
                return f"healthy in {_names(groups)} after {self.clock() - start:.1f}s"
            if elapsed >= deadline:
                pending = [s.line(f.instance_id) for s in states if s.state != "healthy"]
                self._fail((pending[0] if pending else f"{f.asg} not {want_asg}")
                           + f" after {elapsed:.0f}s (deadline {deadline:.0f}s)")
            step = poll.healthy_interval(base, fleet_concurrency=self.fleet_concurrency,
                                         groups=len(groups))
            self.sleep(min(poll.jittered(step, self.rng), max(0.5, deadline - elapsed)))

    def _fail(self, cause: str, *, config: bool = False) -> None:
        hint = ("the target cannot serve in this group: check the load balancer's "
                "availability zones and the instance state") if config else ""
        raise TrafficFailed(cause, self.asg_activities(), hint=hint)

    # --- reads -------------------------------------------------------------------

    def poll_groups(self, groups: tuple[Group, ...]) -> list[poll.TargetState]:
        """One DescribeTargetHealth per group, for this instance and port only."""
        states = []
        elb = client("elbv2", self.found.region)
        for g in groups:
            with aws_call("elbv2", "DescribeTargetHealth", f"tg/{g.name}"):
                answer = elb.describe_target_health(
                    TargetGroupArn=g.arn, Targets=[{"Id": self.found.instance_id,
                                                    "Port": g.port}])
            states.append(poll.parse_target_health(answer, g.name, g.arn,
                                                   self.found.instance_id))
        return states

    def asg_state(self) -> str | None:
        f = self.found
        with aws_call("autoscaling", "DescribeAutoScalingInstances", f.instance_id):
            answer = client("autoscaling", f.region).describe_auto_scaling_instances(
                InstanceIds=[f.instance_id])
        for item in answer.get("AutoScalingInstances") or []:
            return str(item.get("LifecycleState"))
        return None

    def asg_activities(self, limit: int = 3) -> list[str]:
        """The last scaling activities, for the diagnostics after a failure."""
        f = self.found
        if not f.asg:
            return []
        try:
            with aws_call("autoscaling", "DescribeScalingActivities", f.asg):
                answer = client("autoscaling", f.region).describe_scaling_activities(
                    AutoScalingGroupName=f.asg, MaxRecords=limit)
        except CheckFailed as exc:
            return [f"ASG activities: {exc.one_line()}"]
        except Exception as exc:  # diagnostics never hide the cause
            return [f"ASG activities: {type(exc).__name__}"]
        return [f"ASG {f.asg}: {a.get('StatusCode', '')} {a.get('Description', '')}"
                for a in answer.get("Activities") or []]

    def mine(self) -> list[Entry]:
        return [e for e in self.journal.open_entries(self.component)
                if e.deployment_id == self.deployment_id]

    def _begin(self, action: str, params: dict[str, Any],
               inverse_params: dict[str, Any]) -> Entry:
        for e in self.mine():
            if e.action == action and e.params == params:
                return e  # this hook again (a retried ApplicationStop): one entry
        return self.journal.begin(
            component=self.component, region=self.found.region,
            deployment_group=self.deployment_group, deployment_id=self.deployment_id,
            action=action, params=params, inverse_params=inverse_params, event=self.event)

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        self.say(f"      warning: {text}")


def _names(groups: tuple[Group, ...] | list[Group]) -> str:
    return ", ".join(f"tg/{g.name}" for g in groups)


def undo(entry: Entry) -> str:
    """Perform ``entry``'s inverse (ExitStandby / RegisterTargets / ResumeProcesses).

    Idempotent where AWS allows: ExitStandby of an instance no longer in
    Standby is not attempted. The caller settles the entry.
    """
    p = entry.inverse_params
    if entry.inverse == "ExitStandby":
        asg, instance = str(p["asg"]), str(p["instance_id"])
        auto = client("autoscaling", entry.region)
        with aws_call("autoscaling", "DescribeAutoScalingInstances", instance):
            items = auto.describe_auto_scaling_instances(InstanceIds=[instance])
        states = [i.get("LifecycleState") for i in items.get("AutoScalingInstances") or []]
        if "Standby" not in states:
            return f"{instance} is not in Standby ({', '.join(map(str, states)) or 'no ASG'})"
        with aws_call("autoscaling", "ExitStandby", f"{asg} {instance}"):
            auto.exit_standby(InstanceIds=[instance], AutoScalingGroupName=asg)
        return f"ExitStandby {instance} in {asg}"
    if entry.inverse == "RegisterTargets":
        instance = str(p["instance_id"])
        elb = client("elbv2", entry.region)
        for t in p.get("targets") or []:
            with aws_call("elbv2", "RegisterTargets", str(t["arn"])):
                elb.register_targets(TargetGroupArn=str(t["arn"]),
                                     Targets=[{"Id": instance, "Port": int(t["port"])}])
        return f"RegisterTargets {instance} with {len(p.get('targets') or [])} group(s)"
    if entry.inverse == "ResumeProcesses":
        with aws_call("autoscaling", "ResumeProcesses", str(p["asg"])):
            client("autoscaling", entry.region).resume_processes(
                AutoScalingGroupName=str(p["asg"]),
                ScalingProcesses=list(p.get("processes") or []))
        return f"ResumeProcesses in {p['asg']}"
    raise ValueError(f"no way to undo {entry.inverse}")


def target_view(found: Discovery) -> list[dict[str, str]]:
    """Each group's view of this instance (state, reason, description), for status."""
    mover = Mover(found, Journal("/nonexistent"), "", "", "", "status")
    return [{"group": s.group, "arn": s.arn, "state": s.state, "reason": s.reason,
             "description": s.description} for s in mover.poll_groups(found.groups)]


def wait_healthy(found: Discovery, *, want_asg: str | None = None,
                 fleet_concurrency: int = 1, say: Callable[[str], None] = print,
                 sleep: Callable[[float], None] = time.sleep) -> str:
    """Wait until this instance is healthy in every group of ``found`` (reconcile uses it).

    Raises :class:`TrafficFailed` naming group, instance, state and reason.
    """
    mover = Mover(found, Journal("/nonexistent"), "", "", "", "reconcile",
                  fleet_concurrency=fleet_concurrency, say=say, sleep=sleep)
    return mover.wait_healthy(want_asg=want_asg)


def wait_drained(found: Discovery, *, standby: bool = False, timeout: int | None = None,
                 fleet_concurrency: int = 1, say: Callable[[str], None] = print) -> str:
    """Wait until this instance is out of every group of ``found`` (and in Standby)."""
    mover = Mover(found, Journal("/nonexistent"), "", "", "", "reconcile",
                  fleet_concurrency=fleet_concurrency, drain_timeout=timeout, say=say)
    return mover.wait_drained(standby)
