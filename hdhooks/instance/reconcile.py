"""``hdhooks reconcile``: make the instance whole after a failed or abandoned deployment.

Every traffic move a hook makes (EnterStandby, DeregisterTargets, ...) is in
the journal with its inverse before it is made (:mod:`hdhooks.aws.journal`).
An entry still open once its deployment is over means the instance was left
out of traffic. Reconcile, per component:

1. leaves the entries alone while their deployment may still run: a hook
   holds the component's lock, or CodeDeploy says the deployment is running;
2. starts the current release's service when it is not running and checks
   its local health;
3. healthy: undoes the entries (newest first) and waits until every target
   group sees the instance healthy, then closes them (a wait that fails keeps
   them open for the next run);
4. not healthy: still gives the capacity back (ExitStandby), marks the
   instance Unhealthy so that its Auto Scaling group replaces it, and says so;
   a target group deregistration stays (the instance must not get traffic),
   its entry stays open for the next run.

It runs from ``hdhooks reconcile``, the systemd timer and boot units, and at
the start of every hook for the entries of other deployments. There, an entry
of an earlier deployment of the same group that keeps the instance out of
traffic is *adopted* by the new deployment (its allow step brings the
instance back) instead of being undone and redone.

Idempotent: with no open entry it says so and does nothing, without
importing boto3 or calling AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from hdhooks.errors import ExitCode, HdhooksError
from hdhooks.instance.hook import journal_has_open as has_open_entries

if TYPE_CHECKING:
    from hdhooks.aws.journal import Entry, Journal

#: Inverses that give the Auto Scaling group its capacity back; done even when
#: the instance is unhealthy (the group then replaces it).
CAPACITY_INVERSES = frozenset({"ExitStandby"})


@dataclass(frozen=True)
class Decision:
    """What reconcile does with one component's open entries, and why."""

    component: str
    action: str  # "restore" | "adopt" | "leave"
    entries: tuple[Entry, ...]
    reason: str = ""


@dataclass
class ComponentResult:
    """How one component ended: the outcome line and whether it is whole."""

    component: str
    ok: bool
    action: str
    summary: str
    entries: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"component": self.component, "ok": self.ok, "action": self.action,
                "summary": self.summary, "entries": self.entries}


@dataclass
class ReconcileReport:
    """Every component reconcile looked at; empty when there was nothing to do."""

    results: list[ComponentResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def nothing_to_do(self) -> bool:
        return not self.results

    @property
    def exit_code(self) -> int:
        return ExitCode.OK if self.ok else ExitCode.FAILED

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "nothing_to_do": self.nothing_to_do,
                "components": [r.as_dict() for r in self.results]}


@dataclass(frozen=True)
class Adoption:
    """The hook that starts: its deployment may take over older entries of its group."""

    deployment_id: str
    deployment_group: str | None
    component: str
    event: str


def by_component(entries: Sequence[Entry]) -> dict[str, list[Entry]]:
    """Entries grouped by component, newest first within each (undo order)."""
    found: dict[str, list[Entry]] = {}
    for entry in sorted(entries, key=lambda e: e.created, reverse=True):
        found.setdefault(entry.component, []).append(entry)
    return found


def decide(component: str, entries: Sequence[Entry], *, busy: str | None,
           running: dict[str, str | None], adoption: Adoption | None) -> Decision:
    """Restore, adopt or leave: pure, from the lock holder and the deployments' states.

    ``running`` maps a deployment id to its CodeDeploy status, or None when it
    could not be asked (then the entries are left: undoing a running
    deployment's Standby would send users to an instance being replaced).
    """
    held = tuple(entries)
    if busy:
        return Decision(component, "leave", held, f"a deployment is running here ({busy})")
    if adoption is not None and component == adoption.component and all(
            e.deployment_group == adoption.deployment_group for e in held):
        return Decision(component, "adopt", held,
                        f"deployment {adoption.deployment_id} takes over")
    from hdhooks.aws.fleet import RUNNING

    for entry in held:
        status = running.get(entry.deployment_id, "Gone")
        if status is None:
            return Decision(component, "leave", held,
                            f"cannot tell whether deployment {entry.deployment_id} is "
                            "still running")
        if status in RUNNING:
            return Decision(component, "leave", held,
                            f"deployment {entry.deployment_id} is {status}")
    return Decision(component, "restore", held)


def describe_entry(entry: Entry) -> str:
    """``EnterStandby by d-1 ApplicationStop (undo: ExitStandby)`` for messages."""
    return (f"{entry.action} by {entry.deployment_id} {entry.event} "
            f"(undo: {entry.inverse})")


