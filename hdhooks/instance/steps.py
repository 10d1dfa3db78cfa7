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

    class Step(Protocol):
        def describe(self) -> str: ...

        def run(self, rt: Runtime) -> str: ...


class StepFailed(CheckFailed):
    """A step failed; ``diagnostics`` are printed after the outcome line."""

    def __init__(self, message: str, diagnostics: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics)

    def details(self) -> list[str]:
        return self.diagnostics


class TrafficSeam(Record):
    """Where traffic is blocked (before the stop) or allowed (after validation).

    Traffic control itself (target groups, Standby, the journal) is the AWS
    capability's; until it is configured the step only says why it is skipped.
    """

    action: str  # "block" | "allow"

    def describe(self) -> str:
        return f"{self.action} traffic (load balancer)"

    def run(self, rt: Runtime) -> str:
        traffic = rt.config.traffic
        if traffic.mode in ("off", "codedeploy"):
            return f"skipped: traffic.mode is {traffic.mode}"
        if traffic.mode == "auto" and not traffic.target_groups:
            return "skipped: no target groups configured"
        return "skipped: hdhooks traffic control is not available in this version"


class StopService(Record):
    """Graceful stop: TERM, wait up to the stop timeout, KILL; then the port must be free.

    A shared server (``service.reload``, e.g. nginx) is not stopped: it keeps
    serving the old release until ApplicationStart reloads it.
    """

    keep_running: bool = False

    def describe(self) -> str:
        if self.keep_running:
            return "keep the shared service running (service.reload)"
        return "stop the service gracefully"

    def run(self, rt: Runtime) -> str:
        if self.keep_running:
            return "skipped: it is reloaded at ApplicationStart"
        result = rt.service.stop()
        if not result.ok:
            raise StepFailed(
                f"service {rt.config.service.name} {result.describe()}",
                rt.service.log_tail(10),
            )
        return result.describe()


class Preflight(Record):
    """Free disk, required commands, ports not held by someone else."""

    def describe(self) -> str:
        return "preflight: disk, commands, ports"

    def run(self, rt: Runtime) -> str:
        from hdhooks.instance import preflight as pf

        cfg = rt.config.preflight
        spec = pf.PreflightSpec(
            disk=((_existing_parent(cfg.disk_path), cfg.min_free_disk_mb),),
            commands=tuple(pf.Requirement(c.name, c.min_version, c.version_args)
                           for c in cfg.commands),
            ports=cfg.ports,
        )
        findings = pf.run_preflight(spec, rt.service.status().main_pid)
        failed = pf.failures(findings)
        if failed:
            raise StepFailed(
                f"preflight: {failed[0].message}"
                + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""),
                [f.line() for f in failed],
            )
        return f"{len(findings)} checks passed"


def _existing_parent(path: str) -> str:
    """The nearest existing directory of ``path`` (the base dir may not exist yet)."""
    from pathlib import Path

    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return str(p)


class PruneReleases(Record):
    keep: int

    def describe(self) -> str:
        return f"prune releases (keep {self.keep})"

    def run(self, rt: Runtime) -> str:
        removed = rt.releases.prune(self.keep, reserve=1)
        return f"removed {', '.join(r.id for r in removed)}" if removed else "nothing to remove"


