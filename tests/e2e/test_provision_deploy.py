"""`hdhooks provision deploy` against moto's server over HTTP.

moto creates the resource types it models (IAM, KMS, S3, SSM, EC2, Auto
Scaling, ELBv2, Route 53, Logs, CloudWatch dashboards); the tests read them
back through boto3. It silently skips CodeDeploy, CodePipeline, CodeBuild and
alarms, which tests/integration/provision checks in the templates instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.provision import REGION, Network, make_network, manifest_text

HDHOOKS = Path(sys.executable).parent / "hdhooks"
FAIL_REGION = "ap-southeast-2"


def deploy(manifest: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HDHOOKS), "provision", "deploy", str(manifest), "-e", "test",
                           *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


@pytest.fixture(scope="module")
def network(moto_server: str) -> Iterator[tuple[Network, dict[str, str]]]:
    env = {"AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
           "AWS_REGION": REGION}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield make_network("provdeploy"), env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def deployed(network: tuple[Network, dict[str, str]],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A dry run, then the real deploy, of platform ``pd`` (shared across the module)."""
    net, env = network
    manifest = tmp_path_factory.mktemp("deploy") / "components.yml"
    manifest.write_text(manifest_text("pd", net))
    dry = deploy(manifest, env, "--dry-run")
    stacks_after_dry = _stack_names()
    real = deploy(manifest, env)
    return {"manifest": manifest, "env": env, "net": net, "dry": dry,
            "stacks_after_dry": stacks_after_dry, "real": real}


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=REGION)


def _stack_names() -> set[str]:
    return {s["StackName"] for s in _client("cloudformation").describe_stacks()["Stacks"]}


def _outputs(stack: str) -> dict[str, str]:
    found = _client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def test_dry_run_lists_the_changes_and_creates_nothing(deployed: dict[str, Any]) -> None:
    dry = deployed["dry"]
    assert dry.returncode == 0, dry.stderr
    assert "[1/4] pd-shared" in dry.stdout and "[4/4] pd-dashboard" in dry.stdout
    assert "+ Add AWS::KMS::Key Key" in dry.stdout
    assert "+ Add AWS::CodeDeploy::DeploymentGroup DeploymentGroup" in dry.stdout
    assert "4 planned" in dry.stderr
    assert not {n for n in deployed["stacks_after_dry"] if n.startswith("pd-")}


def test_deploy_creates_every_stack_in_order(deployed: dict[str, Any]) -> None:
    real = deployed["real"]
    assert real.returncode == 0, real.stdout + real.stderr
    order = [line.split()[1] for line in real.stdout.splitlines() if line.startswith("[")]
    assert order == ["pd-shared", "pd-api", "pd-web", "pd-dashboard"]
    assert "CREATE_COMPLETE" in real.stdout
    assert "4 created" in real.stderr
    for name in order:
        stack = _client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert {"Key": "hdhooks:environment", "Value": "test"} in stack["Tags"]


def test_shared_stack_key_and_encrypted_bucket(deployed: dict[str, Any]) -> None:
    shared = _outputs("pd-shared")
    key_arn = shared["KeyArn"]
    kms = _client("kms")
    # (moto cannot describe a key whose policy came from a template: listed instead)
    assert key_arn in {k["KeyArn"] for k in kms.list_keys()["Keys"]}
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/pd"] == key_arn.split("/")[-1]
    rules = _client("s3").get_bucket_encryption(Bucket=shared["ArtifactBucket"])[
        "ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    groups = _client("logs").describe_log_groups(logGroupNamePrefix="/pd/")["logGroups"]
    # (moto drops a template's KmsKeyId: tests/integration/provision checks it there)
    assert {g["logGroupName"] for g in groups} == {"/pd/hdhooks", "/pd/api", "/pd/web"}


def test_fleet_is_built_as_the_manifest_says(deployed: dict[str, Any]) -> None:
    api = _outputs("pd-api")
    group = _client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[api["AutoScalingGroupName"]])["AutoScalingGroups"][0]
    assert (group["MinSize"], group["DesiredCapacity"], group["MaxSize"]) == (0, 1, 2)
    assert set(group["VPCZoneIdentifier"].split(",")) == set(deployed["net"].subnet_ids)
    assert group["TargetGroupARNs"] == [api["TargetGroupArn"]]
    data = _client("ec2").describe_launch_template_versions(
        LaunchTemplateId=api["LaunchTemplateId"])["LaunchTemplateVersions"][0][
        "LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    image = _client("ssm").get_parameter(Name=deployed["net"].ami_parameter)["Parameter"]
    assert data["ImageId"] == image["Value"]
    target = _client("elbv2").describe_target_groups(
        TargetGroupArns=[api["TargetGroupArn"]])["TargetGroups"][0]
    assert (target["Port"], target["HealthCheckPath"]) == (8081, "/ready")
    rule = _client("elbv2").describe_rules(RuleArns=[api["ListenerRuleArn"]])["Rules"][0]
    assert rule["Conditions"][0]["HostHeaderConfig"]["Values"] == [
        f"api.{deployed['net'].domain}"]
    assert rule["Actions"][0]["TargetGroupArn"] == api["TargetGroupArn"]


def test_dashboard_exists_for_the_environment(deployed: dict[str, Any]) -> None:
    names = {d["DashboardName"] for d in
             _client("cloudwatch").list_dashboards()["DashboardEntries"]}
    assert "pd-test" in names


def test_second_deploy_says_nothing_changed(deployed: dict[str, Any]) -> None:
    again = deploy(deployed["manifest"], deployed["env"])
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("no changes") == 4
    assert "no changes: all 4 stacks are up to date" in again.stderr


def test_failing_stack_prints_the_reason_and_exits_1(
        network: tuple[Network, dict[str, str]], tmp_path: Path) -> None:
    net, env = network
    manifest = tmp_path / "components.yml"
    missing = ("subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2")
    # Another region: moto keeps the half-made stack, which it can neither list nor
    # delete afterwards, and its state is shared by the whole test session.
    manifest.write_text(manifest_text("pf", net, subnet_ids=missing, region=FAIL_REGION))
    result = deploy(manifest, env, "-c", "api")
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("hdhooks: error")]
    assert len(errors) == 1, result.stderr
    assert "pf-shared" in errors[0] and "subnet-0aaaaaaaaaaaaaaa1" in errors[0]
    assert "Traceback" not in result.stderr
    assert "[2/3] pf-api" not in result.stdout  # the run stops at the failed stack
    assert "pf-shared" not in _stack_names()  # eu-west-1 is left as it was


