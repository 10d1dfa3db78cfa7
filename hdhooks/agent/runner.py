"""Executing a plan: the real local deployment.

Order of side effects: the root's directories and the group lock, then an
archive bundle is checked and its appspec staged beside the deployment
directory, then each event of the plan (DownloadBundle unpacks the archive).
Every file that matters is written atomically or line by line
(pointer files, the cleanup file, the logs), and the archive appears in one
rename, so Ctrl-C or a kill at any moment leaves a root the next run can use.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from hdhooks import fsremove, fstree
from hdhooks.agent import archive, bundle, cleanup, install, instructions, layout, scripts
from hdhooks.agent import plan as planmod
from hdhooks.agent import spec as specmod
from hdhooks.agent.archive import Unpacker
from hdhooks.agent.ids import new_deployment_id
from hdhooks.agent.lock import GroupLock
from hdhooks.agent.logs import DeploymentLog, ScriptLog
from hdhooks.agent.report import EventRecord, RunReport
from hdhooks.errors import CheckFailed, HdhooksError, Interrupted, UsageError

Echo = Callable[[EventRecord], None]


class ScriptFailed(CheckFailed):
    """A hook script failed; the message is the agent's."""

    def __init__(self, result: scripts.ScriptResult) -> None:
        super().__init__(result.message)
        self.result = result


class InstallConflict(CheckFailed):
    """DISALLOW and files already there: nothing was copied."""

    def __init__(self, paths: list[str]) -> None:
        more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
        super().__init__(
            "The deployment failed because a specified file already exists at this location: "
            f"{paths[0]}{more}",
            hint="remove it, or deploy with --file-exists-behavior OVERWRITE or RETAIN",
        )
        self.paths = paths

    def details(self) -> list[str]:
        return [f"exists: {p}" for p in self.paths[1:20]]


def stage(options: planmod.Options, where: str) -> str:
    """The new revision, unpacked (archives) or as it is (directories)."""
    if options.bundle_type == "directory":
        return options.bundle
    bundle.unpack(options.bundle, options.bundle_type, where, options.appspec_filename)
    return where


def deploy(options: planmod.Options, echo: Echo = lambda _r: None,
           deployment_id: str | None = None) -> RunReport:
    """Run a whole local deployment; failures are in the report, never raised
    (except bad input before anything ran, a busy group, or Ctrl-C).

    An archive is checked whole before the first event (a refused member stops
    everything) and only its appspec is staged to plan from; DownloadBundle
    unpacks it, so that event's duration is the unpacking's, as with the agent.
    """
    deployment_id = deployment_id or new_deployment_id()
    lay = layout.Layout(options.root, options.group_id)
    bundle.check_root(options.bundle, options.bundle_type, options.root)
    try:
        layout.make_dirs(lay)
    except OSError as exc:
        raise UsageError(f"cannot use deployment root {options.root}: {exc.strerror or exc}",
                         hint="give a writable directory with --root") from None
    with GroupLock(lay.lock_file, options.group_id, deployment_id):
        _remove_stale_staging(lay.group_dir)
        remove_interrupted(lay)
        staging = os.path.join(lay.group_dir, f".staging-{deployment_id}")
        unpacker: Unpacker | None = None
        try:
            staged = options.bundle
            if options.bundle_type != "directory":
                unpacker = archive.check(options.bundle, options.bundle_type,
                                         bundle.appspec_names(options.appspec_filename))
                bundle.stage_appspec(unpacker, staging, options.appspec_filename)
                staged = staging
            loaded = specmod.load(staged, options.appspec_filename)
            plan = planmod.build(options, deployment_id, lay, loaded, staged)
            return Executor(plan, echo, unpacker).run()
        finally:
            if unpacker is not None:
                unpacker.close()
            if os.path.lexists(staging):
                fsremove.remove_tree(staging)


def _remove_stale_staging(group_dir: str) -> None:
    """Unpacked bundles left by a run that was killed (SIGKILL, power loss) while
    staging; with the group lock held, no other run can be using them."""
    for name in os.listdir(group_dir):
        if name.startswith(".staging-"):
            fsremove.remove_tree(os.path.join(group_dir, name), ignore_errors=True)


