"""Every instance plan: the lifecycle events, rollback and restart.

A plan is a tuple of frozen steps that carry everything they act on,
resolved here from the component config and the hook's surroundings: the
service spec, the health check with its rendered expectations, the
preflight spec, the traffic decision with its reason. Executing a plan never
reads the config again, and ``--dry-run`` prints exactly these steps, with
the reason of every step that will be skipped.

The planners are pure: they read no file and start no process (templates in
health expectations are rendered from values given to them), so they are
tested as tables.
"""

from __future__ import annotations

from hdhooks.config.model import ComponentConfig
from hdhooks.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from collections.abc import Mapping

    from hdhooks.instance.health import HealthCheck
    from hdhooks.instance.preflight import PreflightSpec
    from hdhooks.instance.steps import CheckHealth, Step, TrafficStep

STEPFUL_EVENTS = (
    "ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService",
)
#: Events that have steps only when ``traffic.events`` moves blocking/allowing to them.
TRAFFIC_EVENTS = {"BeforeBlockTraffic": "block", "AfterAllowTraffic": "allow"}


def has_steps(event: str, config: ComponentConfig) -> bool:
    return event in STEPFUL_EVENTS or event in config.traffic.events


class Where(Record):
    """The facts about the deployment that a plan needs besides the config."""

    deployment_id: str
    deployment_group: str | None = None
    build_id: str = ""


def plan_event(event: str, config: ComponentConfig, where: Where,
               environ: Mapping[str, str] | None = None) -> tuple[Step, ...]:
    """The steps of ``event`` for this component (empty for traffic-only events)."""
    if not has_steps(event, config):
        return ()
    from hdhooks.instance import steps as s
    from hdhooks.instance.runtime import service_spec

    service = service_spec(config)
    svc = config.service
    if event in TRAFFIC_EVENTS:
        return (traffic_step(config, TRAFFIC_EVENTS[event], event),)
    if event == "ApplicationStop":
        return (traffic_step(config, "block"), s.StopService(service, keep_running=svc.reload))
    if event == "BeforeInstall":
        return (s.Preflight(preflight_spec(config), service),
                s.PruneReleases(config.releases.keep))
    if event == "AfterInstall":
        return (s.PromoteRelease(where.deployment_id, config.releases.source),)
    if event == "ApplicationStart":
        # The check runs on the new release's files before `current` moves to it.
        return (*check_step(config, where.deployment_id),
                s.ActivateRelease(where.deployment_id),
                s.StartService(service, reload=svc.reload))
    return (health_step(config, where, environ), traffic_step(config, "allow"))


def check_step(config: ComponentConfig, release_id: str) -> tuple[Step, ...]:
    """``service.check_command``, run in the bundle; none when it is not set."""
    from hdhooks.instance.steps import CheckCommand

    argv = config.service.check_command
    return (CheckCommand(tuple(argv), config.bundle_dir, release_id),) if argv else ()


def traffic_step(config: ComponentConfig, action: str, event: str = "") -> TrafficStep:
    """The block or allow step, with what the config alone decides about it.

    Whether the instance really moves (on EC2, in an ASG or target groups,
    CodeDeploy's own control off, not a launch or termination deployment)
    is decided when the step runs, from discovery.
    """
    from hdhooks.instance.runtime import service_spec
    from hdhooks.instance.steps import AllowTraffic, BlockTraffic

    t = config.traffic
    moved = {"block": "BeforeBlockTraffic", "allow": "AfterAllowTraffic"}[action]
    reason: str | None = None
    if t.mode in ("off", "codedeploy"):
        reason = f"traffic.mode is {t.mode}"
    elif moved in t.events and event != moved:
        reason = f"done in {moved} (traffic.events)"
    if t.target_groups:
        context = f"traffic.mode is {t.mode} with target groups {', '.join(t.target_groups)}"
    else:
        context = f"traffic.mode is {t.mode} and no target groups are configured"
    cls = BlockTraffic if action == "block" else AllowTraffic
    return cls(action, reason, context, service_spec(config))


def preflight_spec(config: ComponentConfig) -> PreflightSpec:
    """What BeforeInstall checks: free disk, required commands, free ports."""
    from hdhooks.instance.preflight import PreflightSpec, Requirement

    cfg = config.preflight
    return PreflightSpec(
        disk=((cfg.disk_path, cfg.min_free_disk_mb),),
        commands=tuple(Requirement(c.name, c.min_version, c.version_args)
                       for c in cfg.commands),
        ports=tuple(cfg.ports),
    )


