"""``hdhooks reconcile`` after a deployment left the instance out of traffic.

The example component really runs (a process hdhooks starts). The first
tests keep AWS in moto's server and write the journal entry the
ApplicationStop hook writes before its EnterStandby (the hooks themselves
see no instance metadata, so their traffic steps skip): that isolates what
reconcile decides. The later ones run the real hooks against the ALB
emulator and IMDSv2, fail or kill them, and read the Auto Scaling and target
state back.
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


# --- through the real hooks, against the ALB emulator and IMDSv2 ------------------------

@pytest.fixture
def make(tmp_path: Path, traffic_env: dict[str, str], fleet_bed: Any) -> Iterator[Any]:
    from tests.e2e.hookkit import free_port
    from tests.e2e.test_traffic_hooks import TrafficMachine

    machines: list[Machine] = []

    def build(name: str = "hello", **kwargs: Any) -> TrafficMachine:
        comp = fleet_bed.add_component(name, free_port(), **kwargs)
        machine = TrafficMachine(tmp_path / f"m{len(machines)}", traffic_env, comp)
        machines.append(machine)
        return machine

    yield build
    for machine in machines:
        machine.cleanup()


@pytest.fixture
def fleet_bed(alb_emulator: Any, imds_server: Any, request: pytest.FixtureRequest) -> Any:
    from tests.support.awsbed import Fleet as BedFleet

    return BedFleet(alb_emulator.url, imds_server, emulator=alb_emulator,
                    prefix=request.node.name.removeprefix("test_"))


def bed_reconcile(m: Any, *args: str) -> Run:
    return m.run([HDHOOKS, "reconcile", *args], m.env(), timeout=180)


def iam_actions(m: Any, bundle: Path) -> set[str]:
    import json

    done = m.run([HDHOOKS, "iam-policy", "--bundle", str(bundle)], m.env())
    assert done.returncode == 0, done.describe()
    return {a for s in json.loads(done.stdout)["Statement"] for a in s["Action"]}


def test_failed_deployment_after_standby_then_reconcile(make: Any, alb_emulator: Any,
                                                         fleet_bed: Any) -> None:
    m = make(instances=1, min_size=0)
    iid, asg_name, tg = m.comp.instance_ids[0], m.comp.asg_name, m.comp.tg_arn
    autoscaling = fleet_bed.client("autoscaling")

    def lifecycle_and_desired() -> tuple[str, int]:
        state = autoscaling.describe_auto_scaling_instances(
            InstanceIds=[iid])["AutoScalingInstances"][0]["LifecycleState"]
        group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])
        return state, int(group["AutoScalingGroups"][0]["DesiredCapacity"])

    setup = len(alb_emulator.calls())  # what follows is hdhooks' (and the Describes here)
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="auto")
    runs = m.deploy(v1, "d-RECON0001")
    assert all(r.returncode == 0 for r in runs.values()), runs
    before = lifecycle_and_desired()
    assert before[0] == "InService"

    # Deployment 2: ApplicationStop puts the instance in Standby, BeforeInstall fails.
    v2 = m.traffic_bundle("v2", "hello-2.0.0", mode="auto")
    no_disk_cfg = v2 / "deploy" / "hdhooks.yml"
    no_disk_cfg.write_text(no_disk_cfg.read_text().replace(
        "min_free_disk_mb: 50", f"min_free_disk_mb: {10**9}"))
    stop = m.hook("ApplicationStop", m.current_link, "d-RECON0002")
    assert_outcome(stop, "OK", "ApplicationStop", 0)
    assert f"Standby in {asg_name}" in stop.stdout
    assert_outcome(m.hook("BeforeInstall", v2, "d-RECON0002"), "FAILED", "BeforeInstall", 1)
    assert lifecycle_and_desired() == ("Standby", before[1] - 1)
    assert m.build_answering() is None
    assert alb_emulator.state(tg, iid).state != "healthy"

    done = bed_reconcile(m)
    assert done.returncode == 0, done.describe()
    line = next(x for x in done.stdout.splitlines() if x.startswith("OK reconcile"))
    assert "ExitStandby" in line and "healthy in" in line, line
    assert lifecycle_and_desired() == before
    assert alb_emulator.state(tg, iid).state == "healthy"
    assert m.build_answering() == "hello-1.0.0"
    assert m.journal() == []
    again = bed_reconcile(m)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.describe()

    # Every action the emulator saw hdhooks call is in the policy iam-policy prints.
    seen = {f"{c.service}:{c.action}" for c in alb_emulator.calls()[setup:]}
    seen = {a.replace("elbv2:", "elasticloadbalancing:") for a in seen}
    assert seen - iam_actions(m, v1) == set()


def test_hook_killed_mid_drain_then_reconcile(make: Any, alb_emulator: Any) -> None:
    import os
    import signal
    import subprocess
    import time

    m = make(in_asg=False, dereg_delay=4)
    iid, tg = m.comp.instance_ids[0], m.comp.tg_arn
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="hdhooks", target_groups=[m.comp.tg_name])
    runs = m.deploy(v1, "d-KILL00001")
    assert all(r.returncode == 0 for r in runs.values()), runs
    assert alb_emulator.state(tg, iid).state == "healthy"

    hook = subprocess.Popen([HDHOOKS, "hook", "ApplicationStop", "--bundle", str(m.current_link)],
                            env=m.env("ApplicationStop", "d-KILL00002"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        alb_emulator.wait_state(tg, iid, "draining", timeout=60)
    finally:
        os.kill(hook.pid, signal.SIGKILL)
        hook.wait(timeout=30)
    assert [e["action"] for e in m.journal()] == ["DeregisterTargets"]
    assert m.build_answering() == "hello-1.0.0"  # killed before it stopped the service

    start = time.monotonic()
    done = bed_reconcile(m)
    assert done.returncode == 0, done.describe()
    assert "RegisterTargets" in done.stdout, done.stdout
    assert alb_emulator.state(tg, iid).state == "healthy"
    assert m.journal() == []
    assert time.monotonic() - start < 120


def test_next_deployment_adopts_standby_without_leaving_it(make: Any, alb_emulator: Any,
                                                           fleet_bed: Any) -> None:
    """A failed deployment left the instance in Standby; the next one keeps it there
    until its own ValidateService, instead of ExitStandby-then-EnterStandby."""
    import json

    m = make(instances=1, min_size=0)
    iid, tg = m.comp.instance_ids[0], m.comp.tg_arn
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="auto")
    assert all(r.returncode == 0 for r in m.deploy(v1, "d-ADOPT0001").values())
    assert_outcome(m.hook("ApplicationStop", m.current_link, "d-ADOPT0002"), "OK",
                   "ApplicationStop", 0)  # ... and deployment 2 goes no further

    mark = len(alb_emulator.calls())
    runs = m.deploy(m.traffic_bundle("v3", "hello-3.0.0", mode="auto"), "d-ADOPT0003")
    for event, run in runs.items():
        assert_outcome(run, "OK", event, 0)
    assert "d-ADOPT0003 takes over" in runs["ApplicationStop"].stdout
    actions = [c.action for c in alb_emulator.calls()[mark:]]
    assert "EnterStandby" not in actions and actions.count("ExitStandby") == 1, actions
    assert m.build_answering() == "hello-3.0.0"
    assert alb_emulator.state(tg, iid).state == "healthy"
    assert m.journal() == []

    shown = m.run([HDHOOKS, "status", "--format", "json"], m.env())
    assert shown.returncode == 0, shown.describe()
    (c,) = json.loads(shown.stdout)["components"]
    assert c["release"] == "d-ADOPT0003" and c["health"]["ok"] is True
    traffic = c["traffic"]
    assert (traffic["instance_id"], traffic["asg"], traffic["lifecycle_state"]) == (
        iid, m.comp.asg_name, "InService")
    assert [(g["arn"], g["state"]) for g in traffic["target_groups"]] == [(tg, "healthy")]


def test_dry_run_changes_nothing(machine: Machine, fleet: Fleet) -> None:
    runs = machine.deploy(machine.bundle("a", "build-a"), "d-DRYRUN001")
    assert all(r.returncode == 0 for r in runs.values()), runs
    failed_after_stop(machine, fleet, "d-DRYRUN002")
    done = reconcile(machine, "--dry-run")
    assert done.returncode == 0, done.describe()
    line = next(x for x in done.stdout.splitlines() if x.startswith("OK reconcile"))
    assert "would start" in line and "check" in line and "ExitStandby (d-DRYRUN002)" in line, \
        line
    assert fleet.lifecycle()[0] == "Standby"
    assert machine.build_answering() is None
    assert len(Journal(str(machine.state_dir)).open_entries()) == 1


def test_unreadable_journal_entry_is_one_line_exit_1(machine: Machine) -> None:
    journal = machine.state_dir / "journal"
    journal.mkdir(parents=True)
    (journal / "0000000000001-1-abcd.json").write_text("{not json")
    done = reconcile(machine)
    assert done.returncode == 1, done.describe()
    assert "Traceback" not in done.output
    (line,) = done.stderr.strip().splitlines()
    assert "0000000000001-1-abcd.json" in line and "JSON" in line


def test_component_locked_by_a_hook_is_left_alone(machine: Machine, fleet: Fleet) -> None:
    from hdhooks.config.state import component_lock

    out_of_traffic(machine, fleet, "d-LOCKED0001")
    with component_lock(str(machine.state_dir), "hello-service", "hook ApplicationStop"):
        done = reconcile(machine)
    assert done.returncode == 0, done.describe()
    line = next(x for x in done.stdout.splitlines() if x.startswith("OK reconcile"))
    assert "left alone" in line and "hook ApplicationStop" in line, line
    assert fleet.lifecycle()[0] == "Standby"
    assert len(Journal(str(machine.state_dir)).open_entries()) == 1
