"""The least-privilege IAM policy of the instance role, from the component configs.

``hdhooks iam-policy`` prints it; provisioning attaches it to the role. Every
statement comes from something a config uses, so a component that reads no
secrets gets no ``secretsmanager`` statement and one that leaves traffic to
CodeDeploy gets no ELB or Auto Scaling actions. No statement has a wildcard
action: each action is named, so a reviewer can read what the role may do.

Where an exact ARN cannot be known from the config (the account, the Auto
Scaling group hdhooks discovers at deploy time, a target group given by
name), the resource uses the policy variable ``${aws:PrincipalAccount}``
and, for Auto Scaling, a condition on the group's ``hdhooks:component`` tag
so the role can only move instances of its own component's groups.

Pure: builds plain data from configs, no AWS call, no boto3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hdhooks.config.model import ComponentConfig

#: The account in every ARN hdhooks writes: the role's own (no account id hard-coded).
ACCOUNT = "${aws:PrincipalAccount}"
#: The tag an Auto Scaling group carries to name the component it runs.
COMPONENT_TAG = "hdhooks:component"

# Read-only calls whose IAM actions support no resource-level permissions:
# they must be granted on "*" (AWS's service authorization reference).
DISCOVERY_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTrafficSources",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
)
#: What block, allow and reconcile change in the component's Auto Scaling group.
ASG_ACTIONS = (
    "autoscaling:EnterStandby",
    "autoscaling:ExitStandby",
    # reconcile undoes a journalled SuspendProcesses of the component's group
    "autoscaling:ResumeProcesses",
    "autoscaling:SetInstanceHealth",
)
#: What block and allow change in a target group.
ELB_ACTIONS = (
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:RegisterTargets",
)
#: Whether the deployment group uses CodeDeploy's own traffic control, and
#: whether a deployment is still running (reconcile leaves those alone).
CODEDEPLOY_ACTIONS = ("codedeploy:GetDeployment", "codedeploy:GetDeploymentGroup")


@dataclass(frozen=True)
class Scope:
    """What narrows the resources: known names, or the role's own account."""

    region: str = "*"
    account: str = ACCOUNT
    asg_names: tuple[str, ...] = ()  # exact Auto Scaling group names, when known
    application: str | None = None  # the CodeDeploy application, when known
    kms_keys: tuple[str, ...] = ()  # key ARNs for kms:Decrypt; empty: the account's keys


@dataclass
class _Uses:
    """What the configs use, gathered before the statements are written."""

    components: set[str] = field(default_factory=set)
    ssm_paths: set[str] = field(default_factory=set)
    ssm_names: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    traffic: set[str] = field(default_factory=set)  # components with hdhooks traffic control
    target_groups: set[str] = field(default_factory=set)
    metrics_namespaces: set[str] = field(default_factory=set)


def uses_traffic(config: ComponentConfig) -> bool:
    """Whether hdhooks may move this component's traffic (``auto`` or ``hdhooks``)."""
    return config.traffic.mode in ("auto", "hdhooks")


def put_metric_data(config: ComponentConfig) -> str | None:
    """The namespace PutMetricData is configured for, or None (EMF lines only)."""
    metrics = config.metrics
    return metrics.namespace if metrics.put_metric_data else None


def _gather(configs: Iterable[ComponentConfig]) -> _Uses:
    uses = _Uses()
    for config in configs:
        uses.components.add(config.component)
        uses.ssm_paths.update(config.ssm.paths)
        uses.ssm_names.update(config.ssm.parameters.values())
        uses.secrets.update(ref.id for ref in config.secrets)
        if uses_traffic(config):
            uses.traffic.add(config.component)
            uses.target_groups.update(config.traffic.target_groups)
        namespace = put_metric_data(config)
        if namespace:
            uses.metrics_namespaces.add(namespace)
    return uses


def _arn(scope: Scope, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{scope.region}:{scope.account}:{resource}"


def _statement(sid: str, actions: Iterable[str], resources: Iterable[str],
               condition: dict[str, Any] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)),
                             "Resource": sorted(set(resources))}
    if condition:
        found["Condition"] = condition
    return found


def _ssm_statements(uses: _Uses, scope: Scope) -> list[dict[str, Any]]:
    """GetParametersByPath on each path (and below it); GetParameter(s) on each name."""
    found = []
    if uses.ssm_paths:
        resources = []
        for path in uses.ssm_paths:
            base = "/" + path.strip("/") if path.strip("/") else ""
            resources += [_arn(scope, "ssm", f"parameter{base}"),
                          _arn(scope, "ssm", f"parameter{base}/*")]
        found.append(_statement("SsmPaths", ["ssm:GetParametersByPath"], resources))
    if uses.ssm_names:
        resources = [name if name.startswith("arn:") else
                     _arn(scope, "ssm", f"parameter/{name.lstrip('/')}")
                     for name in uses.ssm_names]
        found.append(_statement("SsmParameters", ["ssm:GetParameter", "ssm:GetParameters"],
                                resources))
    return found


def _secret_arn(secret_id: str, scope: Scope) -> str:
    """A secret's ARN; a name gets the six-character suffix Secrets Manager adds."""
    if secret_id.startswith("arn:"):
        return secret_id
    return _arn(scope, "secretsmanager", f"secret:{secret_id}-??????")


