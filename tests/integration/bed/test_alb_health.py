"""The emulator's target health, drain and Standby, seen through boto3 as AWS shows them."""

from __future__ import annotations

import socket
import time

import pytest
from botocore.exceptions import ClientError

from tests.integration.bed.conftest import Switchable
from tests.support.alb_emulator import AlbEmulator
from tests.support.awsbed import Fleet


def health(fleet: Fleet, tg_arn: str, iid: str, port: int) -> dict[str, str]:
    rows = fleet.client("elbv2").describe_target_health(
        TargetGroupArn=tg_arn, Targets=[{"Id": iid, "Port": port}])["TargetHealthDescriptions"]
    assert len(rows) == 1
    return dict(rows[0]["TargetHealth"])


def wait_health(fleet: Fleet, tg_arn: str, iid: str, port: int, state: str,
                deadline: float = 20.0) -> tuple[dict[str, str], float]:
    """Poll DescribeTargetHealth through the emulator until ``state``; (health, when)."""
    end = time.monotonic() + deadline
    while True:
        seen = health(fleet, tg_arn, iid, port)
        if seen["State"] == state:
            return seen, time.time()
        assert time.monotonic() < end, f"still {seen}, never {state}"
        time.sleep(0.1)


def states(emu: AlbEmulator, tg_arn: str, iid: str) -> list[str]:
    return [t.state for t in emu.transitions(tg_arn, iid)]


def test_a_new_target_is_initial_then_healthy_after_one_pass(
        fleet: Fleet, alb_emulator: AlbEmulator, service: Switchable) -> None:
    c = fleet.add_component("fresh", service.port, in_asg=False, registered=False, healthy=3)
    iid = c.instance_ids[0]
    assert health(fleet, c.tg_arn, iid, c.port) == {
        "State": "unused", "Reason": "Target.NotRegistered",
        "Description": "Target is not registered to the target group"}
    fleet.client("elbv2").register_targets(TargetGroupArn=c.tg_arn,
                                           Targets=[{"Id": iid, "Port": c.port}])
    assert health(fleet, c.tg_arn, iid, c.port)["State"] == "initial"
    wait_health(fleet, c.tg_arn, iid, c.port, "healthy")
    # one pass was enough although the healthy threshold is 3
    assert states(alb_emulator, c.tg_arn, iid) == ["initial", "initial", "healthy"]


def test_thresholds_decide_unhealthy_and_back(
        fleet: Fleet, alb_emulator: AlbEmulator, service: Switchable) -> None:
    c = fleet.add_component("thresh", service.port, in_asg=False, interval=2, healthy=2,
                            unhealthy=2)
    iid = c.instance_ids[0]
    wait_health(fleet, c.tg_arn, iid, c.port, "healthy")
    service.status = 500
    switched = time.time()
    seen, _ = wait_health(fleet, c.tg_arn, iid, c.port, "unhealthy")
    assert seen["Reason"] == "Target.ResponseCodeMismatch"
    assert seen["Description"] == "Health checks failed with these codes: [500]"
    went_unhealthy = alb_emulator.transitions(c.tg_arn, iid)[-1].time
    assert went_unhealthy - switched >= 2 - 0.2  # two failures, one interval apart
    service.status = 200
    switched = time.time()
    wait_health(fleet, c.tg_arn, iid, c.port, "healthy")
    back = alb_emulator.transitions(c.tg_arn, iid)[-1]
    assert back.state == "healthy" and back.time - switched >= 2 - 0.2  # two passes


def test_unanswered_and_refused_checks_name_their_reason(
        fleet: Fleet, service: Switchable) -> None:
    service.delay = 1.5
    slow = fleet.add_component("slow", service.port, in_asg=False, interval=2, timeout=1)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    closed = fleet.add_component("closed", closed_port, in_asg=False, interval=2)
    seen, _ = wait_health(fleet, slow.tg_arn, slow.instance_ids[0], slow.port, "unhealthy")
    assert (seen["Reason"], seen["Description"]) == ("Target.Timeout", "Request timed out")
    seen, _ = wait_health(fleet, closed.tg_arn, closed.instance_ids[0], closed_port,
                          "unhealthy")
    assert (seen["Reason"], seen["Description"]) == (
        "Target.FailedHealthChecks", "Health checks failed")