def reconcile(state_dir: str, *, component: str | None = None,
              exclude_deployment: str | None = None, adoption: Adoption | None = None,
              lock_held: str | None = None, assume_finished: bool = False,
              dry_run: bool = False, out: IO[str] | None = None) -> ReconcileReport:
    """Make the instance whole; see the module docstring for what that means.

    ``exclude_deployment``: the deployment of the hook that calls (its own
    entries are its business). ``lock_held``: the component whose lock the
    caller holds. ``assume_finished``: the caller knows no other deployment
    runs (a hook: the agent runs one deployment at a time), so CodeDeploy
    is not asked.
    """
    report = ReconcileReport()
    if not has_open_entries(state_dir):
        return report
    from hdhooks.aws.journal import Journal

    journal = Journal(state_dir)
    entries = [e for e in journal.open_entries(component)
               if e.deployment_id != exclude_deployment]
    for name, group in by_component(entries).items():
        report.results.append(_one_component(
            journal, state_dir, name, group, adoption=adoption, lock_held=lock_held,
            assume_finished=assume_finished, dry_run=dry_run, out=out))
    return report


def _one_component(journal: Journal, state_dir: str, name: str, entries: list[Entry], *,
                   adoption: Adoption | None, lock_held: str | None, assume_finished: bool,
                   dry_run: bool, out: IO[str] | None) -> ComponentResult:
    """Decide under the component's lock (unless the caller holds it), then act."""
    from contextlib import nullcontext

    from hdhooks.config.state import Busy, component_lock

    labels = [describe_entry(e) for e in entries]
    try:
        guard = nullcontext() if lock_held == name or dry_run else component_lock(
            state_dir, name, "reconcile")
        with guard:
            running = {} if assume_finished or (adoption and adoption.component == name) \
                else deployment_states(entries)
            decision = decide(name, entries, busy=None, running=running, adoption=adoption)
            return act(journal, state_dir, decision, adoption, dry_run=dry_run, out=out)
    except Busy as exc:
        decision = decide(name, entries, busy=exc.holder or "locked", running={},
                          adoption=None)
        return ComponentResult(name, True, "leave", f"left alone: {decision.reason}", labels)
    except HdhooksError as exc:
        return ComponentResult(name, False, "restore", exc.one_line(), labels)
    except (OSError, KeyError, ValueError) as exc:  # a damaged entry, a state dir refused
        return ComponentResult(name, False, "restore",
                               f"cannot restore: {type(exc).__name__}: {exc}", labels)


def deployment_states(entries: Sequence[Entry]) -> dict[str, str | None]:
    """Each deployment's CodeDeploy status; None when CodeDeploy cannot be asked."""
    from hdhooks.aws.fleet import deployment_status
    from hdhooks.errors import AwsError

    states: dict[str, str | None] = {}
    for entry in entries:
        if entry.deployment_id in states:
            continue
        if entry.deployment_id in ("", "manual"):
            states[entry.deployment_id] = "Gone"  # a hook run by hand: not CodeDeploy's
            continue
        try:
            states[entry.deployment_id] = deployment_status(entry.deployment_id,
                                                            entry.region or None)
        except AwsError:
            states[entry.deployment_id] = None
    return states


def act(journal: Journal, state_dir: str, decision: Decision, adoption: Adoption | None, *,
        dry_run: bool, out: IO[str] | None) -> ComponentResult:
    """Carry out one decision (or, dry, say what it would do)."""
    labels = [describe_entry(e) for e in decision.entries]
    name = decision.component
    if decision.action == "leave":
        return ComponentResult(name, decision.reason.startswith("deployment "), "leave",
                               f"left alone: {decision.reason}", labels)
    if decision.action == "adopt":
        assert adoption is not None
        if dry_run:
            return ComponentResult(name, True, "adopt",
                                   f"would hand {len(labels)} entries to "
                                   f"{adoption.deployment_id}",
                                   labels)
        for entry in decision.entries:
            adopt_entry(journal, entry, adoption)
        return ComponentResult(name, True, "adopt",
                               f"{adoption.deployment_id} takes over: {'; '.join(labels)}",
                               labels)
    from hdhooks.instance.reconcile_restore import restore

    return restore(journal, state_dir, decision, dry_run=dry_run, out=out)


def adopt_entry(journal: Journal, entry: Entry, adoption: Adoption) -> None:
    """Hand an open entry to the deployment that starts: its allow step will undo it.

    The new entry is written first, so a crash in between leaves the action
    journalled twice (undoing twice is harmless), never not at all.
    """
    journal.begin(component=entry.component, region=entry.region,
                  deployment_group=adoption.deployment_group or entry.deployment_group,
                  deployment_id=adoption.deployment_id, action=entry.action,
                  params=entry.params, inverse_params=entry.inverse_params,
                  event=f"{entry.event} of {entry.deployment_id}, adopted at {adoption.event}",
                  inverse=entry.inverse)
    journal.settle(entry, "completed")


def format_report(report: ReconcileReport, write: Callable[[str], None]) -> None:
    """One outcome line per component, or one that says there was nothing to do."""
    if report.nothing_to_do:
        write("OK reconcile: nothing to do (no open journal entries)")
        return
    for result in report.results:
        word = "OK" if result.ok else "FAILED"
        write(f"{word} reconcile {result.component}: {result.summary}")
