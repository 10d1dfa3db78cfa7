"""Cross-checks between an appspec and the component config it deploys.

Each finding points at the appspec line that must change (``[hooks.
ApplicationStop[0].timeout]``), because the appspec is where the agent's
limits live: a hook timeout shorter than what hdhooks waits for in that event
fails the deployment only on the day the service is slow to stop or to
become healthy. The arithmetic is spelt out in each message.
"""

from __future__ import annotations

import os
import posixpath
import pwd
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hdhooks.appspec.model import DEFAULT_TIMEOUT, AppSpec, HookScript
from hdhooks.config.model import ComponentConfig
from hdhooks.lint.shims import MODIFIED, SHIM, UNREADABLE, ShimCheck
from hdhooks.yamlsrc.node import YNode, child_path
from hdhooks.yamlsrc.problems import ERROR, WARNING, Problem

MARGIN = 30  # seconds of slack between hdhooks' own deadline and the agent's
AUTO_DEREGISTRATION = 300 + 60  # ALB default deregistration delay + polling slack
TRAFFIC_ALLOW = 300  # 60 + (HealthyThreshold 5 + 1) x (interval 30 + timeout 5), rounded up
SERVICE_EVENTS = ("ApplicationStop", "ApplicationStart")

# event -> (severity, what goes wrong when no script of the event runs hdhooks)
REQUIRED_EVENTS: dict[str, tuple[str, str]] = {
    "ApplicationStop": (ERROR, "the running release would never be stopped"),
    "BeforeInstall": (WARNING, "preflight checks and pruning of old releases would never run"),
    "AfterInstall": (ERROR, "the new release would never be made (copied and rendered)"),
    "ApplicationStart": (ERROR, "the new release would never be switched to and started"),
    "ValidateService": (ERROR, "the health check in deploy/hdhooks.yml would never run"),
}


@dataclass(frozen=True)
class LintInput:
    """What the cross-checks read: the parsed appspec, its YAML, one config, the shims."""

    spec: AppSpec
    root: YNode  # the appspec's YAML root (a mapping)
    config: ComponentConfig
    shims: Mapping[str, ShimCheck]  # hook location as written (stripped) -> its check


