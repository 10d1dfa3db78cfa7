"""The ``hooks`` section of an appspec, checked the way the CodeDeploy agent reads it.

Split from :mod:`hdhooks.appspec.read` (which calls it) to keep modules small.
A null event is ignored; entries must be mappings with a non-blank
``location``; ``timeout`` is read like Ruby's ``to_i`` (``30s`` is 30, ``1.9``
is 1), and zero, negative or non-numeric values are errors.
"""

from __future__ import annotations

import os

from hdhooks.appspec.model import BUILTIN_EVENTS, DEFAULT_TIMEOUT, SCRIPTABLE_EVENTS, HookScript
from hdhooks.appspec.psych import ruby_to_i, ruby_to_s
from hdhooks.yamlsrc.checks import closest, unknown_keys
from hdhooks.yamlsrc.node import YNode, child_path
from hdhooks.yamlsrc.problems import ERROR, Problem

SCRIPT_KEYS = ("location", "timeout", "runas", "sudo")
MAX_EVENT_TIMEOUT = 3600  # AWS documents 3600 s as the most one event may take
MAX_RUNNABLE_TIMEOUT = 366 * 86400  # beyond a year no clock can be set to wait for it


# --- hooks -------------------------------------------------------------------
def check_hooks(node: YNode | None, out: list[Problem]
           ) -> tuple[dict[str, tuple[HookScript, ...]], dict[str, int]]:
    hooks: dict[str, tuple[HookScript, ...]] = {}
    lines: dict[str, int] = {}
    if node is None or node.is_null or node.value is False:
        return hooks, lines
    if not node.is_map:
        out.append(node.error("hooks", f"hooks must be a mapping of event names to lists of "
                                       f"scripts, not {node.kind_name()}; the agent crashes "
                                       "on it (write 'hooks:' with events below, or remove it)"))
        return hooks, lines
    for event, value in node.items():
        key = node.key_node(event)
        assert key is not None
        lines[event] = key.line
        if event in BUILTIN_EVENTS:
            out.append(key.warning("hook-never-run", f"hooks for {event} are accepted and never "
                                                     "run: it is a built-in step of the agent"))
        if value.is_null:
            continue
        if not value.is_seq:
            out.append(value.error(
                "hook-event",
                f"hooks.{event} must be a list of scripts ('- location: script.sh'), not "
                f"{value.kind_name()}; the agent crashes on it",
            ))
            continue
        hooks[event] = _event_scripts(value, out)
    return hooks, lines


def _event_scripts(node: YNode, out: list[Problem]) -> tuple[HookScript, ...]:
    scripts = []
    for entry in node.children():
        script = _script(entry, out)
        if script is not None:
            scripts.append(script)
    total = sum(s.timeout for s in scripts)
    explicit = any(e.get("timeout") is not None for e in node.children() if e.is_map)
    if len(scripts) > 1 and explicit and total > MAX_EVENT_TIMEOUT:
        defaults = sum(1 for e in node.children() if e.is_map and e.get("timeout") is None)
        counted = f" ({defaults} without 'timeout' count {DEFAULT_TIMEOUT} s each)" \
            if defaults else ""
        out.append(node.warning(
            "hook-event-timeout",
            f"the timeouts of this event's {len(scripts)} scripts add up to {total} s"
            f"{counted}: AWS documents {MAX_EVENT_TIMEOUT} s as the longest an event may "
            "take, and CodeDeploy may stop the event before a script's own timeout; lower "
            "the timeouts so that they add up to at most 3600",
        ))
    return tuple(scripts)


def _script(entry: YNode, out: list[Problem]) -> HookScript | None:
    if entry.is_str:
        out.append(entry.error("hook-entry", f"a script entry must be a mapping: write "
                                             f"'- location: {entry.value}'; the agent crashes "
                                             "on a plain string"))
        return None
    if not entry.is_map:
        out.append(entry.error("hook-entry", f"a script entry must be a mapping with "
                                             f"'location', not {entry.kind_name()}; the agent "
                                             "crashes on it"))
        return None
    before = len(out)
    unknown_keys(entry, SCRIPT_KEYS, out, code="unknown-key", what="a script entry",
                 severity="warning", consequence=": the agent ignores it")
    location = _location(entry, out)
    timeout = _timeout(entry.get("timeout"), out)
    runas = _runas(entry.get("runas"), out)
    sudo_node = entry.get("sudo")
    sudo = sudo_node is not None and sudo_node.value not in (None, False)
    if sudo_node is not None and not sudo_node.is_null:
        out.append(sudo_node.warning(
            "hook-sudo",
            "'sudo' is not documented by AWS: the agent runs 'sudo PATH' (or 'sudo su USER "
            "-c PATH' with runas); prefer runas",
        ))
    if location is None or any(p.is_error for p in out[before:]):
        return None
    return HookScript(location=location, timeout=timeout, runas=runas, sudo=sudo,
                      line=entry.line)