def test_credentials_of_another_account_are_refused(
        network: tuple[Network, dict[str, str]], tmp_path: Path) -> None:
    net, env = network
    manifest = tmp_path / "components.yml"
    manifest.write_text(manifest_text("pw", net, account="999999999999"))
    result = deploy(manifest, env)
    assert result.returncode == 2
    assert "credentials are for account 123456789012" in result.stderr
    assert "environment test is account 999999999999" in result.stderr
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="does not exist"):
        _client("cloudformation").describe_stacks(StackName="pw-shared")


@pytest.mark.parametrize(("args", "expected"), [
    (("-e", "prod"), "no account for environment 'prod'"),
    (("-e", "test", "-c", "nope"), "no component named nope"),
    (("-e", "test", "--region", "us-east-2"), "has no region us-east-2"),
])
def test_usage_errors_exit_2(network: tuple[Network, dict[str, str]], tmp_path: Path,
                             args: tuple[str, ...], expected: str) -> None:
    net, env = network
    manifest = tmp_path / "components.yml"
    manifest.write_text(manifest_text("pu", net))
    result = subprocess.run([str(HDHOOKS), "provision", "deploy", str(manifest), *args],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env})
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_instance_role_moves_traffic_only_without_codedeploys_control(
        deployed: dict[str, Any]) -> None:
    iam = _client("iam")

    def actions(stack: str) -> set[str]:
        role = _outputs(stack)["InstanceRoleArn"].rsplit("/", 1)[-1]
        doc = iam.get_role_policy(RoleName=role, PolicyName="hdhooks")["PolicyDocument"]
        if isinstance(doc, str):  # moto keeps a template's policy as Python's repr of it
            import ast

            doc = ast.literal_eval(doc) if doc.startswith("{'") else json.loads(doc)
        return {a for s in doc["Statement"] if s for a in s["Action"]}

    assert "elasticloadbalancing:RegisterTargets" in actions("pd-api")  # hdhooks' control
    web = actions("pd-web")  # traffic: codedeploy
    assert "kms:Decrypt" in web
    assert not {a for a in web if a.startswith("elasticloadbalancing:Register")}
    assert "autoscaling:EnterStandby" not in web


def test_dry_run_of_a_change_shows_the_change_set_and_changes_nothing(
        deployed: dict[str, Any], tmp_path: Path) -> None:
    changed = tmp_path / "components.yml"
    changed.write_text(deployed["manifest"].read_text().replace(
        "      health_path: /ready", "      health_path: /ready\n      max_size: 3"))
    result = deploy(changed, deployed["env"], "--dry-run", "-c", "api")
    assert result.returncode == 0, result.stdout + result.stderr
    # (moto lists no resource for a parameter change; CloudFormation lists the group)
    assert "no resource changes" in result.stdout or "~ Modify" in result.stdout
    assert "1 planned" in result.stderr and "2 unchanged" in result.stderr
    group = _client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["pd-api"])["AutoScalingGroups"][0]
    assert group["MaxSize"] == 2
    again = deploy(deployed["manifest"], deployed["env"], "-c", "api")
    assert "no changes" in again.stdout  # the change set of the dry run is gone
