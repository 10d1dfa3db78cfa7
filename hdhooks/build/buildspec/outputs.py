"""Buildspec rules for ``reports``, ``artifacts``, ``cache`` and ``batch``."""

from __future__ import annotations

import re

from hdhooks.build.buildspec.checks import Checks
from hdhooks.yamlsrc.node import YNode

MAX_REPORT_GROUPS = 5
REPORT_KEYS = ("files", "base-directory", "discard-paths", "file-format")
REPORT_FORMATS = ("CUCUMBERJSON", "JUNITXML", "NUNITXML", "NUNIT3XML", "TESTNGXML",
                  "VISUALSTUDIOTRX", "CLOVERXML", "COBERTURAXML", "JACOCOXML", "SIMPLECOV")
ARTIFACT_KEYS = ("files", "name", "discard-paths", "base-directory", "exclude-paths",
                 "enable-symlinks", "s3-prefix", "secondary-artifacts")
CACHE_KEYS = ("paths", "key", "fallback-keys", "action")
MAX_FALLBACK_KEYS = 5
BATCH_KINDS = ("build-list", "build-matrix", "build-graph", "build-fanout")
BUILD_KEYS = ("identifier", "buildspec", "env", "debug-session", "ignore-failure",
              "depend-on")
_IDENT_RE = re.compile(r"^[A-Za-z0-9_]+$")


def check_reports(reports: YNode, checks: Checks) -> None:
    """At most five groups, each with files and a known file-format."""
    if not checks.mapping(reports, "reports"):
        return
    for index, (name, group) in enumerate(reports.items()):
        if index == MAX_REPORT_GROUPS:
            checks.error(reports.key_node(name) or group, "bs-reports-limit",
                         f"report group '{name}': a project can have at most "
                         f"{MAX_REPORT_GROUPS} report groups")
        what = f"report group '{name}'"
        if not checks.mapping(group, what):
            continue
        checks.keys(group, REPORT_KEYS, ("files",), what=what)
        for key, value in group.items():
            if key == "files":
                checks.string_list(value, f"{what} files")
            elif key == "base-directory":
                checks.string(value, f"{what} base-directory")
            elif key == "discard-paths":
                checks.yes_no(value, f"{what} discard-paths")
            elif key == "file-format":
                _check_format(value, checks)


def _check_format(node: YNode, checks: Checks) -> None:
    if not checks.string(node, "file-format"):
        return
    text = node.text().upper()
    if text in REPORT_FORMATS:
        return
    hint = ""
    if text == "LCOV":
        hint = "; CodeBuild has no LCOV: convert it to COBERTURAXML (e.g. lcov_cobertura)"
    checks.error(node, "bs-report-format",
                 f"file-format '{node.text()}' is not one of {', '.join(REPORT_FORMATS)}{hint}")


def check_artifacts(artifacts: YNode, checks: Checks) -> None:
    """``files`` is required, even when only secondary artifacts matter."""
    if not checks.mapping(artifacts, "artifacts"):
        return
    _check_artifact(artifacts, "artifacts", checks, secondary_allowed=True)
    secondary = artifacts.get("secondary-artifacts")
    if secondary is None or not checks.mapping(secondary, "artifacts.secondary-artifacts"):
        return
    for name, artifact in secondary.items():
        what = f"secondary artifact '{name}'"
        if not _IDENT_RE.match(name):
            checks.error(secondary.key_node(name) or artifact, "bs-artifact-id",
                         f"{what}: identifiers use only letters, digits and _")
        if checks.mapping(artifact, what):
            _check_artifact(artifact, what, checks, secondary_allowed=False)


def _check_artifact(node: YNode, what: str, checks: Checks, *, secondary_allowed: bool) -> None:
    allowed = ARTIFACT_KEYS if secondary_allowed else ARTIFACT_KEYS[:-1]
    checks.keys(node, allowed, ("files",), what=what)
    for key, value in node.items():
        if key == "files":
            checks.string_list(value, f"{what} files")
        elif key == "exclude-paths":
            checks.string_list(value, f"{what} exclude-paths", allow_scalar=True)
        elif key in ("discard-paths", "enable-symlinks"):
            checks.yes_no(value, f"{what} {key}")
        elif key in ("name", "base-directory", "s3-prefix"):
            checks.string(value, f"{what} {key}")


