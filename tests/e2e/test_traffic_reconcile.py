"""``hdhooks reconcile`` after a deployment left the instance out of traffic.

The example component really runs (a process hdhooks starts); the Auto
Scaling group and its target group live in moto's server over HTTP. The
journal entry is the one the ApplicationStop hook writes before its
EnterStandby; the deployment then fails, and reconcile must bring the
previous release back, give the capacity back and leave nothing open.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from hdhooks.aws.journal import Journal
from tests.e2e.hookkit import GROUP, HDHOOKS, Machine, Run, assert_outcome

_names = itertools.count(1)


@dataclass
class Fleet:
    """One Auto Scaling group (desired 2) behind one target group, in moto."""

    asg: str
    target_group: str
    instance_id: str

    def lifecycle(self) -> tuple[str, str]:
        found = boto3.client("autoscaling").describe_auto_scaling_instances(
            InstanceIds=[self.instance_id])["AutoScalingInstances"][0]
        return found["LifecycleState"], found["HealthStatus"]

    def desired(self) -> int:
        return int(boto3.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.asg])["AutoScalingGroups"][0]["DesiredCapacity"])

    def enter_standby(self) -> None:
        boto3.client("autoscaling").enter_standby(
            AutoScalingGroupName=self.asg, InstanceIds=[self.instance_id],
            ShouldDecrementDesiredCapacity=True)


@pytest.fixture
def fleet(aws_env: dict[str, str]) -> Fleet:
    n = next(_names)
    ec2, elbv2, autoscaling = (boto3.client(s) for s in ("ec2", "elbv2", "autoscaling"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                               AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
    tg = elbv2.create_target_group(
        Name=f"hello-rc-{n}", Protocol="HTTP", Port=8080, VpcId=vpc,
        HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    ec2.create_launch_template(LaunchTemplateName=f"hello-rc-{n}", LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
    asg = f"hello-rc-{n}"
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=asg, LaunchTemplate={"LaunchTemplateName": asg}, MinSize=1,
        MaxSize=3, DesiredCapacity=2, VPCZoneIdentifier=subnet, TargetGroupARNs=[tg],
        Tags=[{"Key": "hdhooks:component", "Value": "hello-service",
               "PropagateAtLaunch": False}])
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg])
    instance = group["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    return Fleet(asg, tg, instance)


@pytest.fixture
def machine(tmp_path: Path, aws_env: dict[str, str]) -> Iterator[Machine]:
    m = Machine(tmp_path)
    # Not on EC2: the hooks' own traffic steps skip; the journal entry stands
    # for what ApplicationStop did on a real instance.
    m.extra_env.update(aws_env, AWS_EC2_METADATA_DISABLED="true")
    yield m
    m.cleanup()


def out_of_traffic(machine: Machine, fleet: Fleet, deployment_id: str) -> None:
    """What ApplicationStop does with `standby: auto` in an ASG: journal, then EnterStandby."""
    params = {"asg": fleet.asg, "instance_id": fleet.instance_id, "decrement": True}
    Journal(str(machine.state_dir)).begin(
        component="hello-service", region="eu-west-1", deployment_group=GROUP,
        deployment_id=deployment_id, action="EnterStandby", params=params,
        inverse_params=params, event="ApplicationStop")
    fleet.enter_standby()


def reconcile(machine: Machine, *args: str) -> Run:
    return machine.run([HDHOOKS, "reconcile", *args], machine.env(), timeout=180)


def no_disk(cfg: dict[str, Any]) -> None:
    cfg["environments"]["demo"]["preflight"] = {"min_free_disk_mb": 10**9}


def failed_after_stop(machine: Machine, fleet: Fleet, deployment_id: str,
                      edit: Any = no_disk) -> None:
    """A deployment that takes the instance out, stops the service and fails in BeforeInstall."""
    out_of_traffic(machine, fleet, deployment_id)
    broken = machine.bundle(f"broken-{deployment_id}", "build-b", edit=edit)
    assert machine.hook("ApplicationStop", machine.current_link, deployment_id).returncode == 0
    assert_outcome(machine.hook("BeforeInstall", broken, deployment_id), "FAILED",
                   "BeforeInstall", 1)
    assert machine.build_answering() is None
    assert fleet.lifecycle()[0] == "Standby" and fleet.desired() == 1


def test_reconcile_restores_previous_release_and_capacity(machine: Machine,
                                                          fleet: Fleet) -> None:
    runs = machine.deploy(machine.bundle("a", "build-a"), "d-AAAAAAAA1")
    assert all(r.returncode == 0 for r in runs.values()), runs
    failed_after_stop(machine, fleet, "d-BBBBBBBB1")

    done = reconcile(machine)
    assert done.returncode == 0, done.describe()
    line = next(x for x in done.stdout.splitlines() if x.startswith("OK reconcile"))
    assert "hello-service" in line and "ExitStandby" in line, line
    assert machine.build_answering() == "build-a"
    assert fleet.lifecycle() == ("InService", "Healthy")
    assert fleet.desired() == 2
    assert Journal(str(machine.state_dir)).open_entries() == []

    again = reconcile(machine)
    assert again.returncode == 0, again.describe()
    assert "nothing to do" in again.stdout


def test_reconcile_with_nothing_to_do_says_so(machine: Machine) -> None:
    done = reconcile(machine)
    assert done.returncode == 0, done.describe()
    assert done.stdout.strip() == "OK reconcile: nothing to do (no open journal entries)"
    assert reconcile(machine, "--format", "json").stdout.strip() == (
        '{"ok": true, "nothing_to_do": true, "components": []}')


def test_unhealthy_release_gives_capacity_back_and_asks_for_replacement(
        machine: Machine, fleet: Fleet) -> None:
    def bad_check(cfg: dict[str, Any]) -> None:
        # The release starts, but its health answer never matches: it can never be healthy.
        cfg["environments"]["demo"]["health"].update(deadline=2, json_fields={
            "build_id": "never-this"})

    runs = machine.deploy(machine.bundle("bad", "build-bad", edit=bad_check), "d-CCCCCCCC1")
    assert runs["ValidateService"].returncode == 1
    out_of_traffic(machine, fleet, "d-CCCCCCCC1")

    done = reconcile(machine)
    assert done.returncode == 1, done.describe()
    line = next(x for x in done.stdout.splitlines() if x.startswith("FAILED reconcile"))
    assert "ExitStandby" in line and "Unhealthy" in line and fleet.asg in line, line
    assert fleet.lifecycle() == ("InService", "Unhealthy")
    assert fleet.desired() == 2
    assert Journal(str(machine.state_dir)).open_entries() == []


def test_running_deployment_is_left_alone(machine: Machine, fleet: Fleet) -> None:
    codedeploy = boto3.client("codedeploy")
    app = f"hello-{fleet.asg}"
    codedeploy.create_application(applicationName=app, computePlatform="Server")
    codedeploy.create_deployment_group(
        applicationName=app, deploymentGroupName=GROUP,
        serviceRoleArn="arn:aws:iam::123456789012:role/cd", autoScalingGroups=[fleet.asg])
    running = codedeploy.create_deployment(
        applicationName=app, deploymentGroupName=GROUP,
        revision={"revisionType": "S3", "s3Location": {
            "bucket": "b", "key": "k", "bundleType": "zip"}})["deploymentId"]
    out_of_traffic(machine, fleet, running)

    done = reconcile(machine, "--format", "json")
    assert done.returncode == 0, done.describe()
    import json

    report = json.loads(done.stdout)
    assert report["components"][0]["action"] == "leave"
    assert running in report["components"][0]["summary"]
    assert fleet.lifecycle()[0] == "Standby"
    assert len(Journal(str(machine.state_dir)).open_entries()) == 1


def test_next_deployment_of_the_group_adopts_the_entry(machine: Machine,
                                                       fleet: Fleet) -> None:
    runs = machine.deploy(machine.bundle("a", "build-a"), "d-AAAAAAAA2")
    assert all(r.returncode == 0 for r in runs.values()), runs
    failed_after_stop(machine, fleet, "d-BBBBBBBB2")

    stop = machine.hook("ApplicationStop", machine.current_link, "d-DDDDDDDD2")
    assert_outcome(stop, "OK", "ApplicationStop", 0)
    assert "d-DDDDDDDD2 takes over" in stop.stdout, stop.describe()
    (entry,) = Journal(str(machine.state_dir)).open_entries()
    assert entry.deployment_id == "d-DDDDDDDD2" and entry.action == "EnterStandby"
    # Still out of traffic: the new deployment's allow step brings it back.
    assert fleet.lifecycle()[0] == "Standby"
