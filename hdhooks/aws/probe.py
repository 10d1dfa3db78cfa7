"""Read-only AWS calls ``hdhooks doctor`` makes, returning plain values.

Each function makes one kind of call through the shared client factory
(with few retries: a doctor reports, it need not ride out a bad minute) and
:func:`aws_call`, so errors arrive as :class:`AwsCallFailed` with the IAM
action named, and the doctor (which must not import boto3) judges the
answers.
"""

from __future__ import annotations

from typing import Any

from hdhooks.aws.session import AwsCallFailed, aws_call
from hdhooks.aws.session import client as _client

ATTEMPTS = 2

#: Actions only the doctor calls, beyond those of ``hdhooks iam-policy``: read-only
#: diagnostics whose denial the doctor reports as a warning, so a deployment
#: role need not grant them.
DIAGNOSTIC_ACTIONS = frozenset({"ec2:DescribeInstances", "iam:SimulatePrincipalPolicy"})


def client(service: str, region: str | None) -> Any:
    """The shared client factory, with the doctor's few attempts."""
    return _client(service, region, attempts=ATTEMPTS)


def caller_identity(region: str | None = None) -> dict[str, str]:
    """STS GetCallerIdentity: ``Account``, ``Arn``, ``UserId``."""
    sts = client("sts", region)
    with aws_call("sts", "GetCallerIdentity"):
        answer = sts.get_caller_identity()
    return {key: str(answer.get(key, "")) for key in ("Account", "Arn", "UserId")}


def metadata_options(instance_id: str, region: str | None = None) -> dict[str, Any]:
    """EC2 DescribeInstances: the instance's ``MetadataOptions`` (empty when unknown)."""
    ec2 = client("ec2", region)
    with aws_call("ec2", "DescribeInstances", instance_id):
        answer = ec2.describe_instances(InstanceIds=[instance_id])
    for reservation in answer.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            if instance.get("InstanceId") == instance_id:
                return dict(instance.get("MetadataOptions") or {})
    return {}


def lifecycle_state(instance_id: str, region: str | None = None) -> str | None:
    """The instance's Auto Scaling lifecycle state; None when it is in no group."""
    autoscaling = client("autoscaling", region)
    with aws_call("autoscaling", "DescribeAutoScalingInstances", instance_id):
        answer = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])
    for item in answer.get("AutoScalingInstances", []):
        return str(item.get("LifecycleState", "")) or None
    return None


def deployment_group_of(deployment_id: str, region: str | None = None) -> dict[str, Any]:
    """The deployment group a deployment ran in (GetDeployment, GetDeploymentGroup)."""
    codedeploy = client("codedeploy", region)
    with aws_call("codedeploy", "GetDeployment", deployment_id):
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    app, group = info["applicationName"], info["deploymentGroupName"]
    with aws_call("codedeploy", "GetDeploymentGroup", f"{app}/{group}"):
        answer = codedeploy.get_deployment_group(applicationName=app,
                                                 deploymentGroupName=group)
    return dict(answer.get("deploymentGroupInfo") or {})


def simulate(principal_arn: str, actions: list[str],
             region: str | None = None) -> dict[str, str]:
    """IAM SimulatePrincipalPolicy: action -> ``allowed`` / ``implicitDeny`` / ...

    Raises :class:`AwsCallFailed` when the simulation itself is refused or
    not offered (the caller then lists the actions instead).
    """
    iam = client("iam", region)
    decisions: dict[str, str] = {}
    with aws_call("iam", "SimulatePrincipalPolicy", principal_arn):
        paginator = iam.get_paginator("simulate_principal_policy")
        for page in paginator.paginate(PolicySourceArn=principal_arn, ActionNames=actions):
            for result in page.get("EvaluationResults", []):
                decisions[str(result["EvalActionName"])] = str(result["EvalDecision"])
    return decisions


__all__ = ["AwsCallFailed", "caller_identity", "deployment_group_of",
           "lifecycle_state", "metadata_options", "simulate"]
