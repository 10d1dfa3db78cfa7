"""What reconcile asks of AWS: is a deployment still running, undo a journal entry,
wait until the target groups see the instance healthy, "replace this instance".

Reconcile must never undo the journal of a deployment that is still going on
(between two hooks no lock is held: the agent may be copying files), so it
asks CodeDeploy. When an instance cannot be made healthy, reconcile marks it
Unhealthy so that its Auto Scaling group replaces it instead of leaving a
broken instance in service.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hdhooks.aws.session import AwsCallFailed, aws_call, client

if TYPE_CHECKING:
    from hdhooks.aws.journal import Entry

#: CodeDeploy deployment states in which the deployment may still run a hook here.
RUNNING = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})
#: Answers that mean "no such deployment": it cannot be running.
_GONE = {"DeploymentDoesNotExistException", "InvalidDeploymentIdException"}


def deployment_status(deployment_id: str, region: str | None = None) -> str:
    """The deployment's status (``InProgress``, ``Failed``, ...); ``Gone`` when unknown to
    CodeDeploy. Raises :class:`AwsCallFailed` when CodeDeploy cannot be asked."""
    codedeploy = client("codedeploy", region)
    try:
        with aws_call("codedeploy", "GetDeployment", deployment_id):
            answer = codedeploy.get_deployment(deploymentId=deployment_id)
    except AwsCallFailed as exc:
        if exc.code in _GONE:
            return "Gone"
        raise
    return str(answer.get("deploymentInfo", {}).get("status") or "Unknown")


def set_unhealthy(asg: str, instance_id: str, region: str | None = None) -> None:
    """Mark the instance Unhealthy so that ``asg`` replaces it (its grace period ignored:
    reconcile only does this once the application has failed its own check)."""
    autoscaling = client("autoscaling", region)
    with aws_call("autoscaling", "SetInstanceHealth", f"{instance_id} in {asg}"):
        autoscaling.set_instance_health(InstanceId=instance_id, HealthStatus="Unhealthy",
                                        ShouldRespectGracePeriod=False)


def _instance_state(asg: str, instance_id: str, region: str | None) -> str | None:
    """The instance's lifecycle state in ``asg`` (``Standby``, ``InService``...), or None."""
    autoscaling = client("autoscaling", region)
    with aws_call("autoscaling", "DescribeAutoScalingInstances", instance_id):
        answer = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])
    for item in answer.get("AutoScalingInstances", []):
        if item.get("AutoScalingGroupName") == asg:
            return str(item.get("LifecycleState") or "")
    return None


def exit_standby(asg: str, instance_id: str, region: str | None = None) -> str:
    """ExitStandby, unless the instance is no longer in Standby (undoing twice is safe)."""
    state = _instance_state(asg, instance_id, region)
    if state != "Standby":
        return f"{instance_id} already {state or 'out of ' + asg}"
    autoscaling = client("autoscaling", region)
    with aws_call("autoscaling", "ExitStandby", f"{instance_id} in {asg}"):
        autoscaling.exit_standby(AutoScalingGroupName=asg, InstanceIds=[instance_id])
    return f"ExitStandby {instance_id} in {asg}"


def register(targets: list[dict[str, object]], instance_id: str,
             region: str | None = None) -> str:
    """RegisterTargets in each group (registering a registered target changes nothing)."""
    elbv2 = client("elbv2", region)
    names = []
    for target in targets:
        arn = str(target.get("arn") or "")
        spec: dict[str, object] = {"Id": instance_id}
        if target.get("port"):
            spec["Port"] = int(str(target["port"]))
        with aws_call("elbv2", "RegisterTargets", arn):
            elbv2.register_targets(TargetGroupArn=arn, Targets=[spec])
        names.append(arn.split(":targetgroup/")[-1].split("/")[0] or arn)
    return f"RegisterTargets {instance_id} in {', '.join(names)}"


def undo(entry: Entry) -> str:
    """Perform an entry's inverse; what was done, as a phrase."""
    params = {**entry.params, **entry.inverse_params}
    instance_id = str(params.get("instance_id") or "")
    region = entry.region or None
    if entry.inverse == "ExitStandby":
        return exit_standby(str(params.get("asg") or ""), instance_id, region)
    if entry.inverse == "RegisterTargets":
        return register(list(params.get("targets") or []), instance_id, region)
    raise AwsCallFailed(f"cannot undo {entry.action} of {entry.deployment_id}: hdhooks "
                        f"does not know how to {entry.inverse}", code="UnknownInverse")


class Watch:
    """One target group to wait for: where the instance is registered and how it is checked."""

    def __init__(self, arn: str, instance_id: str, port: int | None, deadline_s: float,
                 interval_s: float) -> None:
        self.arn = arn
        self.name = arn.split(":targetgroup/")[-1].split("/")[0] or arn
        self.target: dict[str, object] = {"Id": instance_id, **({"Port": port} if port else {})}
        self.deadline_s = deadline_s
        self.interval_s = interval_s


