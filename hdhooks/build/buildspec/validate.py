"""Validate a CodeBuild buildspec (version 0.2) before CodeBuild does.

CodeBuild reports a malformed buildspec only when a build starts, as a bare
YAML_FILE_ERROR, and there is no official schema. This validator reports every
problem at once with file:line:column and the YAML path: the reference's key
and value rules, the YAML traps, and two rules of hdhooks' own for bundle
buildspecs (appspec.yml at the artifact root, folders kept), for buildspecs
that run a SonarQube analysis (an effective quality gate follows it) and for
the step that installs hdhooks (not from PyPI, which has none).
"""

from __future__ import annotations

import re

from hdhooks.build.buildspec.bundle import check_bundles, check_gate
from hdhooks.build.buildspec.checks import Checks
from hdhooks.build.buildspec.install_step import check_install
from hdhooks.build.buildspec.outputs import (
    check_artifacts,
    check_batch,
    check_cache,
    check_reports,
)
from hdhooks.build.buildspec.phases import check_phases
from hdhooks.build.buildspec.schema import check_env, check_proxy, check_top
from hdhooks.yamlsrc.loader import CODEBUILD, load, read_file
from hdhooks.yamlsrc.problems import ERROR, Problem, Report

_SECTIONS = {
    "env": check_env,
    "proxy": check_proxy,
    "phases": check_phases,
    "reports": check_reports,
    "artifacts": check_artifacts,
    "cache": check_cache,
    "batch": check_batch,
}


def validate_file(path: str) -> Report:
    """Read and validate one buildspec; a missing file raises InputError (exit 2)."""
    return validate_text(read_file(path), path)


def validate_text(text: str, file: str = "buildspec.yml") -> Report:
    """Every problem in ``text``, in file order; never raises for bad content."""
    report = Report(file)
    doc = load(text, CODEBUILD)
    if doc.empty:
        report.add(Problem(ERROR, "the buildspec is empty; it needs version: 0.2 and phases",
                           "bs-empty-file"))
        return report
    report.extend(_explain_yaml(p, text) for p in doc.problems)
    root = doc.root
    if root is None:
        return report
    if not root.is_map:
        report.add(root.error("bs-root",
                              f"the buildspec must be a mapping (version, phases, ...), "
                              f"not {root.kind_name()}"))
        return report
    checks = Checks()
    check_top(root, checks)
    for key, section in root.items():
        rule = _SECTIONS.get(key)
        if rule is not None:
            rule(section, checks)
    check_bundles(root, checks)
    check_gate(root, checks)
    check_install(root, checks)
    report.extend(checks.problems)
    return report


def _explain_yaml(problem: Problem, text: str) -> Problem:
    """Say what an 'alias' syntax error almost always is in a buildspec: a glob."""
    if problem.code != "yaml-syntax" or "alias" not in problem.message:
        return problem
    lines = text.splitlines()
    line = lines[problem.line - 1] if 0 < problem.line <= len(lines) else ""
    star = line.rfind("*", 0, max(problem.column, 1))
    column = star + 1 if star >= 0 else problem.column
    match = re.match(r"[^\s'\"#]+", line[star:]) if star >= 0 else None
    example = f": '{match.group(0)}'" if match else ""
    return Problem(
        ERROR,
        f"{problem.message}; an unquoted value starting with * is read as a YAML alias: "
        f"quote globs that start with *{example}",
        "yaml-glob",
        problem.line,
        column,
        problem.path,
    )