def _secret_statements(uses: _Uses, scope: Scope) -> list[dict[str, Any]]:
    if not uses.secrets:
        return []
    return [_statement("Secrets", ["secretsmanager:GetSecretValue"],
                       [_secret_arn(s, scope) for s in uses.secrets])]


def _kms_statements(uses: _Uses, scope: Scope) -> list[dict[str, Any]]:
    """kms:Decrypt only through SSM / Secrets Manager, and only when they are read.

    hdhooks always asks for decrypted parameters, so any SSM read may need the
    key of a SecureString. ``kms:ViaService`` keeps the role from calling KMS
    directly with the same key.
    """
    services = []
    if uses.ssm_paths or uses.ssm_names:
        services.append(f"ssm.{scope.region}.amazonaws.com")
    if uses.secrets:
        services.append(f"secretsmanager.{scope.region}.amazonaws.com")
    if not services:
        return []
    keys = scope.kms_keys or (_arn(scope, "kms", "key/*"),)
    return [_statement("DecryptViaService", ["kms:Decrypt"], keys,
                       {"StringLike": {"kms:ViaService": sorted(services)}})]


def _target_group_arn(name_or_arn: str, scope: Scope) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return _arn(scope, "elasticloadbalancing", f"targetgroup/{name_or_arn}/*")


def _traffic_statements(uses: _Uses, scope: Scope) -> list[dict[str, Any]]:
    """Describe* on "*", Standby and health on the component's groups, targets on its TGs.

    The Auto Scaling group is found at deploy time, so unless ``asg_names``
    says which it is, the actions are allowed on any group of the account that
    carries the component's tag. Target groups not named in the config come
    from that group; they are limited the same way, by their tag.
    """
    if not uses.traffic:
        return []
    components = sorted(uses.traffic)
    found = [_statement("TrafficDiscovery", DISCOVERY_ACTIONS, ["*"])]
    if scope.asg_names:
        found.append(_statement("TrafficStandby", ASG_ACTIONS, [
            _arn(scope, "autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{name}")
            for name in scope.asg_names]))
    else:
        found.append(_statement(
            "TrafficStandby", ASG_ACTIONS,
            [_arn(scope, "autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")],
            {"StringEquals": {f"autoscaling:ResourceTag/{COMPONENT_TAG}": components}}))
    if uses.target_groups:
        found.append(_statement("TrafficTargets", ELB_ACTIONS, [
            _target_group_arn(tg, scope) for tg in uses.target_groups]))
    else:
        found.append(_statement(
            "TrafficTargets", ELB_ACTIONS, [_arn(scope, "elasticloadbalancing", "targetgroup/*/*")],
            {"StringEquals": {f"aws:ResourceTag/{COMPONENT_TAG}": components}}))
    application = scope.application or "*"
    found.append(_statement("TrafficCodeDeploy", CODEDEPLOY_ACTIONS, [
        _arn(scope, "codedeploy", f"deploymentgroup:{application}/*")]))
    return found


def _metric_statements(uses: _Uses) -> list[dict[str, Any]]:
    if not uses.metrics_namespaces:
        return []
    return [_statement("Metrics", ["cloudwatch:PutMetricData"], ["*"],
                       {"StringEquals": {"cloudwatch:namespace":
                                         sorted(uses.metrics_namespaces)}})]


def build_policy(configs: Sequence[ComponentConfig], scope: Scope | None = None) -> dict[str, Any]:
    """The policy document (Version 2012-10-17) the instance role needs for ``configs``.

    An empty ``Statement`` list means the configs need no AWS permission at all.
    """
    scope = scope or Scope()
    uses = _gather(configs)
    statements = [*_ssm_statements(uses, scope), *_secret_statements(uses, scope),
                  *_kms_statements(uses, scope), *_traffic_statements(uses, scope),
                  *_metric_statements(uses)]
    return {"Version": "2012-10-17", "Statement": statements}


def policy_actions(policy: dict[str, Any]) -> set[str]:
    """Every action a policy allows (for checks that compare it with the code)."""
    return {action for statement in policy.get("Statement", [])
            for action in statement.get("Action", [])}


def bundle_configs(bundle: str, environment: str | None = None) -> list[ComponentConfig]:
    """The bundle's config for ``environment``, or for each environment it defines.

    A role usually serves one environment, but the policy of every overlay
    together is what a role shared by all of them needs; an environment that
    does not load is an error here, since a policy that leaves it out would
    fail at deploy time.
    """
    from hdhooks.config.load import config_path, load_config

    if environment:
        return [load_config(bundle, environment=environment)]
    from hdhooks.yamlsrc.loader import load, read_file

    doc = load(read_file(str(config_path(bundle))))
    root = doc.root if doc.root is not None and doc.root.is_map else None
    overlays = root.get("environments") if root is not None else None
    fixed = root.get("environment") if root is not None else None
    if fixed is not None and fixed.is_str:
        names: list[str | None] = [str(fixed.value)]
    elif overlays is not None and overlays.is_map:
        names = [str(name) for name, _ in overlays.items()] or [None]
    else:
        names = [None]
    return [load_config(bundle, environment=name) for name in names]
