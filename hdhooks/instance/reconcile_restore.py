"""Reconcile's restore: the current release up and healthy, then the journal undone.

Split from :mod:`hdhooks.instance.reconcile` (which decides) because this is
the part that acts: it starts services, probes health and calls AWS.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from hdhooks.errors import HdhooksError
from hdhooks.instance.reconcile import (
    CAPACITY_INVERSES,
    ComponentResult,
    Decision,
    describe_entry,
)

if TYPE_CHECKING:
    from hdhooks.aws.discovery import Discovery
    from hdhooks.aws.journal import Entry, Journal
    from hdhooks.instance.runtime import Runtime
    from hdhooks.instance.steps import Step


def local_plan(state_dir: str, component: str,
               out: IO[str] | None) -> tuple[Runtime, tuple[Step, ...], str]:
    """The steps that make the current release run and answer, with a phrase for them.

    The release is the one ``current`` names, checked with the config it was
    deployed with: after a deployment failed before ApplicationStart that is
    the previous release, whose service ApplicationStop stopped.
    """
    from hdhooks.instance import steps as s
    from hdhooks.instance.plan import Where, health_step
    from hdhooks.instance.releases import ReleaseStore
    from hdhooks.instance.rollback import find_component, side_of
    from hdhooks.instance.runtime import Runtime, service_spec

    record = find_component(state_dir, component)
    current = ReleaseStore(record.base_dir).current()
    if current is None:
        raise HdhooksError(f"no current release under {record.base_dir}")
    side = side_of(current, record)
    rt = Runtime(None, side.config, out=out)
    spec = service_spec(side.config)
    running = rt.service_for(spec).status().active
    start: tuple[Step, ...] = () if running else (
        s.StartService(spec, reload=side.config.service.reload),)
    check = health_step(side.config, Where(side.release_id, side.deployment_group,
                                           side.build_id))
    what = f"release {current.id} {'running' if running else 'started'}"
    return rt, (*start, check), what


def bring_up_current(state_dir: str, component: str,
                     out: IO[str] | None) -> tuple[bool, str]:
    """Run :func:`local_plan`: (healthy, what happened)."""
    from hdhooks.instance.hook import execute

    try:
        rt, steps, what = local_plan(state_dir, component, out)
    except HdhooksError as exc:
        return False, exc.one_line()
    outcome = execute(rt, steps)
    return outcome.ok, f"{what}, {outcome.summary}" if outcome.ok else outcome.summary


def restore(journal: Journal, state_dir: str, decision: Decision, *, dry_run: bool,
            out: IO[str] | None) -> ComponentResult:
    """Bring the release up, then undo every entry (healthy) or give capacity back."""
    name = decision.component
    labels = [describe_entry(e) for e in decision.entries]
    if dry_run:
        return _dry(state_dir, decision, out)
    healthy, local = bring_up_current(state_dir, name, out)
    if healthy:
        return _undo_all(journal, decision, local, labels)
    return _give_capacity_back(journal, decision, local, labels)


def _dry(state_dir: str, decision: Decision, out: IO[str] | None) -> ComponentResult:
    labels = [describe_entry(e) for e in decision.entries]
    try:
        _rt, steps, _ = local_plan(state_dir, decision.component, out)
        local = ", ".join(step.describe() for step in steps)
    except HdhooksError as exc:
        local = f"cannot bring the release up ({exc.one_line()})"
    undo = ", ".join(f"{e.inverse} ({e.deployment_id})" for e in decision.entries)
    return ComponentResult(decision.component, True, "restore",
                           f"would {local}; then {undo} and wait for healthy targets",
                           labels)


def _undo_all(journal: Journal, decision: Decision, local: str,
              labels: list[str]) -> ComponentResult:
    from hdhooks.aws import traffic

    found = discovery_of(journal, decision.entries)
    done = [traffic.undo(entry) for entry in decision.entries]
    try:
        waited = wait_back(journal, found, decision.entries)
    except HdhooksError as exc:
        # Kept open: the next run undoes again (a no-op) and waits again.
        return ComponentResult(decision.component, False, "restore",
                               f"{local}; {', '.join(done)}; but {exc.one_line()}", labels)
    for entry in decision.entries:
        journal.settle(entry, "undone")
    return ComponentResult(decision.component, True, "restore",
                           f"{local}; {', '.join(done)}; {waited}", labels)


def discovery_of(journal: Journal, entries: tuple[Entry, ...]) -> Discovery:
    """The groups to wait for, read before anything is undone."""
    from hdhooks.aws.fleet import discovery_for

    return discovery_for(journal.state_dir, entries)


def wait_back(journal: Journal, found: Discovery, entries: tuple[Entry, ...]) -> str:
    """Wait, as the allow step does, until every group sees the instance healthy."""
    from hdhooks.aws.traffic import Mover

    if not found.groups:
        return "no target group to wait for"
    first = entries[0]
    standby = any(e.inverse == "ExitStandby" for e in entries) and found.asg
    mover = Mover(found, journal, first.component, first.deployment_group,
                  first.deployment_id, "reconcile", say=lambda _text: None)
    return mover.wait_healthy(want_asg="InService" if standby else None)


def _give_capacity_back(journal: Journal, decision: Decision, local: str,
                        labels: list[str]) -> ComponentResult:
    """Unhealthy: ExitStandby anyway, mark the instance Unhealthy, keep it out of TGs."""
    from hdhooks.aws import fleet, traffic

    said = [f"not healthy: {local}"]
    marked: set[tuple[str, str]] = set()
    for entry in decision.entries:
        if entry.inverse in CAPACITY_INVERSES:
            said.append(f"{traffic.undo(entry)} to give the capacity back")
            journal.settle(entry, "undone")
        else:
            said.append(f"{entry.action} kept (the instance must not get traffic)")
        asg, instance = _asg_of(entry)
        if asg and instance and (asg, instance) not in marked:
            fleet.set_unhealthy(asg, instance, entry.region or None)
            marked.add((asg, instance))
            said.append(f"{instance} marked Unhealthy so that {asg} replaces it")
    if not marked:
        said.append("not in an Auto Scaling group: nothing will replace it; fix the "
                    "release and run hdhooks reconcile again")
    return ComponentResult(decision.component, False, "restore", "; ".join(said), labels)


def _asg_of(entry: Entry) -> tuple[str, str]:
    params = {**entry.params, **entry.inverse_params}
    asg = params.get("asg") or params.get("asg_name") or ""
    instance = params.get("instance_id") or ""
    return str(asg), str(instance)
