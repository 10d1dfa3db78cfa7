"""The CloudFormation and STS calls of ``hdhooks provision deploy``.

Thin wrappers: each makes one call (or one paginated read) through
:func:`hdhooks.aws.session.aws_call`, so errors arrive as ``AwsCallFailed``,
and returns plain data that :mod:`hdhooks.provision.deploy` interprets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from hdhooks.aws.session import AwsCallFailed, aws_call, client

SERVICE = "cloudformation"


@contextlib.contextmanager
def _call(operation: str, resource: str = "") -> Iterator[None]:
    """:func:`aws_call`, and an answer botocore cannot parse as a failed call too."""
    from botocore.parsers import ResponseParserError

    try:
        with aws_call(SERVICE, operation, resource):
            yield
    except ResponseParserError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AwsCallFailed(f"{operation} {resource}: unreadable answer: {first}",
                            service=SERVICE, operation=operation,
                            code="ResponseParserError") from None


def caller_account(region: str) -> str:
    """The account id of the credentials in use."""
    with aws_call("sts", "GetCallerIdentity"):
        return str(client("sts", region).get_caller_identity()["Account"])


def describe_stack(name: str, region: str) -> dict[str, Any] | None:
    """The stack, or None when it does not exist."""
    try:
        with _call("DescribeStacks", name):
            stacks = client(SERVICE, region).describe_stacks(StackName=name)["Stacks"]
    except AwsCallFailed as exc:
        if exc.code == "ValidationError" and "does not exist" in exc.message:
            return None
        raise
    return dict(stacks[0]) if stacks else None


def create_stack(*, stack: str, region: str, template: str, parameters: dict[str, str],
                 tags: dict[str, str]) -> None:
    """Create a stack that does not exist yet (its first events follow)."""
    with _call("CreateStack", stack):
        client(SERVICE, region).create_stack(
            StackName=stack, TemplateBody=template, Parameters=_parameters(parameters),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def _parameters(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def create_change_set(*, stack: str, region: str, name: str, template: str,
                      parameters: dict[str, str], create: bool,
                      tags: dict[str, str]) -> str:
    """Start making a change set; returns its id."""
    with _call("CreateChangeSet", stack):
        answer = client(SERVICE, region).create_change_set(
            StackName=stack, ChangeSetName=name, TemplateBody=template,
            Parameters=_parameters(parameters),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            ChangeSetType="CREATE" if create else "UPDATE",
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            Description="hdhooks provision deploy")
    return str(answer["Id"])


def describe_change_set(change_set: str, region: str) -> dict[str, Any]:
    """The change set with every change (all pages)."""
    api = client(SERVICE, region)
    with _call("DescribeChangeSet", change_set):
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
    with _call("ExecuteChangeSet", change_set):
        client(SERVICE, region).execute_change_set(ChangeSetName=change_set)


def delete_change_set(change_set: str, region: str) -> None:
    with _call("DeleteChangeSet", change_set):
        client(SERVICE, region).delete_change_set(ChangeSetName=change_set)


def delete_stack(name: str, region: str) -> None:
    with _call("DeleteStack", name):
        client(SERVICE, region).delete_stack(StackName=name)


def stack_events(name: str, region: str, seen: set[str]) -> list[dict[str, Any]]:
    """Events not in ``seen``, oldest first; reading stops at the first seen one."""
    api = client(SERVICE, region)
    fresh: list[dict[str, Any]] = []
    token = None
    with _call("DescribeStackEvents", name):
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
