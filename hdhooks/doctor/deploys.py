"""Checks over the deployed components: the IAM actions they need, and traffic control.

A component's settings come from its state record (what the last
successful ApplicationStart used), so the doctor judges what is really
deployed rather than a revision that may never run here.
"""

from __future__ import annotations

from hdhooks.config.model import ComponentConfig
from hdhooks.doctor.files import state_dir
from hdhooks.doctor.model import FAIL, OK, SKIP, WARN, Context, Finding
from hdhooks.errors import HdhooksError


def deployed(ctx: Context) -> list[tuple[str, str | None, ComponentConfig | None]]:
    """(component, deployment id, config or None) for every readable state record."""
    from hdhooks.config.cache import config_from_data
    from hdhooks.config.state import read_all

    found: list[tuple[str, str | None, ComponentConfig | None]] = []
    for state in read_all(state_dir(ctx))[0]:
        try:
            config = config_from_data(state.config) if state.config else None
        except (HdhooksError, KeyError, TypeError, ValueError):
            config = None
        found.append((state.component, state.deployment_id, config))
    return found


def needed_actions(configs: list[ComponentConfig]) -> list[str]:
    """The IAM actions the components' hooks call: those of ``hdhooks iam-policy``."""
    from hdhooks.aws.policy import build_policy, policy_actions

    return sorted(policy_actions(build_policy(configs)))


def check_iam(ctx: Context) -> list[Finding]:
    """The actions the configs need, simulated where the role may simulate itself."""
    from hdhooks.aws.probe import simulate

    actions = needed_actions([c for _, _, c in deployed(ctx) if c is not None])
    if not actions:
        return [Finding("iam actions", OK, "the deployed configs call no AWS action")]
    principal = role_arn(ctx.facts.get("arn", ""))
    if not principal:
        return [Finding("iam actions", SKIP, f"no credentials; needed: {', '.join(actions)}")]
    try:
        decisions = simulate(principal, actions, ctx.facts.get("region"))
    except HdhooksError:
        return [Finding("iam actions", WARN, f"not simulated (iam:SimulatePrincipalPolicy "
                        f"refused); needed: {', '.join(actions)}",
                        "check the role allows them, or allow iam:SimulatePrincipalPolicy "
                        "on itself")]
    denied = [a for a in actions if decisions.get(a) != "allowed"]
    if denied:
        return [Finding("iam actions", FAIL, f"{principal} may not {', '.join(denied)}",
                        "allow them in the instance role's policy (hdhooks iam-policy)")]
    return [Finding("iam actions", OK, f"{len(actions)} actions allowed")]


def role_arn(arn: str) -> str:
    """``arn:aws:sts::1:assumed-role/R/i-1`` -> ``arn:aws:iam::1:role/R``; others as-is."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return arn


def check_traffic_control(ctx: Context) -> list[Finding]:
    """A group must not have CodeDeploy's traffic control while hdhooks' is on."""
    from hdhooks.aws.policy import uses_traffic
    from hdhooks.aws.probe import deployment_group_of

    found: list[Finding] = []
    for component, deployment_id, config in deployed(ctx):
        if config is None or not uses_traffic(config):
            continue
        name = f"traffic {component}"
        if not deployment_id or deployment_id.endswith("-local"):
            found.append(Finding(name, SKIP, "deployed locally: no deployment group"))
            continue
        try:
            group = deployment_group_of(deployment_id, ctx.facts.get("region"))
        except HdhooksError as exc:
            found.append(Finding(name, WARN, exc.one_line(),
                                 "allow codedeploy:GetDeployment and GetDeploymentGroup"))
            continue
        found.append(traffic_verdict(name, group))
    return found or [Finding("traffic control", OK, "no component uses hdhooks' traffic "
                             "control")]


def traffic_verdict(name: str, group: dict[str, object]) -> Finding:
    """Fail when the deployment group has CodeDeploy's traffic control on too."""
    style = group.get("deploymentStyle")
    option = style.get("deploymentOption") if isinstance(style, dict) else None
    lb = group.get("loadBalancerInfo")
    group_name = group.get("deploymentGroupName", "?")
    if option == "WITH_TRAFFIC_CONTROL" and lb:
        return Finding(name, FAIL, f"deployment group {group_name} has CodeDeploy's traffic "
                       "control on, and hdhooks' is on too",
                       "set the group's deploymentOption to WITHOUT_TRAFFIC_CONTROL, or "
                       "traffic.mode: codedeploy in deploy/hdhooks.yml")
    return Finding(name, OK, f"deployment group {group_name}: only hdhooks controls traffic")