def watches(entries: Sequence[Entry]) -> list[Watch]:
    """The target groups the entries took the instance out of (read once, before waiting)."""
    found: dict[str, Watch] = {}
    for entry in entries:
        params = {**entry.params, **entry.inverse_params}
        instance_id = str(params.get("instance_id") or "")
        region = entry.region or None
        pairs: list[tuple[str, int | None]]
        if entry.inverse == "ExitStandby":
            pairs = [(arn, None) for arn in _asg_groups(str(params.get("asg") or ""), region)]
        else:
            pairs = [(str(t.get("arn")), int(str(t["port"])) if t.get("port") else None)
                     for t in params.get("targets") or []]
        for arn, port in pairs:
            if arn not in found:
                found[arn] = _watch(arn, instance_id, port, region)
    return list(found.values())


def _asg_groups(asg: str, region: str | None) -> list[str]:
    autoscaling = client("autoscaling", region)
    with aws_call("autoscaling", "DescribeAutoScalingGroups", asg):
        groups = autoscaling.describe_auto_scaling_groups(
            AutoScalingGroupNames=[asg]).get("AutoScalingGroups", [])
    return [str(arn) for g in groups for arn in g.get("TargetGroupARNs", [])]


def _watch(arn: str, instance_id: str, port: int | None, region: str | None) -> Watch:
    """The wait's deadline and poll interval from the group's health check (aws-traffic.md)."""
    elbv2 = client("elbv2", region)
    with aws_call("elbv2", "DescribeTargetGroups", arn):
        group = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
    interval = float(group.get("HealthCheckIntervalSeconds") or 30)
    timeout = float(group.get("HealthCheckTimeoutSeconds") or 5)
    threshold = int(group.get("HealthyThresholdCount") or 5)
    return Watch(arn, instance_id, port, 60 + (threshold + 1) * (interval + timeout),
                 max(2.0, interval / 2))


def target_state(watch: Watch, region: str | None) -> tuple[str, str]:
    """(state, reason) of the instance in the group: one DescribeTargetHealth."""
    elbv2 = client("elbv2", region)
    with aws_call("elbv2", "DescribeTargetHealth", watch.arn):
        found = elbv2.describe_target_health(TargetGroupArn=watch.arn,
                                             Targets=[watch.target])
    for item in found.get("TargetHealthDescriptions", []):
        health = item.get("TargetHealth", {})
        return str(health.get("State") or "unknown"), str(health.get("Reason") or "")
    return "unused", "Target.NotRegistered"


def wait_restored(entries: Sequence[Entry], *, region: str | None = None,
                  sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> str:
    """Poll each group until it sees the instance healthy (``unavailable`` passes).

    Raises :class:`AwsCallFailed` (code ``TargetNotHealthy``) naming the group,
    the state and the reason when a deadline passes.
    """
    region = region or next((e.region for e in entries if e.region), None)
    said = []
    for watch in watches(entries):
        start = clock()
        while True:
            state, reason = target_state(watch, region)
            if state in ("healthy", "unavailable"):
                said.append(f"{watch.name} {state} after {clock() - start:.0f}s")
                break
            if clock() - start + watch.interval_s > watch.deadline_s:
                raise AwsCallFailed(
                    f"{watch.name}: {watch.target['Id']} still {state} {reason} after "
                    f"{clock() - start:.0f}s", service="elbv2",
                    operation="DescribeTargetHealth", code="TargetNotHealthy")
            sleep(watch.interval_s)
    return ", ".join(said) or "no target group to wait for"


def instance_view(instance_id: str, target_groups: Sequence[str],
                  region: str | None = None) -> dict[str, object]:
    """For ``hdhooks status``: the instance's Auto Scaling state and each group's view.

    The groups are those of its Auto Scaling group plus ``target_groups``
    (names or ARNs from the config). Read-only Describe calls, one per group.
    """
    autoscaling = client("autoscaling", region)
    with aws_call("autoscaling", "DescribeAutoScalingInstances", instance_id):
        found = autoscaling.describe_auto_scaling_instances(
            InstanceIds=[instance_id]).get("AutoScalingInstances", [])
    view: dict[str, object] = {"controlled": True, "instance_id": instance_id}
    arns: list[str] = []
    if found:
        asg = str(found[0].get("AutoScalingGroupName") or "")
        view.update(asg=asg, lifecycle_state=found[0].get("LifecycleState"),
                    health_status=found[0].get("HealthStatus"))
        arns += _asg_groups(asg, region)
    arns += [tg for tg in target_groups if tg.startswith("arn:")]
    names = [tg for tg in target_groups if not tg.startswith("arn:")]
    if names:
        elbv2 = client("elbv2", region)
        with aws_call("elbv2", "DescribeTargetGroups", ", ".join(names)):
            arns += [str(g["TargetGroupArn"]) for g in elbv2.describe_target_groups(
                Names=names).get("TargetGroups", [])]
    groups = []
    for arn in dict.fromkeys(arns):
        watch = Watch(arn, instance_id, None, 0, 0)
        state, reason = target_state(watch, region)
        groups.append({"arn": arn, "name": watch.name, "state": state, "reason": reason})
    view["target_groups"] = groups
    return view
