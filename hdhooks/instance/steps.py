"""The steps a hook is made of. Each is a frozen value: planned, shown, then run.

``describe()`` says what the step will do (``hdhooks hook --dry-run`` prints
only that); ``run(rt)`` does it and returns a short result for the summary,
or raises :class:`StepFailed` carrying the diagnostics that explain why.
"""

from __future__ import annotations

from hdhooks.errors import CheckFailed
from hdhooks.instance.runtime import Runtime
from hdhooks.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Protocol

    from hdhooks.config.model import ComponentConfig
    from hdhooks.instance.health import HealthCheck
    from hdhooks.instance.preflight import PreflightSpec
    from hdhooks.instance.service.base import ServiceSpec

    class Step(Protocol):
        def describe(self) -> str: ...

        def skipped(self) -> str | None: ...

        def run(self, rt: Runtime) -> str: ...


class StepFailed(CheckFailed):
    """A step failed; ``diagnostics`` are printed after the outcome line."""

    def __init__(self, message: str, diagnostics: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics)

    def details(self) -> list[str]:
        return self.diagnostics


class TrafficStep(Record):
    """Block traffic (before the stop) or allow it (after the local check).

    ``reason`` is set when the config alone leaves traffic alone (mode off
    or codedeploy, or another event does it); ``context`` says what the config
    asks for, so a skip decided when the step runs (not on EC2, CodeDeploy's
    own control, a launch or termination deployment) still reads whole.
    """

    action: str  # "block" | "allow"
    reason: str | None
    context: str
    service: ServiceSpec

    def describe(self) -> str:
        return f"{self.action} traffic (load balancer)"

    def skipped(self) -> str | None:
        if self.reason:
            return self.reason
        from hdhooks.aws.imds import on_ec2

        return None if on_ec2() else self.off_ec2()

    def off_ec2(self) -> str:
        return f"{self.context}; not on EC2 (no instance metadata service)"

    def run(self, rt: Runtime) -> str:
        if self.reason:
            return f"skipped: {self.reason}"
        from hdhooks.aws.imds import on_ec2

        if not on_ec2() and rt.config.traffic.mode == "auto":
            return f"skipped: {self.off_ec2()}"
        from hdhooks.instance.traffic import run_traffic

        return run_traffic(rt, self.action, self.service)


class BlockTraffic(TrafficStep):
    """EnterStandby or DeregisterTargets, journalled, then the wait until drained."""


class AllowTraffic(TrafficStep):
    """ExitStandby or RegisterTargets, then the wait until healthy in every group."""


class StopService(Record):
    """Graceful stop: TERM, wait up to the stop timeout, KILL; then the port must be free.

    A shared server (``service.reload``, e.g. nginx) is not stopped: it keeps
    serving the old release until ApplicationStart reloads it.
    """

    service: ServiceSpec
    keep_running: bool = False

    def describe(self) -> str:
        if self.keep_running:
            return "keep the shared service running (service.reload)"
        return "stop the service gracefully"

    def skipped(self) -> str | None:
        return "it is reloaded at ApplicationStart" if self.keep_running else None

    def run(self, rt: Runtime) -> str:
        if self.keep_running:
            return "skipped: it is reloaded at ApplicationStart"
        service = rt.service_for(self.service)
        result = service.stop()
        if not result.ok:
            raise StepFailed(f"service {self.service.name} {result.describe()}",
                             service.log_tail(10))
        return result.describe()


class Preflight(Record):
    """Free disk, required commands, ports not held by someone else (the service may)."""

    spec: PreflightSpec
    service: ServiceSpec

    def describe(self) -> str:
        return "preflight: disk, commands, ports"

    def skipped(self) -> str | None:
        return None

    def run(self, rt: Runtime) -> str:
        from hdhooks.instance import preflight as pf

        # The base dir may not exist yet: the disk it will be on is its nearest parent.
        disk = tuple((_existing_parent(path), mb) for path, mb in self.spec.disk)
        spec = pf.PreflightSpec(disk, self.spec.commands, self.spec.ports)
        findings = pf.run_preflight(spec, rt.service_for(self.service).status().main_pid)
        failed = pf.failures(findings)
        if failed:
            raise StepFailed(
                f"preflight: {failed[0].message}"
                + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""),
                [f.line() for f in failed],
            )
        return f"{len(findings)} checks passed"


def _existing_parent(path: str) -> str:
    """The nearest existing directory of ``path``."""
    from pathlib import Path

    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return str(p)


class PruneReleases(Record):
    keep: int

    def describe(self) -> str:
        return f"prune releases (keep {self.keep})"

    def skipped(self) -> str | None:
        return None

    def run(self, rt: Runtime) -> str:
        removed = rt.releases.prune(self.keep, reserve=1)
        return f"removed {', '.join(r.id for r in removed)}" if removed else "nothing to remove"


