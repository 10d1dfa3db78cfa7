"""A local deployment as a plan: which events run, in order, and whose scripts.

Built before the first side effect from the options, the new revision's
appspec and the deployment root's pointer files. The real executor
(:mod:`hdhooks.agent.runner`) and the dry run (:mod:`hdhooks.agent.dryrun`)
both walk the same plan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hdhooks.agent import events as ev
from hdhooks.agent.layout import Layout, archive_dir
from hdhooks.agent.spec import LoadedSpec
from hdhooks.appspec.model import HookScript
from hdhooks.errors import HdhooksError


@dataclass(frozen=True)
class Options:
    """What the command line asked for, checked and with defaults filled in."""

    bundle: str  # absolute path
    bundle_type: str  # directory, tar, tgz, zip
    root: str  # absolute path
    group_id: str
    group_name: str
    application_name: str
    requested_events: tuple[str, ...] = ()  # --events, as given (order kept)
    file_exists_behavior: str | None = None  # --file-exists-behavior, upper-cased
    appspec_filename: str | None = None
    max_revisions: int = 5


@dataclass(frozen=True)
class Step:
    """One lifecycle event of the plan.

    ``kind`` is download, install or hooks. For hooks, ``revision`` says
    where the scripts come from: "new" (this deployment), "previous" (the
    last successful deployment, ``revision_dir``) or "none" (first
    deployment: nothing to run). ``error`` is set when the event can only
    fail (the agent's message), e.g. a previous revision whose archive is gone.
    """

    event: str
    kind: str
    revision: str = "new"
    revision_dir: str | None = None
    scripts: tuple[HookScript, ...] = ()
    error: str = ""
    hint: str = ""  # how to get past ``error``


@dataclass(frozen=True)
class Plan:
    options: Options
    deployment_id: str
    layout: Layout
    spec: LoadedSpec  # the new revision's appspec
    staged: str  # the unpacked new revision (or the bundle directory itself)
    steps: tuple[Step, ...]

    @property
    def deployment_dir(self) -> str:
        return self.layout.deployment_dir(self.deployment_id)

    @property
    def behavior(self) -> str:
        """file_exists_behavior: the appspec's, else the option's, else DISALLOW."""
        return (
            self.spec.spec.file_exists_behavior or self.options.file_exists_behavior or "DISALLOW"
        )

    @property
    def event_names(self) -> list[str]:
        return [s.event for s in self.steps]


def _no_appspec(filename: str | None) -> str:
    name = filename or "appspec.yml"
    return (
        "did not find an AppSpec file within the unpacked revision directory at "
        f'revision-relative path "{name}"'
    )


def build(options: Options, deployment_id: str, layout: Layout, loaded: LoadedSpec,
          staged: str) -> Plan:
    """Resolve every event to a step; reads pointer files, writes nothing."""
    steps: list[Step] = []
    downloaded = False
    for event in ev.ordered_events(list(options.requested_events)):
        if event == "DownloadBundle":
            steps.append(Step(event, "download"))
            downloaded = True
        elif event == "Install":
            steps.append(Step(event, "install"))
        elif ev.uses_previous_revision(event) and not downloaded:
            steps.append(_previous(event, layout, options.appspec_filename))
        elif not downloaded:
            # The agent reads the current deployment's archive, which is not there yet.
            steps.append(Step(event, "hooks", error=_no_appspec(options.appspec_filename)))
        else:
            steps.append(Step(event, "hooks", scripts=loaded.spec.scripts(event)))
    return Plan(options, deployment_id, layout, loaded, staged, tuple(steps))


def _previous(event: str, layout: Layout, filename: str | None) -> Step:
    from hdhooks.agent import spec as specmod

    last = layout.last_successful()
    if last is None:
        return Step(event, "hooks", revision="none")
    archive = archive_dir(last)
    gone = (f"{event} runs the last successful revision's scripts, and {archive} is gone or "
            f"has no appspec; to deploy as if for the first time, remove "
            f"{layout.last_successful_file}")
    if not os.path.isdir(archive):
        return Step(event, "hooks", "previous", last, error=_no_appspec(filename), hint=gone)
    try:
        loaded = specmod.load(archive, filename)
    except HdhooksError as exc:
        names = ("appspec.yml", "appspec.yaml") if filename is None else (filename,)
        if not any(os.path.isfile(os.path.join(archive, n)) for n in names):
            return Step(event, "hooks", "previous", last, error=_no_appspec(filename),
                        hint=gone)
        return Step(event, "hooks", "previous", last,
                    error=f"the last successful revision's appspec is invalid: {exc.one_line()}")
    return Step(event, "hooks", "previous", last, scripts=loaded.spec.scripts(event))


def check_event_names(plan: Plan) -> None:
    """What the agent checks at Install: appspec events it does not know, and
    ``--events`` names that are neither default events nor in the appspec."""
    from hdhooks.errors import InputError

    spec = plan.spec.spec
    names = list(spec.event_lines) or list(spec.hooks)
    requested = list(plan.options.requested_events)
    unknown = ev.unknown_appspec_events(names, requested)
    base = os.path.basename(plan.spec.path)
    if unknown:
        line = spec.event_lines.get(unknown[0], 0)
        listed = ", ".join(f'"{u}"' for u in unknown)
        raise InputError(
            f"{base} file contains unknown lifecycle events: [{listed}]",
            location=f"{plan.spec.path}:{line}:1" if line else plan.spec.path,
            hint="BlockTraffic/AllowTraffic are done by the service; other custom events must "
            "be named in --events",
        )
    missing = ev.unknown_requested_events(requested, names)
    if missing:
        raise InputError(
            "You specified a lifecycle event which is not a default one and doesn't exist in "
            f"your {base} file: {missing[0]}"
        )