def remove_interrupted(lay: layout.Layout) -> list[str]:
    """What a run of this group killed during DownloadBundle left: half-copied
    ``deployment-archive.partial`` directories and ``ongoing-deployment`` markers
    that name one of this group's deployments. Called with the group lock held,
    so the process that wrote them is gone. Returns the paths removed."""
    removed: list[str] = []
    for name in os.listdir(lay.group_dir):
        partial = layout.archive_dir(os.path.join(lay.group_dir, name)) + ".partial"
        if os.path.lexists(partial):
            fsremove.remove_tree(partial)
            removed.append(partial)
    ongoing = os.path.dirname(lay.ongoing_file("x"))
    for name in os.listdir(ongoing) if os.path.isdir(ongoing) else ():
        marker = os.path.join(ongoing, name)
        try:
            where = layout.read_pointer(marker) or ""
        except (OSError, HdhooksError):
            continue
        if os.path.dirname(where) == lay.group_dir and not os.path.islink(marker):
            os.unlink(marker)
            removed.append(marker)
    return removed


def self_command() -> str:
    """The path of the running ``hdhooks`` command, for the shims' ``$HDHOOKS``.

    The script that started this process when it is an hdhooks command, else
    the ``hdhooks`` beside this Python (its venv); empty when neither exists.
    """
    import sys

    started = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    candidates = [started] if os.path.basename(started).startswith("hdhooks") else []
    candidates.append(os.path.join(os.path.dirname(sys.executable), "hdhooks"))
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return ""


