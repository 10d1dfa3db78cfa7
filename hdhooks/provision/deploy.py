"""``hdhooks provision deploy``: the stacks of one environment, through change sets.

First a plan (:func:`plan_deploy`): the stacks in dependency order (shared,
components, dashboard) with their template and parameters, all rendered and
checked before any call is made. Then :class:`~hdhooks.provision.executor.Deployer`
runs it: an existing stack gets a change set whose changes are shown; with
``execute`` it runs and the stack's events are streamed until the stack
settles, otherwise the change set is removed again. A new stack lists the
resources it will add and is created with CreateStack. The
waits poll with a growing interval and a deadline, never a fixed sleep. The
first stack that fails stops the run with the first failed resource's
reason in one line: the stacks after it import from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdhooks.errors import CheckFailed, UsageError
from hdhooks.provision.manifest import Manifest
from hdhooks.provision.render import render_manifest, stack_parameters

NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
CANCELLED = ("Resource creation cancelled", "Resource update cancelled")


class StackFailed(CheckFailed):
    """A stack ended failed or rolled back; names the first failed resource."""

    def __init__(self, stack: str, status: str, reason: str) -> None:
        super().__init__(f"{stack}: {status}: {reason}")
        self.stack = stack
        self.status = status
        self.reason = reason


class WrongAccount(UsageError):
    """The credentials belong to another account than the environment's."""


@dataclass(frozen=True)
class StackStep:
    """One stack to create or update, with everything resolved."""

    stack: str
    region: str
    template_path: str
    template: str
    parameters: dict[str, str]
    tags: dict[str, str]


@dataclass(frozen=True)
class DeployPlan:
    environment: str
    account_id: str
    steps: tuple[StackStep, ...]


@dataclass(frozen=True)
class Polling:
    """How often a change set and a stack are looked at, and for how long."""

    first: float = 0.5
    factor: float = 1.5
    longest: float = 5.0
    deadline: float = 3600.0


@dataclass
class Outcome:
    """What happened to each stack: created, updated, unchanged or planned."""

    results: list[tuple[str, str]] = field(default_factory=list)


def plan_deploy(manifest: Manifest, environment: str, *, region: str | None = None,
                components: tuple[str, ...] = ()) -> DeployPlan:
    """The stacks of ``environment`` (optionally only some components) in deployment order."""
    account = manifest.account(environment)
    known = {c.name for c in manifest.components}
    unknown = [name for name in components if name not in known]
    if unknown:
        raise UsageError(f"no component named {', '.join(unknown)} in {manifest.path}")
    regions = [r for r in account.regions if region is None or r.name == region]
    if not regions:
        raise UsageError(f"environment {environment} has no region {region}",
                         hint=f"known: {', '.join(r.name for r in account.regions)}")
    rendered = render_manifest(manifest, (environment,))
    steps = []
    for reg in regions:
        for stack in rendered.stacks:
            if components and stack.component and stack.component not in components:
                continue
            tags = {"hdhooks:platform": manifest.platform, "hdhooks:environment": environment}
            if stack.component:
                tags["hdhooks:component"] = stack.component
            steps.append(StackStep(stack.name, reg.name, stack.template,
                                   rendered.text(stack.template),
                                   stack_parameters(manifest, account, reg, stack), tags))
    return DeployPlan(environment, account.account_id, tuple(steps))


def change_lines(changes: list[dict[str, Any]]) -> list[str]:
    """``+ Add AWS::S3::Bucket ArtifactBucket``, one line per change (pure)."""
    marks = {"Add": "+", "Modify": "~", "Remove": "-", "Import": ">", "Dynamic": "?"}
    lines = []
    for change in changes:
        rc = change.get("ResourceChange", {})
        action = str(rc.get("Action", "?"))
        replace = " (replaced)" if rc.get("Replacement") == "True" else \
            " (may be replaced)" if rc.get("Replacement") == "Conditional" else ""
        lines.append(f"    {marks.get(action, '?')} {action} {rc.get('ResourceType', '?')} "
                     f"{rc.get('LogicalResourceId', '?')}{replace}")
    return lines


def first_failure(events: list[dict[str, Any]]) -> str:
    """The reason of the first resource that failed, oldest first (pure)."""
    for event in events:
        status = str(event.get("ResourceStatus", ""))
        reason = str(event.get("ResourceStatusReason") or "")
        if status.endswith("_FAILED") and reason and not reason.startswith(CANCELLED):
            return (f"{event.get('LogicalResourceId', '?')} "
                    f"({event.get('ResourceType', '?')}) {status}: {' '.join(reason.split())}")
    for event in events:
        reason = str(event.get("ResourceStatusReason") or "")
        if reason and str(event.get("ResourceStatus", "")).startswith(("ROLLBACK", "UPDATE_RO")):
            return " ".join(reason.split())
    return "no resource gave a reason (see the stack's events)"


def settled(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS")


def failed(status: str) -> bool:
    return "ROLLBACK" in status or status.endswith("_FAILED")