def check_cache(cache: YNode, checks: Checks) -> None:
    """``paths`` required; fallback keys need a key and are at most five."""
    if not checks.mapping(cache, "cache"):
        return
    checks.keys(cache, CACHE_KEYS, ("paths",), what="cache")
    for key, value in cache.items():
        if key == "paths":
            checks.string_list(value, "cache.paths")
        elif key == "key":
            checks.string(value, "cache.key")
        elif key == "fallback-keys":
            items = checks.string_list(value, "cache.fallback-keys")
            if len(items) > MAX_FALLBACK_KEYS:
                checks.error(items[MAX_FALLBACK_KEYS], "bs-cache-fallback",
                             f"cache.fallback-keys: at most {MAX_FALLBACK_KEYS} keys")
            if cache.get("key") is None:
                checks.error(value, "bs-cache-fallback",
                             "cache.fallback-keys needs cache.key")
        elif key == "action" and checks.string(value, "cache.action") and value.text() not in (
            "restore", "save"
        ):
            checks.error(value, "bs-cache-action",
                         f"cache.action must be restore or save, not '{value.text()}'")


def check_batch(batch: YNode, checks: Checks) -> None:
    """``fast-fail`` and exactly one build kind; graph dependencies must exist."""
    if not checks.mapping(batch, "batch"):
        return
    checks.keys(batch, ("fast-fail", *BATCH_KINDS), what="batch")
    fast_fail = batch.get("fast-fail")
    if fast_fail is not None:
        checks.yes_no(fast_fail, "batch.fast-fail")
    kinds = [k for k in BATCH_KINDS if batch.get(k) is not None]
    if not kinds:
        checks.error(batch, "bs-batch-kind",
                     f"batch needs one of {', '.join(BATCH_KINDS)}")
    for extra in kinds[1:]:
        checks.error(batch.key_node(extra) or batch, "bs-batch-kind",
                     f"batch has {kinds[0]} and {extra}; give exactly one")
    for kind in ("build-list", "build-graph"):
        node = batch.get(kind)
        if node is not None:
            _check_build_list(node, kind, checks)


def _check_build_list(node: YNode, kind: str, checks: Checks) -> None:
    if not node.is_seq:
        checks.error(node, "bs-type", f"batch.{kind} must be a list, not {node.kind_name()}")
        return
    seen: dict[str, YNode] = {}
    builds = [b for b in node.children() if checks.mapping(b, f"batch.{kind} entry")]
    for build in builds:
        checks.keys(build, BUILD_KEYS, ("identifier",), what=f"batch.{kind} entry")
        ident = build.get("identifier")
        if ident is None or not checks.string(ident, "identifier"):
            continue
        name = ident.text()
        if not _IDENT_RE.match(name):
            checks.error(ident, "bs-batch-id",
                         f"identifier '{name}': use only letters, digits and _")
        if name in seen:
            checks.error(ident, "bs-batch-id",
                         f"identifier '{name}' is already used at line {seen[name].line}")
        seen.setdefault(name, ident)
    if kind != "build-graph":
        return
    graph: dict[str, list[YNode]] = {}
    for build in builds:
        deps = build.get("depend-on")
        ident = build.get("identifier")
        if deps is None:
            continue
        good = []
        for dep in checks.string_list(deps, "depend-on"):
            if dep.text() not in seen:
                checks.error(dep, "bs-batch-depend",
                             f"depend-on '{dep.text()}' names no build in batch.build-graph")
            else:
                good.append(dep)
        if ident is not None and ident.is_scalar:
            graph.setdefault(ident.text(), []).extend(good)
    _check_cycles(graph, checks)


def _check_cycles(graph: dict[str, list[YNode]], checks: Checks) -> None:
    """A build graph must be acyclic, or no build of the cycle can ever start."""
    done: set[str] = set()
    for start in graph:
        trail: list[str] = []
        on_trail: set[str] = set()
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            name, index = stack.pop()
            if index == 0:
                if name in done:
                    continue
                trail.append(name)
                on_trail.add(name)
            deps = graph.get(name, [])
            if index < len(deps):
                stack.append((name, index + 1))
                dep = deps[index].text()
                if dep in on_trail:
                    cycle = [*trail[trail.index(dep):], dep]
                    checks.error(deps[index], "bs-batch-cycle",
                                 f"depend-on '{dep}' closes a cycle ({' -> '.join(cycle)}); "
                                 "no build of it could ever start")
                elif dep not in done:
                    stack.append((dep, 0))
                continue
            trail.pop()
            on_trail.discard(name)
            done.add(name)
