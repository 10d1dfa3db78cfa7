"""``hdhooks rollback`` and ``hdhooks restart``: a planned move, then validation.

Rollback goes back to the previous release (or ``--to RELEASE``); restart
starts the current one again (after a deployment failed with its service
stopped). The component is found from the state record the last successful
ApplicationStart wrote (or from ``--base-dir``). The plan comes from
:func:`hdhooks.instance.plan.plan_move`: the running release is stopped with
its own config, the target is started and checked with the config it was
deployed with, and when the target fails the original release is made
current and started again.
"""

from __future__ import annotations

import sys
import time
from typing import IO

from hdhooks.errors import ExitCode, HdhooksError, UsageError
from hdhooks.instance.hook import Outcome, execute, finish
from hdhooks.instance.plan import MovePlan, Side, plan_move
from hdhooks.instance.runtime import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hdhooks.config.model import ComponentConfig
    from hdhooks.config.state import ComponentState
    from hdhooks.instance.releases import Release, ReleaseStore


class NoSuchComponent(UsageError):
    """No deployed component by that name (or none, or several to choose from)."""


def find_component(state_dir: str, component: str | None) -> ComponentState:
    """The record of ``component`` (or of the only component on this instance)."""
    from hdhooks.config.state import read_all

    found, bad = read_all(state_dir)
    records = {r.component: r for r in found}
    if component is not None:
        if component in records:
            return records[component]
        for error in bad:
            if error.path.endswith(f"/{component}.json"):
                raise error
        known = ", ".join(records) or "none"
        raise NoSuchComponent(
            f"no deployed component '{component}' in {state_dir} (known: {known})",
            hint="give --base-dir, or use the component name from deploy/hdhooks.yml",
        )
    if len(records) == 1 and not bad:
        return next(iter(records.values()))
    if not records and bad:
        raise bad[0]
    if not records:
        raise NoSuchComponent(f"no component has been deployed with hdhooks here "
                              f"({state_dir})", hint="give --base-dir")
    raise NoSuchComponent(f"several components are deployed here ({', '.join(records)}): name one")


def pick_rollback(store: ReleaseStore, to: str | None) -> tuple[Release | None, Release]:
    """(running, target) of a rollback: the previous release, or ``to``."""
    current = store.current()
    if to is not None:
        target = store.get(to)
        if target is None:
            known = ", ".join(r.id for r in store.releases()) or "none"
            raise UsageError(f"no release {to} under {store.releases_dir} (releases: {known})")
        return current, target
    previous = store.previous()
    if previous is None:
        raise UsageError(f"no previous release to roll back to in {store.releases_dir}",
                         hint="give --to RELEASE")
    return current, previous


def pick_restart(store: ReleaseStore, to: str | None) -> tuple[Release | None, Release]:
    """(running, target) of a restart: the current release twice."""
    current = store.current()
    if current is None:
        raise UsageError(f"no current release in {store.base_dir}")
    return current, current


def rollback(component: str | None, *, state_dir: str, base_dir: str | None = None,
             to: str | None = None, dry_run: bool = False, out: IO[str] | None = None,
             show_metric: bool = False) -> int:
    """Stop the current release, switch to the previous one (or ``to``), start, validate."""
    return move("Rollback", component, state_dir=state_dir, base_dir=base_dir, to=to,
                dry_run=dry_run, out=out, show_metric=show_metric)


def restart(component: str | None, *, state_dir: str, base_dir: str | None = None,
            dry_run: bool = False, out: IO[str] | None = None,
            show_metric: bool = False) -> int:
    """Stop and start the current release, then validate it.

    What is needed after a deployment failed between ApplicationStop and
    ApplicationStart (say in AfterInstall): ``current`` still names the
    previous release, but its service was stopped.
    """
    return move("Restart", component, state_dir=state_dir, base_dir=base_dir, to=None,
                dry_run=dry_run, out=out, show_metric=show_metric)