class PromoteRelease(Record):
    """Copy the revision into releases/<deployment-id> and render the config into it."""

    release_id: str
    source: str  # "bundle" | "incoming"

    def describe(self) -> str:
        return f"make release {self.release_id} from the {self.source}, render config"

    def run(self, rt: Runtime) -> str:
        from hdhooks.instance.render import fetch_values, render_templates

        config = rt.config
        fetched = fetch_values(config) if _needs_aws(rt) else None
        final_dir = str(rt.releases.releases_dir / self.release_id)
        context = rt.template_context(final_dir, fetched)
        rendered: list[str] = []

        def prepare(work: Path) -> None:
            for item in render_templates(config, context, stage_dir=work):
                rendered.append(item.template)

        source = config.bundle_dir if self.source == "bundle" else None
        release = rt.releases.promote(self.release_id, source, prepare=prepare,
                                      reader_gid=service_gid(config))
        what = f", rendered {len(rendered)} template(s)" if rendered else ""
        return f"{release.path}{what}"


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
    release_id: str

    def describe(self) -> str:
        return f"switch current to release {self.release_id}"

    def run(self, rt: Runtime) -> str:
        if rt.releases.get(self.release_id) is None:
            raise StepFailed(
                f"no release {self.release_id} under {rt.releases.releases_dir}: "
                "AfterInstall did not run or failed for this deployment"
            )
        before = rt.releases.current()
        if before is not None and before.id == self.release_id:
            return "already current"  # ApplicationStart run again for this deployment
        rt.releases.activate(self.release_id)
        return f"was {before.id}" if before else "first release"


#: Seconds service.check_command may take (``hdhooks lint`` counts them in
#: ApplicationStart's timeout): a config test such as ``nginx -t`` takes a moment.
CHECK_TIMEOUT = 30


class CheckCommand(Record):
    """``service.check_command`` (``nginx -t``) must pass before ``current`` moves."""

    argv: tuple[str, ...]

    def describe(self) -> str:
        return f"check: {' '.join(self.argv)}"

    def run(self, rt: Runtime) -> str:
        from hdhooks import proc

        result = proc.run(self.argv, timeout=CHECK_TIMEOUT, cwd=rt.config.bundle_dir)
        if not result.ok:
            status = "timed out" if result.timed_out else f"exited {result.returncode}"
            raise StepFailed(f"check command {' '.join(self.argv)} {status}",
                             result.tail(15).splitlines())
        return f"passed in {result.duration:.2f}s"


class StartService(Record):
    reload: bool = False

    def describe(self) -> str:
        return "reload the service" if self.reload else "start the service"

    def run(self, rt: Runtime) -> str:
        from hdhooks.errors import HdhooksError

        try:
            if self.reload:
                rt.service.reload()
            else:
                rt.service.start()
        except HdhooksError as exc:
            # Both backends put the service's log tail in their error; read it
            # here only when they could not (a bad user, a missing command).
            raise StepFailed(
                f"service {rt.config.service.name} did not start: {exc.message}",
                exc.details() or rt.service.log_tail(10),
            ) from None
        return rt.service.status().describe()


class CheckHealth(Record):
    """The local HTTP check: the new release, not an old process, must answer."""

    def describe(self) -> str:
        return "local health check"

    def run(self, rt: Runtime) -> str:
        from hdhooks.instance.health import check_service

        check = health_check(rt)
        if check is None:
            return "skipped: no health section"
        result = check_service(check, rt.service)
        if not result.ok:
            raise StepFailed(result.one_line(check.url), result.diagnostics)
        return result.one_line(check.url)


def health_check(rt: Runtime) -> HealthCheck | None:
    """The HealthCheck of the config, templates in expected values rendered."""
    from hdhooks.instance.health import HealthCheck
    from hdhooks.instance.render import render_string

    h = rt.config.health
    if h is None:
        return None
    expect: list[tuple[str, str]] = []
    for json_field, expected in h.json_fields.items():
        text = _text(expected)
        if "{{" in text or "{%" in text:
            context = rt.template_context(str(rt.config.releases.current_link))
            text = render_string(text, context, what=f"health.json_fields.{json_field}")
        expect.append((json_field, text))
    return HealthCheck(
        url=h.url,
        expect_status=h.expect_status,
        body_contains=h.body_contains,
        json_expect=tuple(expect),
        deadline=h.deadline,
        interval=h.interval,
        successes=h.successes,
        request_timeout=h.timeout,
    )


def _text(value: object) -> str:
    """A config value as the health check compares it (YAML true -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)
