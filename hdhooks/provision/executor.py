"""Running a :class:`~hdhooks.provision.deploy.DeployPlan` against CloudFormation.

One stack at a time, in the plan's order: make a change set, show it, then
execute it and stream the stack's events (or, for a dry run, remove it).
Collaborators (the output, the clock, the sleep) are passed in with real
defaults, so the waits are polled with a deadline and tests need no timing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hdhooks.aws.session import AwsCallFailed
from hdhooks.errors import CheckFailed
from hdhooks.provision.deploy import (
    NO_CHANGES,
    DeployPlan,
    Outcome,
    Polling,
    StackFailed,
    StackStep,
    WrongAccount,
    change_lines,
    failed,
    first_failure,
    settled,
)


class Deployer:
    """Creates or updates the stacks of a plan; ``execute=False`` only shows the changes."""

    def __init__(self, out: Callable[[str], None], *, execute: bool = True,
                 polling: Polling | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.out = out
        self.execute = execute
        self.polling = polling or Polling()
        self.clock = clock
        self.sleep = sleep

    def run(self, plan: DeployPlan) -> Outcome:
        from hdhooks.aws import cfn

        regions = sorted({s.region for s in plan.steps})
        for region in regions:
            found = cfn.caller_account(region)
            if found != plan.account_id:
                raise WrongAccount(f"the credentials are for account {found}, but "
                                   f"environment {plan.environment} is account "
                                   f"{plan.account_id}",
                                   hint="use the environment's profile or role")
        outcome = Outcome()
        total = len(plan.steps)
        for index, step in enumerate(plan.steps, 1):
            self.out(f"[{index}/{total}] {step.stack} ({step.region})")
            outcome.results.append((step.stack, self.stack(step)))
        return outcome

    def stack(self, step: StackStep) -> str:
        from hdhooks.aws import cfn

        current = cfn.describe_stack(step.stack, step.region)
        status = str(current["StackStatus"]) if current else ""
        if status == "ROLLBACK_COMPLETE":
            raise StackFailed(step.stack, status, "its first creation failed and was rolled "
                              "back; delete the stack, then deploy again")
        if status and status != "REVIEW_IN_PROGRESS" and not settled(status):
            raise CheckFailed(f"{step.stack}: {status}: another operation is running",
                              hint="wait for it to finish, then deploy again")
        if not current:
            return self.create(step)
        seen = {e["EventId"] for e in cfn.stack_events(step.stack, step.region, set())}
        create = status == "REVIEW_IN_PROGRESS"  # a change set was made but never run
        try:
            change_set = cfn.create_change_set(
                stack=step.stack, region=step.region,
                name=time.strftime("hdhooks-%Y%m%d%H%M%S"), template=step.template,
                parameters=step.parameters, create=create, tags=step.tags)
        except AwsCallFailed as exc:
            if not any(text in exc.message for text in NO_CHANGES):
                raise
            self.out("    no changes")
            return "unchanged"
        doc = self.wait_change_set(step, change_set)
        if doc is None:
            self.out("    no changes")
            cfn.delete_change_set(change_set, step.region)
            return "unchanged"
        for line in change_lines(doc["Changes"]) or \
                ["    no resource changes: parameters, outputs or tags only"]:
            self.out(line)
        if not self.execute:
            cfn.delete_change_set(change_set, step.region)
            return "planned"
        cfn.execute_change_set(change_set, step.region)
        self.out(f"    {self.follow(step, seen)}")
        return "created" if create else "updated"

    def create(self, step: StackStep) -> str:
        """A new stack: list what it adds, then CreateStack.

        A CREATE change set would list the same additions, and when it is not
        executed it leaves an empty REVIEW_IN_PROGRESS stack to delete.
        """
        from hdhooks.aws import cfn
        from hdhooks.provision.cfnyaml import added_lines

        self.out("    new stack")
        for line in added_lines(step.template):
            self.out(line)
        if not self.execute:
            return "planned"
        cfn.create_stack(stack=step.stack, region=step.region, template=step.template,
                         parameters=step.parameters, tags=step.tags)
        self.out(f"    {self.follow(step, set())}")
        return "created"

    def wait_change_set(self, step: StackStep, change_set: str) -> dict[str, Any] | None:
        """The finished change set, or None when it holds no change."""
        from hdhooks.aws import cfn

        for _ in self.polls(f"{step.stack}: change set"):
            doc = cfn.describe_change_set(change_set, step.region)
            status = str(doc.get("Status", ""))
            if status == "CREATE_COMPLETE":
                return doc
            if status == "FAILED":
                reason = " ".join(str(doc.get("StatusReason", "")).split())
                if any(text in reason for text in NO_CHANGES):
                    return None
                cfn.delete_change_set(change_set, step.region)
                raise StackFailed(step.stack, "change set failed", reason or "no reason given")
        raise AssertionError("unreachable")

    def follow(self, step: StackStep, seen: set[str]) -> str:
        """Stream the stack's new events until it settles; raise StackFailed if it failed."""
        from hdhooks.aws import cfn

        events: list[dict[str, Any]] = []
        for _ in self.polls(step.stack):
            fresh = cfn.stack_events(step.stack, step.region, seen)
            for event in fresh:
                seen.add(event["EventId"])
                self.out(_event_line(event))
            events.extend(fresh)
            stack = cfn.describe_stack(step.stack, step.region) or {}
            status = str(stack.get("StackStatus", ""))
            if status and settled(status):
                if failed(status):
                    raise StackFailed(step.stack, status, first_failure(events))
                return status
        raise AssertionError("unreachable")

    def polls(self, what: str) -> Any:
        """Yield until the deadline; sleeps between yields grow up to ``longest``."""
        start = self.clock()
        interval = self.polling.first
        while True:
            yield
            if self.clock() - start + interval > self.polling.deadline:
                raise CheckFailed(f"{what}: not settled after {self.polling.deadline:g} s",
                                  hint="look at the stack in the CloudFormation console; "
                                       "deploy again once it has settled")
            self.sleep(interval)
            interval = min(interval * self.polling.factor, self.polling.longest)


def _event_line(event: dict[str, Any]) -> str:
    stamp: Any = event.get("Timestamp")
    when = stamp.strftime("%H:%M:%S") if hasattr(stamp, "strftime") else ""
    reason = " ".join(str(event.get("ResourceStatusReason") or "").split())
    tail = f": {reason}" if reason and "FAILED" in str(event.get("ResourceStatus")) else ""
    return (f"    {when} {event.get('ResourceStatus', '?'):<20} "
            f"{event.get('ResourceType', '?')} {event.get('LogicalResourceId', '?')}{tail}")
