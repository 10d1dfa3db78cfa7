"""Buildspec rules for ``phases``: names, commands, on-failure, runtime-versions.

The classic YAML traps live here: a command containing ``: `` that YAML turns
into a mapping, and ``3.10`` read as the number 3.1 in runtime-versions.
"""

from __future__ import annotations

import re

from hdhooks.build.buildspec.checks import Checks
from hdhooks.yamlsrc.node import YNode

PHASES = ("install", "pre_build", "build", "post_build")
PHASE_KEYS = ("run-as", "on-failure", "runtime-versions", "commands", "finally")
_JAVA_RE = re.compile(r"^(corretto(8|11|17|21)(\.x)?|latest)$")
# The runtimes CodeBuild's Linux standard images manage (buildspec reference).
RUNTIMES = ("android", "dotnet", "golang", "java", "nodejs", "php", "python", "ruby")
_RETRY_COUNT_RE = re.compile(r"^RETRY-(\d+)(?:-(.+))?$")


def check_phases(phases: YNode, checks: Checks) -> None:
    """Every phase present is known, well formed, and has its commands."""
    if not checks.mapping(phases, "phases"):
        return
    checks.keys(phases, PHASES, what="phases")
    if not any(phases.get(name) is not None for name in PHASES):
        checks.error(phases, "bs-phases-empty",
                     "phases has none of install, pre_build, build, post_build")
    for name, phase in phases.items():
        if name in PHASES:
            _check_phase(name, phase, checks)


def _check_phase(name: str, phase: YNode, checks: Checks) -> None:
    what = f"phase {name}"
    if phase.is_null:
        checks.error(phase, "bs-phase-empty",
                     f"{what} is empty; give it commands or remove it")
        return
    if not checks.mapping(phase, what):
        return
    required = () if name == "install" else ("commands",)
    checks.keys(phase, PHASE_KEYS, required, what=what)
    if name == "install" and phase.get("commands") is None and phase.get(
        "runtime-versions"
    ) is None:
        checks.error(phase, "bs-missing-key", f"{what} needs 'commands' or 'runtime-versions'")
    for key, value in phase.items():
        if key == "commands":
            check_commands(value, f"phases.{name}.commands", checks)
        elif key == "finally":
            check_commands(value, f"phases.{name}.finally", checks)
            if phase.get("commands") is None:
                checks.error(value, "bs-finally-alone",
                             f"{what}: 'finally' needs 'commands' in the same phase")
        elif key == "on-failure":
            _check_on_failure(value, checks)
        elif key == "run-as":
            checks.string(value, f"{what} run-as")
        elif key == "runtime-versions":
            if name != "install":
                key_node = phase.key_node(key) or value
                checks.error(key_node, "bs-runtime-phase",
                             f"runtime-versions is allowed only in the install phase, "
                             f"not in {name}")
            else:
                check_runtime_versions(value, checks)


def check_commands(node: YNode, what: str, checks: Checks) -> None:
    """A list of strings; explains the ``: `` trap when an item became a mapping."""
    if node.is_null:
        checks.error(node, "bs-commands-empty", f"{what} is empty")
        return
    if not node.is_seq:
        checks.error(node, "bs-type",
                     f"{what} must be a list of commands ('- cmd'), not {node.kind_name()}")
        return
    if not node.children():
        checks.error(node, "bs-commands-empty", f"{what} is empty")
    for item in node.children():
        if item.is_map:
            checks.error(item, "bs-command-mapping", _mapping_message(item))
        elif item.is_seq or item.is_null:
            checks.error(item, "bs-type",
                         f"a command must be a string, not {item.kind_name()} "
                         "(CodeBuild: Expected Commands to be of string type)")
        else:
            checks.string(item, "command")


def _mapping_message(item: YNode) -> str:
    pairs = list(item.items())
    shown = ""
    if len(pairs) == 1 and pairs[0][1].is_scalar:
        key, value = pairs[0]
        shown = f" '{key}: {value.raw}'" if value.raw else f" '{key}:'"
    return (
        f"the command{shown} contains ': ' so YAML read it as a mapping "
        "(CodeBuild: Expected Commands to be of string type); quote the whole command "
        "or use a block scalar (- |)"
    )


def _check_on_failure(node: YNode, checks: Checks) -> None:
    text = node.text() if node.is_str else ""
    if text in ("ABORT", "CONTINUE", "RETRY"):
        return
    match = _RETRY_COUNT_RE.match(text)
    if match:
        if int(match.group(1)) > 100:
            checks.error(node, "bs-on-failure",
                         f"on-failure {text}: the retry count must be 0..100")
        return
    if text.startswith("RETRY-") and len(text) > len("RETRY-"):
        return  # RETRY-<regex>
    checks.error(node, "bs-on-failure",
                 f"on-failure must be ABORT, CONTINUE, RETRY, RETRY-<count>, RETRY-<regex> "
                 f"or RETRY-<count>-<regex>, not '{node.raw}'")


def check_runtime_versions(node: YNode, checks: Checks) -> None:
    """Non-empty map; versions as written (3.10 is not 3.1); known java values."""
    if node.is_null or (node.is_map and not node.value):
        checks.error(node, "bs-runtime-empty",
                     "runtime-versions is empty; name at least one runtime or remove it")
        return
    if not checks.mapping(node, "runtime-versions"):
        return
    for name, value in node.items():
        what = f"runtime-versions.{name}"
        if name not in RUNTIMES:
            _unknown_runtime(node.key_node(name) or value, name, checks)
            continue
        if not value.is_scalar or value.is_null:
            checks.error(value, "bs-type",
                         f"{what} must be a version, not {value.kind_name()}")
            continue
        if value.tag == "float" and not value.quoted and value.raw != str(value.value):
            checks.error(value, "bs-runtime-float",
                         f"{what}: unquoted {value.raw} is read as the number {value.value}; "
                         f"quote it: \"{value.raw}\"")
            continue
        if name == "java" and not _JAVA_RE.match(value.text()):
            checks.error(value, "bs-runtime-java",
                         f"{what} must be corretto8, corretto11, corretto17 or corretto21 "
                         f"(optionally with .x) or latest, not '{value.raw}'")
    if node.get("android") is not None and node.get("java") is not None:
        checks.error(node.key_node("android") or node, "bs-runtime-conflict",
                     "runtime-versions: android and java cannot both be given "
                     "(android brings its own java)")


def _unknown_runtime(node: YNode, name: str, checks: Checks) -> None:
    """Flutter and Dart are the usual guesses: CodeBuild has no managed runtime for them."""
    if name.lower() in ("flutter", "dart"):
        checks.error(node, "bs-runtime-unknown",
                     f"runtime-versions: there is no managed {name} runtime; install a pinned "
                     "SDK in the install phase's commands (git clone --depth 1 --branch "
                     "<version> https://github.com/flutter/flutter.git) and cache it")
        return
    checks.error(node, "bs-runtime-unknown",
                 f"runtime-versions: unknown runtime '{name}' (CodeBuild knows "
                 f"{', '.join(RUNTIMES)})")
