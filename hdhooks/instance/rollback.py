"""``hdhooks rollback`` and ``hdhooks restart``: move by hand, then validate.

Rollback goes back to the previous release; restart starts the current one
again (after a deployment failed with its service stopped).

The component is found from what the last successful ApplicationStart
recorded in the state directory (or from ``--base-dir``). The running
release is stopped with its own config, ``current`` is switched to the
target release, and that release is started and health-checked with the
config it was deployed with.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from hdhooks.errors import ExitCode, HdhooksError, UsageError
from hdhooks.instance.context import HookEnv
from hdhooks.instance.hook import Outcome, components_dir, execute, finish
from hdhooks.instance.runtime import Runtime
from hdhooks.instance.steps import (
    ActivateRelease,
    CheckCommand,
    CheckHealth,
    StartService,
    StopService,
)

if TYPE_CHECKING:
    from hdhooks.instance.releases import Release, ReleaseStore


def find_component(state_dir: str, component: str | None) -> dict[str, Any]:
    """The record of ``component`` (or of the only component on this instance)."""
    records = {}
    for path in sorted(glob.glob(os.path.join(components_dir(state_dir), "*.json"))):
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            records[str(data["component"])] = data
        except (OSError, ValueError, KeyError):
            continue
    if component is not None:
        if component not in records:
            known = ", ".join(records) or "none"
            raise UsageError(
                f"no deployed component '{component}' in {state_dir} (known: {known})",
                hint="give --base-dir, or use the component name from deploy/hdhooks.yml",
            )
        return records[component]
    if len(records) == 1:
        return next(iter(records.values()))
    if not records:
        raise UsageError(f"no component has been deployed with hdhooks here ({state_dir})",
                         hint="give --base-dir")
    raise UsageError(f"several components are deployed here ({', '.join(records)}): name one")


def rollback(
    component: str | None,
    *,
    state_dir: str,
    base_dir: str | None = None,
    out: IO[str] | None = None,
) -> int:
    """Stop the current release, switch to the previous one, start and validate it."""

    def pick(store: ReleaseStore) -> tuple[Release | None, Release]:
        previous = store.previous()
        if previous is None:
            raise UsageError(f"no previous release to roll back to in {store.releases_dir}")
        return store.current(), previous

    return _move_to("Rollback", pick, component, state_dir=state_dir, base_dir=base_dir,
                    out=out)


def restart(
    component: str | None,
    *,
    state_dir: str,
    base_dir: str | None = None,
    out: IO[str] | None = None,
) -> int:
    """Stop and start the current release, then validate it.

    What is needed after a deployment failed between ApplicationStop and
    ApplicationStart (say in AfterInstall): ``current`` still names the
    previous release, but its service was stopped.
    """

    def pick(store: ReleaseStore) -> tuple[Release | None, Release]:
        current = store.current()
        if current is None:
            raise UsageError(f"no current release in {store.base_dir}")
        return current, current

    return _move_to("Restart", pick, component, state_dir=state_dir, base_dir=base_dir,
                    out=out)


def _move_to(
    label: str,
    pick: Callable[[ReleaseStore], tuple[Release | None, Release]],
    component: str | None,
    *,
    state_dir: str,
    base_dir: str | None,
    out: IO[str] | None,
) -> int:
    """Stop what runs, make ``pick``'s target current, start and health-check it."""
    from hdhooks.config.load import load_config
    from hdhooks.instance.releases import ReleaseStore

    stream = out or sys.stdout
    start = time.monotonic()
    name = component or "component"
    environment = ""
    try:
        record = {"base_dir": base_dir} if base_dir else find_component(state_dir, component)
        store = ReleaseStore(record["base_dir"])
        current, target_release = pick(store)

        def runtime(release_dir: str, release_id: str) -> Runtime:
            config = load_config(release_dir, environment=record.get("environment"),
                                 deployment_group=record.get("deployment_group"))
            env = HookEnv(label, release_dir, release_id, record.get("deployment_group"),
                          None, record.get("environment"), state_dir)
            return Runtime(env, config, out=stream)

        target = runtime(str(target_release.path), target_release.id)
        name = target.config.component
        environment = target.config.environment or ""
        target.say(f"{label.lower()} of {name}: {current.id if current else '-'} -> "
                   f"{target_release.id}")
        outcome: Outcome = Outcome(True, "", [], ExitCode.OK)
        if current is not None:
            running = runtime(str(current.path), current.id)
            outcome = execute(running, [StopService(keep_running=running.config.service.reload)])
        if outcome.ok:
            service = target.config.service
            check = [CheckCommand(service.check_command)] if service.check_command else []
            outcome = execute(target, [*check, ActivateRelease(target_release.id),
                                       StartService(reload=service.reload),
                                       CheckHealth()])
        if outcome.ok:
            outcome.summary = (f"now on release {target_release.id} (build {target.build_id}): "
                               f"{outcome.summary}")
    except HdhooksError as exc:
        outcome = Outcome(False, exc.one_line(), exc.details(), int(exc.exit_code))
    metric_env = HookEnv(label, "", "", None, None, None, state_dir)
    finish(stream, metric_env, name, environment, outcome, start)
    return outcome.exit_code
