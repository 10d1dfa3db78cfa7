"""The traffic steps' execution: decide from discovery, then block or allow.

The planner decides what the config alone decides (mode off or codedeploy,
the events chosen); what depends on the instance is decided here, when the
step runs, because it needs I/O: not on EC2, CodeDeploy's own traffic
control on, a launch (Pending:Wait) or termination deployment, no target
groups. Each skip says why on the hook's output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hdhooks.errors import HdhooksError

if TYPE_CHECKING:
    from hdhooks.aws.discovery import Discovery
    from hdhooks.aws.traffic import Mover
    from hdhooks.instance.runtime import Runtime
    from hdhooks.instance.service.base import ServiceSpec


def skip_reason(found: Discovery, mode: str) -> str | None:
    """Why traffic is left alone on this instance for this deployment, or None to act."""
    from hdhooks.aws.traffic import TrafficConfigError

    if found.codedeploy_control == "on":
        if mode == "hdhooks":
            raise TrafficConfigError(
                f"traffic.mode is hdhooks but {found.codedeploy_reason}: both would move "
                "the same targets",
                hint="set traffic.mode: auto or codedeploy, or turn off the deployment "
                     "group's load balancer traffic control")
        return found.codedeploy_reason
    if found.lifecycle == "Terminated" or (found.asg_state or "").startswith("Terminating"):
        return ("termination deployment: the instance is leaving its Auto Scaling group, "
                "which drains it")
    if (found.asg_state or "").startswith("Pending"):
        return (f"launch deployment ({found.asg_state}): the Auto Scaling group registers "
                "the instance when its lifecycle hook completes")
    if not found.groups:
        return "no target groups (none configured, none attached to the Auto Scaling group)"
    return None


def prepare(rt: Runtime) -> tuple[Mover | None, str]:
    """The Mover for this hook, or None and the reason traffic is skipped."""
    from hdhooks.aws import imds
    from hdhooks.aws.discovery import Ask, discover
    from hdhooks.aws.journal import Journal
    from hdhooks.aws.traffic import Mover, TrafficConfigError

    t = rt.config.traffic
    if not imds.on_ec2():
        if t.mode == "hdhooks":
            raise TrafficConfigError(
                "traffic.mode is hdhooks but this is not an EC2 instance (no instance "
                "metadata)", hint="use traffic.mode: auto for deployments off EC2")
        return None, "not on EC2 (no instance metadata service)"
    env = rt.env
    if env is None:
        return None, "no deployment (traffic moves only in CodeDeploy hooks)"
    ask = Ask(component=rt.config.component, deployment_id=env.deployment_id,
              deployment_group=env.deployment_group, application=env.application,
              target_groups=tuple(t.target_groups), port=t.port, imds_v1=t.imds_v1)
    found = discover(env.state_dir, ask)
    if found.codedeploy_control == "unknown" and found.codedeploy_reason and \
            env.deployment_group:
        rt.say(f"      note: {found.codedeploy_reason}")
    reason = skip_reason(found, t.mode)
    if reason:
        return None, reason
    return Mover(found, Journal(env.state_dir), rt.config.component,
                 env.deployment_group or "", env.deployment_id, env.event,
                 fleet_concurrency=t.fleet_concurrency, standby=t.standby,
                 wait_drain=t.deregistration_wait, drain_timeout=t.deregistration_timeout,
                 say=rt.say), ""


def run_traffic(rt: Runtime, action: str, service: ServiceSpec) -> str:
    """Block or allow; a failure carries the service log, the port holder, ASG activities."""
    from hdhooks.aws.traffic import TrafficFailed
    from hdhooks.instance.steps import StepFailed

    mover, reason = prepare(rt)
    if mover is None:
        return f"skipped: {reason}"
    try:
        return mover.block() if action == "block" else mover.allow()
    except TrafficFailed as exc:
        raise StepFailed(exc.one_line(), [*local_diagnostics(rt, service), *exc.details()]
                         ) from None


def local_diagnostics(rt: Runtime, service: ServiceSpec) -> list[str]:
    """The service's log tail and who holds its port: what explains an unhealthy target."""
    lines: list[str] = []
    try:
        lines += [f"log: {line}" for line in rt.service_for(service).log_tail(8)]
    except (HdhooksError, OSError):
        pass
    port = rt.config.traffic.port or rt.config.service.port
    if port:
        from hdhooks.instance.ports import holders

        try:
            found = holders(int(port))
        except Exception:  # psutil may refuse; diagnostics never fail
            found = []
        described = [f"port {port}: {h.describe()}" for h in found]
        lines += described or [f"port {port}: nothing listens"]
    return lines
