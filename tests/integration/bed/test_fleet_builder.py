"""The fleet builder makes what a component runs on, as AWS would hold it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.bed.conftest import Switchable
from tests.support.alb_emulator import AlbEmulator
from tests.support.awsbed import Fleet


def test_a_component_in_an_auto_scaling_group_with_codedeploy_traffic_control(
        fleet: Fleet, service: Switchable) -> None:
    c = fleet.add_component("cdtraffic", service.port, instances=2, codedeploy_traffic=True)
    group = fleet.client("codedeploy").get_deployment_group(
        applicationName=c.app_name, deploymentGroupName=c.group_name)["deploymentGroupInfo"]
    assert group["deploymentStyle"]["deploymentOption"] == "WITH_TRAFFIC_CONTROL"
    assert group["loadBalancerInfo"]["targetGroupInfoList"] == [{"name": c.tg_name}]
    asg = fleet.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[c.asg_name])["AutoScalingGroups"][0]
    assert asg["TargetGroupARNs"] == [c.tg_arn]
    assert sorted(i["InstanceId"] for i in asg["Instances"]) == c.instance_ids
    assert (asg["MinSize"], asg["DesiredCapacity"], asg["MaxSize"]) == (1, 2, 3)
    tg = fleet.client("elbv2").describe_target_groups(TargetGroupArns=[c.tg_arn])
    settings = tg["TargetGroups"][0]
    assert (settings["HealthCheckIntervalSeconds"], settings["HealthCheckTimeoutSeconds"],
            settings["HealthCheckPath"]) == (2, 1, "/health")
    attrs = fleet.client("elbv2").describe_target_group_attributes(TargetGroupArn=c.tg_arn)
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "1"} in attrs["Attributes"]
    for instance in c.instances:
        assert instance.ident.instance_id == instance.id
        assert instance.ident.lifecycle == "InService"


def test_plain_instances_have_no_lifecycle_and_unique_names(
        fleet: Fleet, service: Switchable) -> None:
    one = fleet.add_component("plain", service.port, in_asg=False)
    two = fleet.add_component("plain", service.port, in_asg=False)
    assert one.asg_name is None and one.instances[0].ident.lifecycle is None
    assert len({one.tg_name, two.tg_name}) == 2 and len({one.app_name, two.app_name}) == 2
    assert len(one.tg_name) <= 32


def test_intervals_the_bed_cannot_model_are_refused(fleet: Fleet) -> None:
    with pytest.raises(ValueError, match="shortest health-check interval"):
        fleet.add_component("tooshort", 8080, interval=1)


def test_access_denied_names_the_service_of_the_action(
        fleet: Fleet, alb_emulator: AlbEmulator, service: Switchable) -> None:
    c = fleet.add_component("deniedasg", service.port, instances=2)
    alb_emulator.fail("EnterStandby")
    with pytest.raises(ClientError) as caught:
        fleet.client("autoscaling").enter_standby(
            AutoScalingGroupName=c.asg_name, InstanceIds=c.instance_ids[:1],
            ShouldDecrementDesiredCapacity=True)
    assert "autoscaling:EnterStandby" in caught.value.response["Error"]["Message"]
    assert len(alb_emulator.calls("EnterStandby")) == 1
