"""The instance role's policy is built from what the configs use, and nothing else."""

from __future__ import annotations

from typing import Any

from hdhooks.aws.policy import Scope, build_policy, policy_actions
from hdhooks.config.model import (
    ComponentConfig,
    HooksConfig,
    PreflightConfig,
    ReleasesConfig,
    SecretRef,
    ServiceConfig,
    SsmConfig,
    TrafficConfig,
)


def config(**kw: Any) -> ComponentConfig:
    base: dict[str, Any] = dict(
        component="api", environment="prod", environment_source="test", path="x",
        bundle_dir="/b", service=ServiceConfig(name="api"),
        releases=ReleasesConfig(base_dir="/opt/api"), health=None,
        preflight=PreflightConfig(), templates=(), values={}, ssm=SsmConfig(),
        secrets=(), traffic=TrafficConfig(mode="off"), hooks=HooksConfig())
    base.update(kw)
    return ComponentConfig(**base)


def statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_nothing_used_means_no_statement() -> None:
    policy = build_policy([config()])
    assert policy == {"Version": "2012-10-17", "Statement": []}


def test_ssm_paths_and_names_are_scoped_and_decrypt_goes_through_ssm() -> None:
    ssm = SsmConfig(paths=("/api/prod/",), parameters={"db": "/shared/db-host"})
    found = statements(build_policy([config(ssm=ssm)], Scope(region="eu-west-1")))
    assert found["SsmPaths"]["Action"] == ["ssm:GetParametersByPath"]
    assert found["SsmPaths"]["Resource"] == [
        "arn:aws:ssm:eu-west-1:${aws:PrincipalAccount}:parameter/api/prod",
        "arn:aws:ssm:eu-west-1:${aws:PrincipalAccount}:parameter/api/prod/*"]
    assert found["SsmParameters"]["Resource"] == [
        "arn:aws:ssm:eu-west-1:${aws:PrincipalAccount}:parameter/shared/db-host"]
    assert found["DecryptViaService"]["Condition"] == {
        "StringLike": {"kms:ViaService": ["ssm.eu-west-1.amazonaws.com"]}}
    assert "Secrets" not in found


def test_secret_by_name_gets_the_suffix_and_arns_stay() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:api/key-AbCdEf"
    refs = (SecretRef("db", "api/db"), SecretRef("key", arn))
    found = statements(build_policy([config(secrets=refs)]))
    assert found["Secrets"]["Resource"] == sorted([
        "arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:api/db-??????", arn])
    assert found["DecryptViaService"]["Condition"]["StringLike"]["kms:ViaService"] == [
        "secretsmanager.*.amazonaws.com"]


def test_traffic_control_scopes_mutations_and_leaves_describe_on_star() -> None:
    traffic = TrafficConfig(mode="hdhooks", target_groups=(
        "api-prod", "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/api-b/0123"))
    found = statements(build_policy([config(traffic=traffic)], Scope(asg_names=("api-asg",))))
    assert found["TrafficDiscovery"]["Resource"] == ["*"]
    assert all(a.split(":")[1].startswith("Describe")
               for a in found["TrafficDiscovery"]["Action"])
    assert found["TrafficStandby"]["Resource"] == [
        "arn:aws:autoscaling:*:${aws:PrincipalAccount}:autoScalingGroup:*:"
        "autoScalingGroupName/api-asg"]
    assert found["TrafficTargets"]["Resource"] == sorted([
        "arn:aws:elasticloadbalancing:*:${aws:PrincipalAccount}:targetgroup/api-prod/*",
        "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/api-b/0123"])


def test_discovered_groups_are_limited_by_the_component_tag() -> None:
    found = statements(build_policy([config(traffic=TrafficConfig(mode="auto")),
                                     config(component="web", traffic=TrafficConfig())]))
    condition = found["TrafficStandby"]["Condition"]["StringEquals"]
    assert condition == {"autoscaling:ResourceTag/hdhooks:component": ["api", "web"]}
    assert found["TrafficTargets"]["Condition"]["StringEquals"] == {
        "aws:ResourceTag/hdhooks:component": ["api", "web"]}


def test_codedeploy_control_needs_no_elb_or_asg_action() -> None:
    policy = build_policy([config(traffic=TrafficConfig(mode="codedeploy"))])
    assert not any(a.startswith(("autoscaling:", "elasticloadbalancing:"))
                   for a in policy_actions(policy))


def test_no_wildcard_action_anywhere() -> None:
    everything = config(ssm=SsmConfig(paths=("/a",), parameters={"b": "/b"}),
                        secrets=(SecretRef("c", "c"),), traffic=TrafficConfig(mode="hdhooks"))
    for action in policy_actions(build_policy([everything])):
        assert "*" not in action and "?" not in action


def test_put_metric_data_only_when_configured_and_only_in_its_namespace() -> None:
    from hdhooks.config.model import MetricsConfig

    assert "cloudwatch:PutMetricData" not in policy_actions(build_policy([config()]))
    found = statements(build_policy([config(metrics=MetricsConfig(
        put_metric_data=True, namespace="shop"))]))
    assert found["Metrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": ["shop"]}}
