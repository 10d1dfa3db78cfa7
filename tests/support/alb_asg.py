"""Auto Scaling as AWS behaves around Standby, for the ALB emulator.

moto changes an instance's lifecycle state at once, never validates
EnterStandby and leaves the instance registered in the group's target
groups. :class:`StandbyModel` fixes that in front of it:

* EnterStandby is refused with ValidationError when an instance is not part
  of the group or not InService, or when ShouldDecrementDesiredCapacity
  would take the desired capacity below MinSize; otherwise the instances are
  deregistered from the group's target groups (they drain) and read
  ``EnteringStandby`` until the drain ends;
* ExitStandby is refused for an instance not in Standby or when it would
  take the desired capacity above MaxSize; otherwise the instance is
  registered again in every target group (initial, then healthy);
* calls that change a group's membership (create, attach, detach, capacity,
  terminate) make the emulator adopt the targets moto registered on its own
  and drain those moto removed.

Calls for one group are serialised, so two instances entering Standby at
once see each other's capacity change, as on AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.support import alb_wire as wire

if TYPE_CHECKING:
    from tests.support.alb_emulator import AlbEmulator

Answer = tuple[int, dict[str, str], bytes]

_MEMBERSHIP = {
    "CreateAutoScalingGroup", "UpdateAutoScalingGroup", "SetDesiredCapacity",
    "AttachLoadBalancerTargetGroups", "DetachLoadBalancerTargetGroups", "AttachTrafficSources",
    "DetachTrafficSources", "AttachInstances", "DetachInstances",
    "TerminateInstanceInAutoScalingGroup", "DeleteAutoScalingGroup",
}


class StandbyModel:
    """EnterStandby / ExitStandby and group membership, in front of moto."""

    def __init__(self, emulator: AlbEmulator) -> None:
        self.emu = emulator
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._entering: dict[str, list[str]] = {}
        self.held: dict[str, str] = {}  # instance id -> a lifecycle state moto never shows

    def handle(self, info: wire.RequestInfo, forward: Callable[[], Answer]) -> Answer:
        if info.action == "EnterStandby":
            return self._enter(info, forward)
        if info.action == "ExitStandby":
            return self._exit(info, forward)
        answer = forward()
        if answer[0] != 200:
            return answer
        if info.action in ("DescribeAutoScalingInstances", "DescribeAutoScalingGroups"):
            states = {**self.held, **self.entering()}
            return answer[0], answer[1], wire.set_lifecycle(answer[2], states)
        if info.action in _MEMBERSHIP:
            self._resync(info)
        return answer

    def entering(self) -> dict[str, str]:
        """Instances that entered Standby and are still draining."""
        out = {}
        with self._guard:
            pending = dict(self._entering)
        for iid, arns in pending.items():
            if any(self.emu.is_draining(arn, iid, None) for arn in arns):
                out[iid] = "EnteringStandby"
            else:
                with self._guard:
                    self._entering.pop(iid, None)
        return out

    # -- Standby ---------------------------------------------------------------------
    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def _group(self, region: str, name: str) -> dict[str, Any] | None:
        found = self.emu.moto("autoscaling", region).describe_auto_scaling_groups(
            AutoScalingGroupNames=[name])["AutoScalingGroups"]
        return dict(found[0]) if found else None

    def _enter(self, info: wire.RequestInfo, forward: Callable[[], Answer]) -> Answer:
        name = info.params.get("AutoScalingGroupName", "")
        ids = wire.members(info.params, "InstanceIds")
        decrement = info.params.get("ShouldDecrementDesiredCapacity", "").lower() == "true"
        with self._lock(name):
            group = self._group(info.region, name)
            if group is None:
                return forward()
            problem = enter_problem(group, ids, decrement)
            if problem:
                return wire.error_response(info, "ValidationError", problem, 400)
            answer = forward()
            if answer[0] != 200:
                return answer
            arns = list(group.get("TargetGroupARNs") or [])
            for arn in arns:
                self._moto_deregister(arn, ids)
                for iid in ids:
                    self.emu.deregister(arn, iid, None)
            with self._guard:
                for iid in ids:
                    self._entering[iid] = arns
            return answer

    def _exit(self, info: wire.RequestInfo, forward: Callable[[], Answer]) -> Answer:
        name = info.params.get("AutoScalingGroupName", "")
        ids = wire.members(info.params, "InstanceIds")
        with self._lock(name):
            group = self._group(info.region, name)
            if group is None:
                return forward()
            problem = exit_problem(group, ids, set(self.entering()))
            if problem:
                return wire.error_response(info, "ValidationError", problem, 400)
            answer = forward()
            if answer[0] != 200:
                return answer
            for arn in group.get("TargetGroupARNs") or []:
                settings = self.emu.settings(arn)
                port = settings.port if settings else 80
                self.emu.moto("elbv2", arn.split(":")[3]).register_targets(
                    TargetGroupArn=arn, Targets=[{"Id": i, "Port": port} for i in ids])
                for iid in ids:
                    self.emu.register(arn, iid, port)
            return answer

    def _moto_deregister(self, arn: str, ids: list[str]) -> None:
        from botocore.exceptions import ClientError

        elb = self.emu.moto("elbv2", arn.split(":")[3])
        for iid in ids:
            try:
                elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": iid}])
            except ClientError:
                pass  # moto never had it registered: nothing to drain there

    # -- membership --------------------------------------------------------------------
    def _resync(self, info: wire.RequestInfo) -> None:
        """Adopt what moto registered on its own; drain what it removed."""
        name = info.params.get("AutoScalingGroupName", "")
        arns = set(wire.members(info.params, "TargetGroupARNs"))
        for key in list(info.params):
            if key.startswith("TrafficSources.member.") and key.endswith(".Identifier"):
                arns.add(info.params[key])
        group = self._group(info.region, name) if name else None
        arns.update((group or {}).get("TargetGroupARNs") or [])
        for arn in arns:
            if not self.emu.sync(arn):
                continue
            rows = self.emu.moto("elbv2", arn.split(":")[3]).describe_target_health(
                TargetGroupArn=arn)["TargetHealthDescriptions"]
            in_moto = {r["Target"]["Id"] for r in rows}
            for target in self.emu.targets_of(arn):
                if target.id not in in_moto and target.state != "draining":
                    self.emu.deregister(arn, target.id, target.port)


def _states(group: dict[str, Any]) -> dict[str, str]:
    return {i["InstanceId"]: i["LifecycleState"] for i in group.get("Instances") or []}


def enter_problem(group: dict[str, Any], ids: list[str], decrement: bool) -> str | None:
    """Why AWS would refuse EnterStandby for these instances, or None."""
    name, states = group["AutoScalingGroupName"], _states(group)
    for iid in ids:
        if iid not in states:
            return f"The instance {iid} is not part of Auto Scaling group {name}."
        if states[iid] != "InService":
            return f"The instance {iid} is not in InService."
    low, high, desired = group["MinSize"], group["MaxSize"], group["DesiredCapacity"]
    if decrement and desired - len(ids) < low:
        return (f"AutoScalingGroup {name} has min-size={low}, max-size={high}, and "
                f"desired-size={desired}. To place into standby {len(ids)} instances, please "
                "update the AutoScalingGroup sizes appropriately.")
    return None


def exit_problem(group: dict[str, Any], ids: list[str], entering: set[str]) -> str | None:
    """Why AWS would refuse ExitStandby for these instances, or None."""
    name, states = group["AutoScalingGroupName"], _states(group)
    for iid in ids:
        if iid not in states:
            return f"The instance {iid} is not part of Auto Scaling group {name}."
        if states[iid] != "Standby" or iid in entering:
            return f"The instance {iid} is not in Standby."
    low, high, desired = group["MinSize"], group["MaxSize"], group["DesiredCapacity"]
    if desired + len(ids) > high:
        return (f"AutoScalingGroup {name} has min-size={low}, max-size={high}, and "
                f"desired-size={desired}. To move {len(ids)} instances out of standby, please "
                "update the AutoScalingGroup sizes appropriately.")
    return None
