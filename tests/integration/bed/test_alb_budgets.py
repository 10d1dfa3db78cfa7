"""Rate budgets and injected faults answer as AWS does, and botocore reacts as it would."""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.bed.conftest import Switchable
from tests.support.alb_emulator import AlbEmulator
from tests.support.awsbed import Fleet


def bare_client(fleet: Fleet, service: str, attempts: int) -> object:
    import boto3

    return boto3.session.Session().client(
        service, region_name=fleet.region, endpoint_url=fleet.endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "max_attempts": attempts}))


def test_standard_retries_get_through_throttling(
        fleet: Fleet, alb_emulator: AlbEmulator, service: Switchable) -> None:
    c = fleet.add_component("throttle", service.port, in_asg=False)
    alb_emulator.budgets["elbv2-describe"] = (2, 4)
    alb_emulator.reset_buckets()
    since = alb_emulator.calls()[-1].time
    elb = bare_client(fleet, "elbv2", 8)
    for _ in range(8):
        elb.describe_target_health(TargetGroupArn=c.tg_arn)  # type: ignore[attr-defined]
    calls = alb_emulator.calls("DescribeTargetHealth", since=since)
    assert [x.status for x in calls if not x.throttled] == [200] * 8
    assert any(x.throttled and x.status == 400 for x in calls)

    single = bare_client(fleet, "elbv2", 1)
    alb_emulator.budgets["elbv2-describe"] = (1, 0.01)
    alb_emulator.reset_buckets()
    single.describe_target_health(TargetGroupArn=c.tg_arn)  # type: ignore[attr-defined]
    with pytest.raises(ClientError) as caught:
        single.describe_target_health(TargetGroupArn=c.tg_arn)  # type: ignore[attr-defined]
    assert caught.value.response["Error"]["Code"] == "Throttling"


def test_budgets_can_be_turned_off(
        fleet: Fleet, alb_emulator: AlbEmulator, service: Switchable) -> None:
    c = fleet.add_component("nobudget", service.port, in_asg=False)
    alb_emulator.budgets["elbv2-describe"] = (1, 0.01)
    alb_emulator.budgets_enabled = False
    elb = bare_client(fleet, "elbv2", 1)
    for _ in range(5):
        elb.describe_target_health(TargetGroupArn=c.tg_arn)  # type: ignore[attr-defined]


def test_access_denied_is_not_retried_and_names_the_action(
        fleet: Fleet, alb_emulator: AlbEmulator, service: Switchable) -> None:
    c = fleet.add_component("denied", service.port, in_asg=False)
    alb_emulator.fail("DeregisterTargets", "AccessDenied")
    elb = bare_client(fleet, "elbv2", 8)
    with pytest.raises(ClientError) as caught:
        elb.deregister_targets(  # type: ignore[attr-defined]
            TargetGroupArn=c.tg_arn, Targets=[{"Id": c.instance_ids[0], "Port": c.port}])
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert "elasticloadbalancing:DeregisterTargets" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert len(alb_emulator.calls("DeregisterTargets")) == 1
    # the target was left alone
    assert alb_emulator.state(c.tg_arn, c.instance_ids[0]).state in ("initial", "healthy")


def test_faults_count_down_and_cover_json_services(
        fleet: Fleet, alb_emulator: AlbEmulator, service: Switchable) -> None:
    c = fleet.add_component("faults", service.port, in_asg=False)
    alb_emulator.burst(2, status=503, action="DescribeTargetGroups")
    elb = bare_client(fleet, "elbv2", 3)
    elb.describe_target_groups(TargetGroupArns=[c.tg_arn])  # type: ignore[attr-defined]
    assert [x.status for x in alb_emulator.calls("DescribeTargetGroups")] == [503, 503, 200]

    alb_emulator.fail("GetDeploymentGroup", "AccessDeniedException", times=1)
    cd = bare_client(fleet, "codedeploy", 8)
    with pytest.raises(ClientError) as caught:
        cd.get_deployment_group(  # type: ignore[attr-defined]
            applicationName=c.app_name, deploymentGroupName=c.group_name)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    got = cd.get_deployment_group(  # type: ignore[attr-defined]
        applicationName=c.app_name, deploymentGroupName=c.group_name)
    assert got["deploymentGroupInfo"]["deploymentStyle"]["deploymentOption"] == (
        "WITHOUT_TRAFFIC_CONTROL")