def side_of(release: Release, record: ComponentState | None) -> Side:
    """A release with the config it was deployed with (read from its own files)."""
    from hdhooks.config.load import load_config
    from hdhooks.instance.runtime import build_id_of

    group = record.deployment_group if record else None
    config = load_config(str(release.path), environment=record.environment if record else None,
                         deployment_group=group)
    return Side(release.id, config, build_id_of(config, release.id), group)


def plan_for(label: str, record: ComponentState | None, base_dir: str,
             to: str | None) -> tuple[MovePlan, ComponentConfig]:
    """The move's plan; every config is read and checked before anything is done."""
    from hdhooks.instance.releases import ReleaseStore

    store = ReleaseStore(base_dir)
    running, target = (pick_rollback if label == "Rollback" else pick_restart)(store, to)
    target_side = side_of(target, record)
    if running is None:
        return plan_move(label, None, target_side), target_side.config
    running_side = target_side if running.id == target.id else side_of(running, record)
    return plan_move(label, running_side, target_side), target_side.config


def move(label: str, component: str | None, *, state_dir: str, base_dir: str | None,
         to: str | None, dry_run: bool, out: IO[str] | None, show_metric: bool = False) -> int:
    """Plan the move, print it (dry run) or run it under the component's lock.

    The metric goes to the metrics file, and to the output only with
    ``show_metric`` (``--metrics``); there is none for a component that is
    not deployed here (a usage error, which has no component to report).
    """
    stream = out or sys.stdout
    start = time.monotonic()
    name, environment = component or "component", ""
    known = component is not None or base_dir is not None
    try:
        record = None if base_dir else find_component(state_dir, component)
        if record is not None:
            known, name = True, record.component
        plan, target_config = plan_for(label, record,
                                       base_dir or (record.base_dir if record else ""), to)
        name, environment = target_config.component, target_config.environment or ""
        known = True
        rt = Runtime(None, target_config, out=stream)
        rt.say(f"{label.lower()} of {name}: {plan.running or '-'} -> {plan.target}")
        if dry_run:
            show_move(rt, plan)
            return ExitCode.OK
        from hdhooks.config.state import component_lock
        from hdhooks.redact import open_registry

        open_registry(state_dir, plan.target)  # the releases' secrets, for their log tails
        with component_lock(state_dir, name, label.lower()):
            outcome = run_move(rt, plan)
    except NoSuchComponent as exc:
        known = False
        outcome = Outcome(False, exc.one_line(), exc.details(), int(exc.exit_code))
    except HdhooksError as exc:
        outcome = Outcome(False, exc.one_line(), exc.details(), int(exc.exit_code))
    metric = ("both" if show_metric else "file") if known else "none"
    finish(stream, label, "", name, environment, outcome, start, metric=metric)
    return outcome.exit_code


def show_move(rt: Runtime, plan: MovePlan) -> None:
    """The dry run of a move: its steps, then what happens if the target fails."""
    from hdhooks.instance.hook import show_plan

    show_plan(rt, plan.steps)
    if plan.recovery:
        rt.say(f"  if release {plan.target} fails: back to release {plan.running}")
        show_plan(rt, plan.recovery)


def run_move(rt: Runtime, plan: MovePlan) -> Outcome:
    """Run the plan; when the target fails, bring the original release back.

    The outcome stays FAILED (the rollback did not happen) but says that the
    original release is current and running again, or that it could not be.
    """
    outcome = execute(rt, plan.steps)
    if outcome.ok:
        outcome.summary = (f"now on release {plan.target} (build {rt.build_id}): "
                           f"{outcome.summary}")
        return outcome
    if not plan.recovery:
        return outcome
    rt.say(f"release {plan.target} failed: going back to release {plan.running}")
    back = execute(rt, plan.recovery)
    if back.ok:
        outcome.summary = (f"release {plan.target} failed ({outcome.summary}); restored "
                           f"release {plan.running}: {back.summary}")
    else:
        outcome.summary = (f"release {plan.target} failed ({outcome.summary}); restoring "
                           f"release {plan.running} failed too: {back.summary}")
        outcome.diagnostics = [*outcome.diagnostics, *back.diagnostics]
    return outcome
