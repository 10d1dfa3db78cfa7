"""The CloudFormation and STS calls of ``hdhooks provision deploy``.

Thin wrappers: each makes one call (or one paginated read) through
:func:`hdhooks.aws.session.aws_call`, so errors arrive as ``AwsCallFailed``,
and returns plain data that :mod:`hdhooks.provision.deploy` interprets.
"""

from __future__ import annotations

from typing import Any

from hdhooks.aws.session import AwsCallFailed, aws_call, client

SERVICE = "cloudformation"


def caller_account(region: str) -> str:
    """The account id of the credentials in use."""
    with aws_call("sts", "GetCallerIdentity"):
        return str(client("sts", region).get_caller_identity()["Account"])


def describe_stack(name: str, region: str) -> dict[str, Any] | None:
    """The stack, or None when it does not exist."""
    try:
        with aws_call(SERVICE, "DescribeStacks", name):
            stacks = client(SERVICE, region).describe_stacks(StackName=name)["Stacks"]
    except AwsCallFailed as exc:
        if exc.code == "ValidationError" and "does not exist" in exc.message:
            return None
        raise
    return dict(stacks[0]) if stacks else None


def create_change_set(*, stack: str, region: str, name: str, template: str,
                      parameters: dict[str, str], create: bool,
                      tags: dict[str, str]) -> str:
    """Start making a change set; returns its id."""
    with aws_call(SERVICE, "CreateChangeSet", stack):
        answer = client(SERVICE, region).create_change_set(
            StackName=stack, ChangeSetName=name, TemplateBody=template,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            ChangeSetType="CREATE" if create else "UPDATE",
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            Description="hdhooks provision deploy")
    return str(answer["Id"])


def describe_change_set(change_set: str, region: str) -> dict[str, Any]:
    """The change set with every change (all pages)."""
    api = client(SERVICE, region)
    with aws_call(SERVICE, "DescribeChangeSet", change_set):
        page = api.describe_change_set(ChangeSetName=change_set)
        doc = dict(page)
        changes = list(page.get("Changes", []))
        while page.get("NextToken"):
            page = api.describe_change_set(ChangeSetName=change_set,
                                           NextToken=page["NextToken"])
            changes.extend(page.get("Changes", []))
    doc["Changes"] = changes
    return doc


def execute_change_set(change_set: str, region: str) -> None:
    with aws_call(SERVICE, "ExecuteChangeSet", change_set):
        client(SERVICE, region).execute_change_set(ChangeSetName=change_set)


def delete_change_set(change_set: str, region: str) -> None:
    with aws_call(SERVICE, "DeleteChangeSet", change_set):
        client(SERVICE, region).delete_change_set(ChangeSetName=change_set)


def delete_stack(name: str, region: str) -> None:
    with aws_call(SERVICE, "DeleteStack", name):
        client(SERVICE, region).delete_stack(StackName=name)


def stack_events(name: str, region: str, seen: set[str]) -> list[dict[str, Any]]:
    """Events not in ``seen``, oldest first; reading stops at the first seen one."""
    api = client(SERVICE, region)
    fresh: list[dict[str, Any]] = []
    token = None
    with aws_call(SERVICE, "DescribeStackEvents", name):
        while True:
            kwargs: dict[str, Any] = {"StackName": name}
            if token:
                kwargs["NextToken"] = token
            page = api.describe_stack_events(**kwargs)
            for event in page.get("StackEvents", []):
                if event["EventId"] in seen:
                    return fresh[::-1]
                fresh.append(dict(event))
            token = page.get("NextToken")
            if not token:
                return fresh[::-1]