def health_step(config: ComponentConfig, where: Where,
                environ: Mapping[str, str] | None = None) -> CheckHealth:
    """The local health check of ``config`` (skipped, with why, without a health section)."""
    from hdhooks.instance.runtime import service_spec
    from hdhooks.instance.steps import CheckHealth

    return CheckHealth(health_check(config, where, environ), service_spec(config))


def health_check(config: ComponentConfig, where: Where,
                 environ: Mapping[str, str] | None = None) -> HealthCheck | None:
    """The HealthCheck of the config, templates in expected values rendered now."""
    from hdhooks.instance.health import HealthCheck

    h = config.health
    if h is None:
        return None
    identity = None
    if h.identity is not None:
        i = h.identity
        identity = HealthCheck(
            url=i.url, expect_status=tuple(i.expect_status), body_contains=i.body_contains,
            json_expect=_expected(config, where, environ, i.json_fields, "health.identity"),
            request_timeout=h.timeout)
    return HealthCheck(
        url=h.url, expect_status=tuple(h.expect_status), body_contains=h.body_contains,
        json_expect=_expected(config, where, environ, h.json_fields, "health"),
        deadline=h.deadline, interval=h.interval,
        successes=h.successes, request_timeout=h.timeout, identity=identity,
    )


def _expected(config: ComponentConfig, where: Where, environ: Mapping[str, str] | None,
              fields: Mapping[str, object], section: str) -> tuple[tuple[str, str], ...]:
    """(dotted field, expected text) pairs, a template (``{{ build_id }}``) rendered."""
    expect: list[tuple[str, str]] = []
    for json_field, expected in fields.items():
        text = _text(expected)
        if "{{" in text or "{%" in text:
            from hdhooks.instance.render import build_context, render_string

            context = build_context(config, release_dir=config.releases.current_link,
                                    deployment_id=where.deployment_id,
                                    deployment_group=where.deployment_group, environ=environ,
                                    extra={"build_id": where.build_id})
            text = render_string(text, context, what=f"{section}.json_fields.{json_field}")
        expect.append((json_field, text))
    return tuple(expect)


def _text(value: object) -> str:
    """A config value as the health check compares it (YAML true -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


# --- rollback and restart -------------------------------------------------------

class Side(Record):
    """One release in a move: its id, the config it was deployed with, its build."""

    release_id: str
    config: ComponentConfig
    build_id: str = ""
    deployment_group: str | None = None


class MovePlan(Record):
    """A rollback or restart: the steps, and how to get back if the target fails.

    ``recovery`` (empty for a restart) stops the target, points ``current``
    at the original release again and starts and checks it: the last good
    state is never lost because the release rolled back to cannot boot.
    """

    label: str
    running: str | None  # the release current names now
    target: str
    steps: tuple[Step, ...]
    recovery: tuple[Step, ...] = ()


def plan_move(label: str, running: Side | None, target: Side,
              environ: Mapping[str, str] | None = None) -> MovePlan:
    """Stop what runs, make ``target`` current, start it, check it; recovery if it fails."""
    from hdhooks.instance import steps as s
    from hdhooks.instance.runtime import service_spec

    stop: tuple[Step, ...] = ()
    if running is not None:
        stop = (s.StopService(service_spec(running.config),
                              keep_running=running.config.service.reload),)
    steps = (*stop, *bring_up(target, environ))
    recovery: tuple[Step, ...] = ()
    if running is not None and running.release_id != target.release_id:
        recovery = (s.StopService(service_spec(target.config),
                                  keep_running=target.config.service.reload),
                    *bring_up(running, environ, check=False))
    return MovePlan(label, running.release_id if running else None, target.release_id,
                    steps, recovery)


def bring_up(side: Side, environ: Mapping[str, str] | None = None, *,
             check: bool = True) -> tuple[Step, ...]:
    """Check (optionally), switch ``current`` to ``side``, start its service, check health."""
    from hdhooks.instance import steps as s
    from hdhooks.instance.runtime import service_spec

    config = side.config
    where = Where(side.release_id, side.deployment_group, side.build_id)
    return (*(check_step(config, side.release_id) if check else ()),
            s.ActivateRelease(side.release_id, config.releases.base_dir),
            s.StartService(service_spec(config), reload=config.service.reload),
            health_step(config, where, environ))