class Executor:
    """Carries out a plan, one event at a time, stopping at the first failure."""

    def __init__(self, plan: planmod.Plan, echo: Echo, unpacker: Unpacker | None = None) -> None:
        self.plan = plan
        self.echo = echo
        self.unpacker = unpacker
        self.dir = plan.deployment_dir
        self.log = DeploymentLog(plan.layout.deployments_log, plan.deployment_id)
        o = plan.options
        self.report = RunReport(plan.deployment_id, self.dir, o.group_id, o.group_name,
                                o.application_name, o.root, plan.spec.path)
        self.report.warnings += plan.spec.warnings
        self.env = dict(os.environ)
        self.env.update({
            "LIFECYCLE_EVENT": "", "DEPLOYMENT_ID": plan.deployment_id,
            "APPLICATION_NAME": o.application_name, "DEPLOYMENT_GROUP_NAME": o.group_name,
            "DEPLOYMENT_GROUP_ID": o.group_id,
        })
        self.downloaded = False  # DownloadBundle made this deployment's directory
        own = self_command()
        if own:
            self.env["HDHOOKS"] = own  # the shims run this very hdhooks

    def run(self) -> RunReport:
        ongoing = self.plan.layout.ongoing_file(self.plan.deployment_id)
        previous = _catch_termination()
        try:
            layout.atomic_write(ongoing, self.dir)
            self.log.write(f"Starting deployment of {self.plan.options.bundle} "
                           f"({self.plan.options.bundle_type}) in {self.dir}")
            for step in self.plan.steps:
                if not self._event(step):
                    break
            self.log.write("Deployment " + ("succeeded" if self.report.ok else "failed"))
            self._retain()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.log.close()
            if os.path.lexists(ongoing):
                os.unlink(ongoing)
        return self.report

    def _retain(self) -> None:
        """Old deployment directories beyond ``max_revisions`` go once the last event
        has run: the agent deletes them in DownloadBundle, between ApplicationStop
        and ApplicationStart, where their removal lengthens the time the service
        is down (and, on some filesystems, slows the Install that follows)."""
        if not self.downloaded or isinstance(self.report.error, Interrupted):
            return
        removed = layout.retain(self.plan.layout, self.plan.options.max_revisions,
                                current=self.dir)
        self.report.removed_deployments = removed
        for path in removed:
            self.log.write(f"Removed old deployment {path}")

    def _event(self, step: planmod.Step) -> bool:
        rec = EventRecord(step.event, revision=step.revision, revision_dir=step.revision_dir)
        start = time.monotonic()
        try:
            if step.error:
                raise CheckFailed(step.error, hint=step.hint)
            if step.kind == "download":
                self._download(rec)
            elif step.kind == "install":
                self._install(rec)
            else:
                self._hooks(step, rec)
        except KeyboardInterrupt:
            rec.status = "interrupted"
            self.report.error = Interrupted(
                f"interrupted during {step.event}; the deployment root is consistent",
                hint="run the deployment again",
            )
        except HdhooksError as exc:
            rec.status = "failed"
            rec.error = exc.one_line()
            self.report.error = exc
        except OSError as exc:  # the disk, not the revision: say what and where
            where = f" ({exc.filename})" if exc.filename else ""
            self.report.error = CheckFailed(f"{step.event} failed: {exc.strerror or exc}{where}")
            rec.status = "failed"
            rec.error = self.report.error.one_line()
        rec.duration = time.monotonic() - start
        self.report.events.append(rec)
        if self.report.error is not None:
            self.log.write(f"Error: {self.report.error.one_line()}")
        self.echo(rec)
        return self.report.error is None

    def _download(self, rec: EventRecord) -> None:
        self.log.write("LifecycleEvent - DownloadBundle")
        o = self.plan.options
        os.makedirs(self.dir, exist_ok=True)
        link = os.path.join(self.dir, "bundle.tar")
        # As the agent: a local file is linked as bundle.tar; a directory is only copied.
        if o.bundle_type != "directory" and not os.path.lexists(link):
            os.symlink(o.bundle, link)
        target = layout.archive_dir(self.dir)
        tmp = target + ".partial"
        if self.unpacker is None:
            fstree.copy_tree(o.bundle, tmp)
        else:
            self._unpack(tmp)
        os.rename(tmp, target)
        layout.write_pointer(self.plan.layout.most_recent_file, self.dir)
        self.downloaded = True
        rec.note = f"{o.bundle_type} {o.bundle}"

    def _unpack(self, tmp: str) -> None:
        """Unpack the checked archive into ``tmp``; a refused or damaged archive leaves
        nothing behind (nor the deployment directory, when it holds nothing else)."""
        assert self.unpacker is not None
        os.mkdir(tmp, 0o700)
        try:
            self.unpacker.write(tmp)
        except BaseException as exc:
            fsremove.remove_tree(tmp)
            if isinstance(exc, HdhooksError) and set(os.listdir(self.dir)) <= {"bundle.tar"}:
                fsremove.remove_tree(self.dir)
            raise
        os.chmod(tmp, 0o755)

    def _install(self, rec: EventRecord) -> None:
        self.log.write("LifecycleEvent - Install")
        archive = layout.archive_dir(self.dir)
        if not os.path.isdir(archive):
            raise CheckFailed(planmod._no_appspec(self.plan.options.appspec_filename))
        planmod.check_event_names(self.plan)
        lay = self.plan.layout
        undone = cleanup.run_cleanup(lay)
        try:
            instr = instructions.generate(self.plan.spec.spec, archive, self.plan.behavior)
            if instr.conflicts:
                raise InstallConflict(instr.conflicts)
            done = install.execute(instr, lay, self.report.warnings.append)
        finally:
            self.report.warnings += undone.finish()  # what was renamed aside
        layout.write_pointer(lay.last_successful_file, self.dir)
        rec.note = (f"{done.copied} file(s), {done.made} dir(s), {done.permissions} "
                    f"permission change(s); {self.plan.behavior}")
        if instr.retained:
            rec.note += f", {len(instr.retained)} kept"

    def _hooks(self, step: planmod.Step, rec: EventRecord) -> None:
        if not step.scripts:
            rec.status = "skipped"
            rec.note = ("no previous successful revision" if step.revision == "none"
                        else "no scripts")
            return
        source = step.revision_dir or self.dir
        archive = layout.archive_dir(source)
        env = dict(self.env, LIFECYCLE_EVENT=step.event)
        log = ScriptLog(layout.scripts_log(self.dir), self.log)
        try:
            log.line(f"LifecycleEvent - {step.event}")
            for script in step.scripts:
                result = scripts.run_script(script, archive, env, log)
                rec.scripts.append(result)
                self.report.warnings += result.warnings
                if not result.ok:
                    raise ScriptFailed(result)
        finally:
            log.close()
        rec.note = f"{len(step.scripts)} script(s)"


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _catch_termination() -> dict[int, Any]:
    """SIGTERM and SIGHUP (a closed terminal) end a deployment like Ctrl-C: the
    script's tree is ended and the root left consistent. A signal the caller
    ignores (``nohup``) stays ignored. Returns the handlers to restore."""
    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue
        previous[signum] = current
        signal.signal(signum, _terminated)
    return previous