def _location(entry: YNode, out: list[Problem]) -> str | None:
    node = entry.get("location")
    if node is not None and not node.is_null and not node.is_scalar:
        out.append(node.error("hook-location", f"location must be a path relative to the "
                                               f"bundle root, not {node.kind_name()}"))
        return None
    text = ruby_to_s(node).strip() if node is not None else ""
    if not text:
        where = node if node is not None and not node.is_null else entry
        out.append(where.problem(
            ERROR, "hook-location",
            "the script has no location value; add 'location: <path in the bundle>'",
            path=child_path(entry.path, "location"),
        ))
        return None
    if any(c.isspace() for c in text):
        assert node is not None
        out.append(node.error(
            "hook-location",
            f"location '{text}' contains white space: the agent splits the command at white "
            f"space and runs '{text.split()[0]}'; arguments are not supported, so rename the "
            "script or move the arguments into it",
        ))
        return None
    return text


def _timeout(node: YNode | None, out: list[Problem]) -> int:
    if node is None or node.is_null or node.value is False:
        return DEFAULT_TIMEOUT
    value = ruby_to_i(node)
    if value is None or value <= 0:
        shown = node.raw if node.is_scalar else node.kind_name()
        out.append(node.error("hook-timeout", f"invalid timeout value ({shown}): the agent "
                                              "needs a whole number of seconds greater than 0, "
                                              "for example 'timeout: 300'"))
        return DEFAULT_TIMEOUT
    if node.tag != "int" and str(node.value).strip().lstrip("+-") != str(abs(value)):
        out.append(node.warning("hook-timeout", f"timeout {node.raw} is read by the agent as "
                                                f"{value} s; write 'timeout: {value}'"))
    if value > MAX_RUNNABLE_TIMEOUT:
        out.append(node.error("hook-timeout", f"timeout {value} s is longer than a year, which "
                                              "no deployment can wait; CodeDeploy ends an event "
                                              f"after {MAX_EVENT_TIMEOUT} s: write at most "
                                              f"'timeout: {MAX_EVENT_TIMEOUT}'"))
        return DEFAULT_TIMEOUT
    if value > MAX_EVENT_TIMEOUT:
        out.append(node.warning("hook-timeout-long", f"timeout {value} s is over "
                                                     f"{MAX_EVENT_TIMEOUT} s, the longest AWS "
                                                     "documents for a lifecycle event"))
    return value


def _runas(node: YNode | None, out: list[Problem]) -> str | None:
    if node is None or node.is_null:
        return None
    if not node.is_scalar:
        out.append(node.error("hook-runas", f"runas must be a user name, not "
                                            f"{node.kind_name()}; write 'runas: USER'"))
        return None
    text = ruby_to_s(node).strip()
    if not text:
        out.append(node.warning("hook-runas", "runas is empty: the script runs as root through "
                                              "'su'; remove runas or name a user"))
    return text


def unknown_event_problems(root: YNode, file: str, out: list[Problem]) -> None:
    hooks = root.get("hooks")
    known = list(SCRIPTABLE_EVENTS) + list(BUILTIN_EVENTS)
    for event, _ in hooks.items() if hooks is not None else ():
        if event in known:
            continue
        key = hooks.key_node(event)  # type: ignore[union-attr]
        assert key is not None
        close = closest(event, known)
        hint = f"did you mean {close}?" if close else f"known events: {', '.join(known)}"
        if event in ("BlockTraffic", "AllowTraffic"):
            hint = f"{event} is done by the CodeDeploy service; use Before{event} or After{event}"
        out.append(key.error(
            "hook-unknown-event",
            f'{os.path.basename(file)} file contains unknown lifecycle events: ["{event}"]; '
            f"{hint}",
        ))
