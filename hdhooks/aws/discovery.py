"""What traffic control needs to know about this instance, found once per deployment.

ApplicationStop (or BeforeBlockTraffic) discovers; the later hooks of the
same deployment read the JSON cached under
``<state dir>/traffic/<component>/<deployment>.json``, so nothing that does
not change during a deployment is asked again, and nothing is asked inside
a poll loop. Sources: IMDSv2 (instance id, region, target lifecycle state),
DescribeAutoScalingInstances / DescribeAutoScalingGroups (ASG, capacity,
attached target groups), DescribeTargetGroups / DescribeTargetGroupAttributes
(port, health checks, deregistration delay), and GetDeploymentGroup (whether
CodeDeploy's own traffic control moves the same targets).
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from hdhooks.aws import imds
from hdhooks.aws.session import AwsCallFailed, aws_call, client
from hdhooks.errors import HdhooksError
from hdhooks.fsread import read_regular
from hdhooks.fsutil import atomic_write, ensure_dir

CACHE_VERSION = 1


@dataclass(frozen=True)
class Group:
    """One target group this instance serves in, with the settings the waits depend on."""

    arn: str
    name: str
    port: int  # the port this instance is registered with
    interval: int = 30
    timeout: int = 5
    healthy: int = 5
    unhealthy: int = 2
    dereg_delay: int = 300
    in_asg: bool = False  # attached to the instance's Auto Scaling group


@dataclass(frozen=True)
class Discovery:
    """Everything block and allow act on; cached as JSON for the deployment's later hooks."""

    instance_id: str
    region: str
    lifecycle: str | None = None  # IMDS target lifecycle state (InService, Terminated, ...)
    asg: str | None = None
    asg_state: str | None = None  # DescribeAutoScalingInstances LifecycleState
    min_size: int = 0
    desired: int = 0
    max_size: int = 0
    groups: tuple[Group, ...] = ()
    codedeploy_control: str = "unknown"  # on | off | unknown
    codedeploy_reason: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def asg_groups(self) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if g.in_asg)

    @property
    def other_groups(self) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if not g.in_asg)

    def to_json(self) -> str:
        doc = asdict(self)
        doc["version"] = CACHE_VERSION
        return json.dumps(doc, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Discovery:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.pop("version", None) != CACHE_VERSION:
            raise ValueError("not a discovery record of this hdhooks")
        doc["groups"] = tuple(Group(**g) for g in doc.get("groups") or ())
        doc["notes"] = tuple(doc.get("notes") or ())
        return cls(**doc)


@dataclass(frozen=True)
class Ask:
    """What discovery is asked for: the component's traffic settings and the deployment."""

    component: str
    deployment_id: str
    deployment_group: str | None
    application: str | None
    target_groups: tuple[str, ...]
    port: int | None
    imds_v1: bool = False


def safe_name(text: str) -> str:
    """A file name for any string: itself when plain, else a checksum of it."""
    if text and len(text) <= 64 and all(c.isalnum() or c in "-_" for c in text):
        return text
    raw = text.encode("utf-8", "surrogatepass")
    return f"x{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}"


def cache_path(state_dir: str, component: str, deployment_id: str) -> str:
    return os.path.join(state_dir, "traffic", safe_name(component),
                        safe_name(deployment_id) + ".json")


def cached(state_dir: str, ask: Ask) -> Discovery | None:
    """The discovery an earlier hook of this deployment made, or None."""
    path = cache_path(state_dir, ask.component, ask.deployment_id)
    try:
        return Discovery.from_json(read_regular(path, 1024 * 1024).decode("utf-8"))
    except (OSError, HdhooksError, ValueError, TypeError, UnicodeDecodeError):
        return None


def discover(state_dir: str, ask: Ask, *, refresh: bool = False) -> Discovery:
    """This deployment's :class:`Discovery`: from the cache, else from IMDS and AWS."""
    hit = None if refresh else cached(state_dir, ask)
    if hit is not None:
        return hit
    found = _discover(ask)
    path = cache_path(state_dir, ask.component, ask.deployment_id)
    ensure_dir(os.path.dirname(path), 0o700)
    atomic_write(path, found.to_json(), mode=0o600)
    return found


def _discover(ask: Ask) -> Discovery:
    instance_id = imds.instance_id(allow_v1=ask.imds_v1)
    region = imds.region(allow_v1=ask.imds_v1) or ""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or region
    lifecycle = imds.lifecycle_state(allow_v1=ask.imds_v1)
    control, why = codedeploy_control(ask, region)
    base = Discovery(instance_id=instance_id, region=region, lifecycle=lifecycle,
                     codedeploy_control=control, codedeploy_reason=why)
    if control == "on":
        return base  # nothing more is needed: hdhooks will not move these targets
    asg, asg_state = _asg_membership(instance_id, region)
    sizes: tuple[int, int, int] = (0, 0, 0)
    asg_arns: list[str] = []
    if asg:
        sizes, asg_arns = _asg_details(asg, region)
    groups = _groups(ask, region, asg_arns)
    return Discovery(instance_id=instance_id, region=region, lifecycle=lifecycle, asg=asg,
                     asg_state=asg_state, min_size=sizes[0], desired=sizes[1],
                     max_size=sizes[2], groups=groups, codedeploy_control=control,
                     codedeploy_reason=why)


def codedeploy_control(ask: Ask, region: str) -> tuple[str, str]:
    """Whether the deployment group uses CodeDeploy's own traffic control ("on"/"off"/"unknown")."""
    if not ask.application or not ask.deployment_group:
        return "unknown", "APPLICATION_NAME / DEPLOYMENT_GROUP_NAME are not set"
    try:
        with aws_call("codedeploy", "GetDeploymentGroup", ask.deployment_group):
            info = client("codedeploy", region).get_deployment_group(
                applicationName=ask.application, deploymentGroupName=ask.deployment_group)
    except AwsCallFailed as exc:
        return "unknown", f"cannot tell whether CodeDeploy controls traffic: {exc.one_line()}"
    group = info.get("deploymentGroupInfo") or {}
    option = (group.get("deploymentStyle") or {}).get("deploymentOption", "")
    if option == "WITH_TRAFFIC_CONTROL":
        return "on", (f"deployment group {ask.deployment_group} uses CodeDeploy's traffic "
                      "control (WITH_TRAFFIC_CONTROL)")
    return "off", ""


def _asg_membership(instance_id: str, region: str) -> tuple[str | None, str | None]:
    with aws_call("autoscaling", "DescribeAutoScalingInstances", instance_id):
        answer = client("autoscaling", region).describe_auto_scaling_instances(
            InstanceIds=[instance_id])
    for item in answer.get("AutoScalingInstances") or []:
        if item.get("InstanceId") == instance_id:
            return str(item.get("AutoScalingGroupName")), str(item.get("LifecycleState"))
    return None, None


def _asg_details(asg: str, region: str) -> tuple[tuple[int, int, int], list[str]]:
    with aws_call("autoscaling", "DescribeAutoScalingGroups", asg):
        answer = client("autoscaling", region).describe_auto_scaling_groups(
            AutoScalingGroupNames=[asg])
    for item in answer.get("AutoScalingGroups") or []:
        sizes = (int(item.get("MinSize", 0)), int(item.get("DesiredCapacity", 0)),
                 int(item.get("MaxSize", 0)))
        return sizes, [str(a) for a in item.get("TargetGroupARNs") or []]
    return (0, 0, 0), []


def _groups(ask: Ask, region: str, asg_arns: list[str]) -> tuple[Group, ...]:
    """Every group the instance serves in: the ASG's and the configured ones."""
    arns = [t for t in ask.target_groups if t.startswith("arn:")]
    names = [t for t in ask.target_groups if not t.startswith("arn:")]
    wanted = list(dict.fromkeys([*asg_arns, *arns]))
    found: list[dict[str, Any]] = []
    elb = client("elbv2", region)
    if wanted:
        with aws_call("elbv2", "DescribeTargetGroups", ", ".join(wanted)):
            found += elb.describe_target_groups(TargetGroupArns=wanted)["TargetGroups"]
    if names:
        with aws_call("elbv2", "DescribeTargetGroups", ", ".join(names)):
            found += elb.describe_target_groups(Names=names)["TargetGroups"]
    groups: dict[str, Group] = {}
    for tg in found:
        arn = str(tg["TargetGroupArn"])
        if arn in groups:
            continue
        with aws_call("elbv2", "DescribeTargetGroupAttributes", arn):
            attrs = elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        delay = next((a.get("Value") for a in attrs
                      if a.get("Key") == "deregistration_delay.timeout_seconds"), "300")
        groups[arn] = Group(
            arn=arn, name=str(tg.get("TargetGroupName", arn.rsplit("/", 2)[-2])),
            port=int(ask.port or tg.get("Port") or 80),
            interval=int(tg.get("HealthCheckIntervalSeconds", 30)),
            timeout=int(tg.get("HealthCheckTimeoutSeconds", 5)),
            healthy=int(tg.get("HealthyThresholdCount", 5)),
            unhealthy=int(tg.get("UnhealthyThresholdCount", 2)),
            dereg_delay=int(delay or 300), in_asg=arn in asg_arns)
    return tuple(groups.values())