def user_exists(name: str) -> bool:
    """Whether ``name`` is a user on this machine."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def cross_check(inp: LintInput, *, known_user: Callable[[str], bool] = user_exists
                ) -> list[Problem]:
    """Every appspec problem that only the component config reveals."""
    out: list[Problem] = []
    out += check_events(inp)
    out += check_timeouts(inp)
    out += check_runas(inp, known_user)
    out += check_files(inp)
    return out


# --- which events run hdhooks ---------------------------------------------------
def shim_entries(inp: LintInput, event: str) -> list[tuple[int, HookScript]]:
    """The scripts of ``event`` that run hdhooks (a shim, even a modified one)."""
    return [(i, s) for i, s in enumerate(inp.spec.scripts(event))
            if inp.shims.get(s.location, ShimCheck(UNREADABLE)).kind in (SHIM, MODIFIED)]


def traffic_enabled(config: ComponentConfig) -> bool:
    """Whether hdhooks moves the instance in and out of target groups."""
    t = config.traffic
    return t.mode == "hdhooks" or (t.mode == "auto" and bool(t.target_groups))


def check_events(inp: LintInput) -> list[Problem]:
    out = []
    for event, (severity, consequence) in REQUIRED_EVENTS.items():
        if event == "ValidateService" and inp.config.health is None:
            continue
        if shim_entries(inp, event):
            continue
        shim = f"hooks/{_kebab(event)}.sh"
        if inp.spec.scripts(event):
            node = _event_node(inp.root, event)
            msg = (f"no script of {event} runs hdhooks: {consequence}; add "
                   f"'- location: {shim}' to it")
        else:
            node = _hooks_node(inp.root)
            msg = (f"no {event} hook: {consequence}; add '{event}: [{{location: {shim}}}]' "
                   "under hooks ('hdhooks init' writes a complete appspec)")
        out.append(node.problem(severity, "lint-hook-missing", msg,
                                path=child_path("hooks", event)))
    return out


# --- timeouts -------------------------------------------------------------------
def required_time(event: str, config: ComponentConfig) -> tuple[int, str] | None:
    """Seconds the shim of ``event`` needs at least, and the sum spelt out."""
    parts: list[tuple[str, float]] = []  # (text with {} for the seconds, seconds)
    svc = config.service
    if event == "ApplicationStop":
        # A reloaded shared server (nginx) is never stopped: no stop_timeout to wait for.
        if not svc.reload:
            parts.append(("stop_timeout {} s", svc.stop_timeout))
        if traffic_enabled(config) and config.traffic.deregistration_wait:
            dereg = config.traffic.deregistration_timeout
            parts.append(("traffic.deregistration.timeout {} s", dereg) if dereg is not None
                         else ("the deregistration wait {} s (auto: 300 s delay + 60 s)",
                               AUTO_DEREGISTRATION))
    elif event == "ApplicationStart":
        # The limits the hook itself applies, so that lint never drifts from them.
        from hdhooks.instance.service.process import START_SETTLE
        from hdhooks.instance.service.systemd import START_TIMEOUT
        from hdhooks.instance.steps import CHECK_TIMEOUT

        if svc.check_command:
            parts.append(("the check command {} s", CHECK_TIMEOUT))
        parts.append(("systemctl start {} s", START_TIMEOUT) if svc.backend == "systemd"
                     else ("the start check {} s", START_SETTLE))
    elif event == "ValidateService":
        if config.health is not None:
            parts.append(("health.deadline {} s", config.health.deadline))
        if traffic_enabled(config):
            parts.append(("the target-group health wait {} s", TRAFFIC_ALLOW))
        if not parts:
            return None
    else:
        return None
    parts.append(("{} s margin", MARGIN))
    total = int(-(-sum(v for _, v in parts) // 1))  # round up
    return total, " + ".join(text.format(_seconds(value)) for text, value in parts)


def check_timeouts(inp: LintInput) -> list[Problem]:
    out = []
    hints = dict(inp.config.hooks.timeouts)
    events = dict.fromkeys(("ApplicationStop", "ApplicationStart", "ValidateService", *hints))
    for event in events:
        need = required_time(event, inp.config)
        hint = hints.get(event)
        for index, script in shim_entries(inp, event):
            entry = _entry_node(inp.root, event, index)
            node = entry.get("timeout") or entry
            path = child_path(child_path(child_path("hooks", event), index), "timeout")
            given = (f"timeout {script.timeout} s" if entry.get("timeout") is not None
                     else f"no timeout (the agent's default, {DEFAULT_TIMEOUT} s)")
            if need is not None and script.timeout < need[0]:
                out.append(node.problem(ERROR, "lint-hook-timeout",
                                        f"{event}: {given} is shorter than {need[1]}; use "
                                        f"at least {need[0]}{_cap(need[0])}", path=path))
            if hint is not None and script.timeout < hint:
                out.append(node.problem(ERROR, "lint-hook-timeout",
                                        f"{event}: {given} is shorter than hooks.timeouts."
                                        f"{event} {hint} s in deploy/hdhooks.yml; use at "
                                        f"least {hint}", path=path))
    return out


def _cap(need: int) -> str:
    if need <= DEFAULT_TIMEOUT:
        return ""
    return (f" (more than the {DEFAULT_TIMEOUT} s an event may take: lower the waits in "
            "deploy/hdhooks.yml)")


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --- runas ----------------------------------------------------------------------
def check_runas(inp: LintInput, known_user: Callable[[str], bool]) -> list[Problem]:
    out = []
    svc = inp.config.service
    for event, scripts in inp.spec.hooks.items():
        for index, script in enumerate(scripts):
            user = (script.runas or "").strip()
            if not user or user == "root":
                continue
            node = _entry_node(inp.root, event, index).get("runas")
            if node is None:
                continue
            check = inp.shims.get(script.location, ShimCheck(UNREADABLE))
            is_shim = check.kind in (SHIM, MODIFIED)
            if user != svc.user and not known_user(user):
                out.append(node.warning(
                    "lint-runas-unknown",
                    f"runas user '{user}' is not the service user and does not exist on "
                    "this machine; the agent's 'su' fails on an instance without it "
                    "(create the user when the AMI is baked, or remove runas)"))
            if is_shim and event in SERVICE_EVENTS:
                out.extend(_service_control(node, event, user, svc.backend, svc.user))
    return out


def _service_control(node: YNode, event: str, user: str, backend: str,
                     service_user: str | None) -> list[Problem]:
    if backend == "systemd":
        return [node.warning(
            "lint-runas-service",
            f"{event} runs as '{user}', but it controls the service through systemctl, "
            "which needs root; remove runas (hooks run as root)")]
    if user != service_user:
        return [node.warning(
            "lint-runas-service",
            f"{event} runs as '{user}', but the service runs as "
            f"'{service_user or 'root'}': '{user}' cannot signal its processes; remove runas")]
    return []


# --- files ----------------------------------------------------------------------
def check_files(inp: LintInput) -> list[Problem]:
    out = []
    base = posixpath.normpath(inp.config.releases.base_dir)
    managed = (posixpath.join(base, "releases"), posixpath.join(base, "current"))
    files = inp.root.get("files")
    entries = files.children() if files is not None else []
    for i, (mapping, entry) in enumerate(zip(inp.spec.files, entries, strict=False)):
        dest = posixpath.normpath(mapping.destination)
        node = entry.get("destination") or entry
        path = child_path(child_path("files", i), "destination")
        hit = next((m for m in managed if dest == m or dest.startswith(m + "/")), None)
        if hit is not None:
            out.append(node.problem(
                ERROR, "lint-files-managed",
                f"destination {mapping.destination} writes into {hit}, which hdhooks manages "
                "(a release per deployment, 'current' switched atomically); install into "
                f"{posixpath.join(base, 'incoming')} or drop the files section: hdhooks "
                "copies the bundle into the release itself", path=path))
        elif dest == base:
            out.append(node.problem(
                WARNING, "lint-files-managed",
                f"destination {mapping.destination} is releases.base_dir itself: the "
                "revision's files land beside releases/ and current; use "
                f"{posixpath.join(base, 'incoming')}", path=path))
    out += _incoming(inp, base)
    out += _file_exists_behavior(inp, bool(entries))
    return out


def _incoming(inp: LintInput, base: str) -> list[Problem]:
    """With ``releases.source: incoming`` the release is made from what ``files`` put there."""
    if inp.config.releases.source != "incoming":
        return []
    incoming = posixpath.join(base, "incoming")
    if any(posixpath.normpath(f.destination) == incoming for f in inp.spec.files):
        return []
    node = inp.root.key_node("files") or inp.root
    return [node.problem(
        ERROR, "lint-files-incoming",
        f"releases.source is incoming, but no files entry installs into {incoming}: the "
        f"release would be made from an empty directory; add '- source: /' with "
        f"'destination: {incoming}' under files", path="files")]


def _file_exists_behavior(inp: LintInput, has_files: bool) -> list[Problem]:
    node = inp.root.get("file_exists_behavior")
    behavior = inp.spec.file_exists_behavior
    if node is None or behavior is None:
        return []
    if not has_files:
        return [node.warning("lint-file-exists-behavior",
                             f"file_exists_behavior {behavior} has no effect without a "
                             "files section; remove it")]
    if behavior == "RETAIN":
        return [node.warning("lint-file-exists-behavior",
                             "RETAIN keeps a file already on the instance, so a changed file "
                             "of the new revision is silently not installed; leave "
                             "file_exists_behavior out (DISALLOW) or use OVERWRITE")]
    return []


# --- YAML positions -------------------------------------------------------------
def _hooks_node(root: YNode) -> YNode:
    return root.key_node("hooks") or root


def _event_node(root: YNode, event: str) -> YNode:
    hooks = root.get("hooks")
    return (hooks.key_node(event) if hooks is not None else None) or _hooks_node(root)


def _entry_node(root: YNode, event: str, index: int) -> YNode:
    hooks = root.get("hooks")
    scripts = hooks.get(event) if hooks is not None else None
    children = scripts.children() if scripts is not None else []
    return children[index] if index < len(children) else _event_node(root, event)


def _kebab(event: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in event).lstrip("-")


def resolve_location(bundle_dir: str, location: str) -> str:
    """Where a hook location is in the bundle (a leading '/' stays inside it)."""
    return os.path.normpath(os.path.join(bundle_dir, location.lstrip("/")))