def test_a_deregistered_target_drains_for_the_delay(
        fleet: Fleet, alb_emulator: AlbEmulator, service: Switchable) -> None:
    c = fleet.add_component("drain", service.port, in_asg=False, dereg_delay=1)
    iid = c.instance_ids[0]
    wait_health(fleet, c.tg_arn, iid, c.port, "healthy")
    elb = fleet.client("elbv2")
    elb.deregister_targets(TargetGroupArn=c.tg_arn, Targets=[{"Id": iid, "Port": c.port}])
    assert health(fleet, c.tg_arn, iid, c.port) == {
        "State": "draining", "Reason": "Target.DeregistrationInProgress",
        "Description": "Target deregistration is in progress"}
    # a second deregistration while draining is accepted, as on AWS
    elb.deregister_targets(TargetGroupArn=c.tg_arn, Targets=[{"Id": iid, "Port": c.port}])
    seen, _ = wait_health(fleet, c.tg_arn, iid, c.port, "unused")
    assert seen["Reason"] == "Target.NotRegistered"
    marks = {t.state: t.time for t in alb_emulator.transitions(c.tg_arn, iid)}
    assert marks["unused"] - marks["draining"] >= 1 - 0.05
    all_rows = elb.describe_target_health(TargetGroupArn=c.tg_arn)["TargetHealthDescriptions"]
    assert all_rows == []


def test_a_group_without_load_balancer_reports_not_in_use(
        fleet: Fleet, service: Switchable) -> None:
    c = fleet.add_component("notinuse", service.port, in_asg=False)
    elb = fleet.client("elbv2")
    vpc, _ = fleet.network()
    lonely = elb.create_target_group(
        Name=f"{c.tg_name[:24]}-alone", Protocol="HTTP", Port=service.port, VpcId=vpc,
        HealthCheckIntervalSeconds=2, HealthCheckTimeoutSeconds=1,
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=lonely, Targets=[{"Id": c.instance_ids[0]}])
    seen, _ = wait_health(fleet, lonely, c.instance_ids[0], service.port, "unused")
    assert seen["Reason"] == "Target.NotInUse"


def test_standby_drains_the_instance_and_exit_registers_it_again(
        fleet: Fleet, alb_emulator: AlbEmulator, service: Switchable) -> None:
    c = fleet.add_component("standby", service.port, instances=2, min_size=1, dereg_delay=1)
    iid = c.instance_ids[0]
    wait_health(fleet, c.tg_arn, iid, c.port, "healthy")
    asg = fleet.client("autoscaling")
    asg.enter_standby(AutoScalingGroupName=c.asg_name, InstanceIds=[iid],
                      ShouldDecrementDesiredCapacity=True)

    def lifecycle() -> str:
        found = asg.describe_auto_scaling_instances(InstanceIds=[iid])["AutoScalingInstances"]
        return str(found[0]["LifecycleState"])

    assert lifecycle() == "EnteringStandby"
    assert health(fleet, c.tg_arn, iid, c.port)["State"] == "draining"
    wait_health(fleet, c.tg_arn, iid, c.port, "unused")
    assert lifecycle() == "Standby"
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[c.asg_name])
    assert group["AutoScalingGroups"][0]["DesiredCapacity"] == 1
    other = c.instance_ids[1]
    assert health(fleet, c.tg_arn, other, c.port)["State"] == "healthy"

    asg.exit_standby(AutoScalingGroupName=c.asg_name, InstanceIds=[iid])
    assert lifecycle() == "InService"
    assert health(fleet, c.tg_arn, iid, c.port)["State"] == "initial"
    wait_health(fleet, c.tg_arn, iid, c.port, "healthy")
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[c.asg_name])
    assert group["AutoScalingGroups"][0]["DesiredCapacity"] == 2
    assert states(alb_emulator, c.tg_arn, iid)[-5:] == [
        "draining", "unused", "initial", "initial", "healthy"]


def test_standby_below_min_size_is_refused(fleet: Fleet, service: Switchable) -> None:
    c = fleet.add_component("minsize", service.port, instances=1, min_size=1)
    asg = fleet.client("autoscaling")
    with pytest.raises(ClientError) as caught:
        asg.enter_standby(AutoScalingGroupName=c.asg_name, InstanceIds=c.instance_ids,
                          ShouldDecrementDesiredCapacity=True)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert "min-size=1" in error["Message"] and "desired-size=1" in error["Message"]
    found = asg.describe_auto_scaling_instances(InstanceIds=c.instance_ids)
    assert found["AutoScalingInstances"][0]["LifecycleState"] == "InService"
    # ExitStandby of an instance that is not in Standby is refused too
    with pytest.raises(ClientError) as caught:
        asg.exit_standby(AutoScalingGroupName=c.asg_name, InstanceIds=c.instance_ids)
    assert "is not in Standby" in caught.value.response["Error"]["Message"]