class PromoteRelease(Record):
    """Copy the revision into releases/<deployment-id> and render the config into it."""

    release_id: str
    source: str  # "bundle" | "incoming"

    def describe(self) -> str:
        return f"make release {self.release_id} from the {self.source}, render config"

    def skipped(self) -> str | None:
        return None

    def run(self, rt: Runtime) -> str:
        from hdhooks.instance.releases import save_outside
        from hdhooks.instance.render import fetch_values, render_templates

        config = rt.config
        fetched = fetch_values(config) if _needs_aws(rt) else None
        final_dir = str(rt.releases.releases_dir / self.release_id)
        context = rt.template_context(final_dir, fetched)
        rendered: list[str] = []

        def prepare(work: Path) -> None:
            # What is rendered outside the release replaces a file that works
            # now; a copy kept in the release lets a failed check put it back.
            save_outside(work, [t.destination for t in config.templates])
            for item in render_templates(config, context, stage_dir=work):
                rendered.append(item.template)

        source = config.bundle_dir if self.source == "bundle" else None
        release = rt.releases.promote(self.release_id, source, prepare=prepare,
                                      reader_gid=service_gid(config))
        what = f", rendered {len(rendered)} template(s)" if rendered else ""
        return f"{release.path} ({rt.releases.last_copy}){what}"


def service_gid(config: ComponentConfig) -> int | None:
    """The group the service reads its release with; None when it runs as root."""
    from hdhooks.instance.render import group_for_service

    group = group_for_service(config)
    if group is None:
        return None
    from hdhooks.fsutil import resolve_gid

    gid = resolve_gid(group)
    return None if gid <= 0 else gid


def _needs_aws(rt: Runtime) -> bool:
    c = rt.config
    return bool(c.ssm.paths or c.ssm.parameters or c.secrets)


class ActivateRelease(Record):
    """Point ``current`` at a release (``base_dir`` empty: the hook's component)."""

    release_id: str
    base_dir: str = ""

    def describe(self) -> str:
        return f"switch current to release {self.release_id}"

    def skipped(self) -> str | None:
        return None

    def run(self, rt: Runtime) -> str:
        store = rt.store(self.base_dir)
        if store.get(self.release_id) is None:
            raise StepFailed(
                f"no release {self.release_id} under {store.releases_dir}: "
                "AfterInstall did not run or failed for this deployment"
            )
        before = store.current()
        if before is not None and before.id == self.release_id:
            return "already current"  # ApplicationStart run again for this deployment
        store.activate(self.release_id)
        return f"was {before.id}" if before else "first release"


#: Seconds service.check_command may take (``hdhooks lint`` counts them in
#: ApplicationStart's timeout): a config test such as ``nginx -t`` takes a moment.
CHECK_TIMEOUT = 30


class CheckCommand(Record):
    """``service.check_command`` (``nginx -t``) must pass before ``current`` moves.

    When it fails, the files rendered outside the release for ``release_id``
    (a site config where nginx reads it) are put back as they were, so the
    running server, a restart and a rollback still find a config that works.
    """

    argv: tuple[str, ...]
    cwd: str
    release_id: str = ""
    base_dir: str = ""

    def describe(self) -> str:
        return f"check: {' '.join(self.argv)}"

    def skipped(self) -> str | None:
        return None

    def run(self, rt: Runtime) -> str:
        from hdhooks import proc

        result = proc.run(self.argv, timeout=CHECK_TIMEOUT, cwd=self.cwd)
        if not result.ok:
            status = "timed out" if result.timed_out else f"exited {result.returncode}"
            restored = self._restore(rt)
            raise StepFailed(f"check command {' '.join(self.argv)} {status}{restored}",
                             result.tail(15).splitlines())
        return f"passed in {result.duration:.2f}s"

    def _restore(self, rt: Runtime) -> str:
        if not self.release_id:
            return ""
        from hdhooks.instance.releases import restore_outside

        release = rt.store(self.base_dir).releases_dir / self.release_id
        put_back = restore_outside(release)
        return f"; restored {', '.join(put_back)}" if put_back else ""


class StartService(Record):
    service: ServiceSpec
    reload: bool = False

    def describe(self) -> str:
        return "reload the service" if self.reload else "start the service"

    def skipped(self) -> str | None:
        return None

    def run(self, rt: Runtime) -> str:
        from hdhooks.errors import HdhooksError

        service = rt.service_for(self.service)
        try:
            if self.reload:
                service.reload()
            else:
                service.start()
        except HdhooksError as exc:
            # Both backends put the service's log tail in their error; read it
            # here only when they could not (a bad user, a missing command).
            raise StepFailed(
                f"service {self.service.name} did not start: {exc.message}",
                exc.details() or service.log_tail(10),
            ) from None
        return service.status().describe()


class CheckHealth(Record):
    """The local HTTP check: the new release, not an old process, must answer."""

    check: HealthCheck | None
    service: ServiceSpec

    def describe(self) -> str:
        return f"local health check of {self.check.url}" if self.check else "local health check"

    def skipped(self) -> str | None:
        return None if self.check else "no health section in the config"

    def run(self, rt: Runtime) -> str:
        from hdhooks.instance.health import check_service

        if self.check is None:
            return "skipped: no health section"
        result = check_service(self.check, rt.service_for(self.service))
        if not result.ok:
            raise StepFailed(result.one_line(self.check.url), result.diagnostics)
        return result.one_line(self.check.url)
