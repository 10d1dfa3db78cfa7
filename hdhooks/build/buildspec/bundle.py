"""Rules for buildspecs that make CodeDeploy bundles or run a SonarQube analysis.

A buildspec is a *bundle* buildspec when an artifact's ``files`` name
``appspec.yml``: then the appspec must land at the artifact's root and folders
must survive (``discard-paths: yes`` flattens ``hooks/``). A buildspec that runs
an analysis (``sonar:sonar``, the ``sonar-scanner`` CLI) must let a quality gate
decide the build afterwards: ``hdhooks sonar gate`` (or the scanner's own
``sonar.qualitygate.wait=true``), not behind ``|| true``. A gate in ``finally``
or in a phase with ``on-failure: CONTINUE`` still fails the build (see the
fidelity notes in docs/build.md) and is only warned about.
"""

from __future__ import annotations

import posixpath

from hdhooks.build.buildspec.checks import Checks, as_bool
from hdhooks.build.buildspec.phases import PHASES
from hdhooks.build.buildspec.shell_words import Command, read_commands
from hdhooks.yamlsrc.node import YNode

APPSPEC_NAMES = ("appspec.yml", "appspec.yaml")


def check_bundles(root: YNode, checks: Checks) -> None:
    """The primary artifact and every secondary artifact that holds an appspec."""
    artifacts = root.get("artifacts")
    if artifacts is None or not artifacts.is_map:
        return
    _check_bundle(artifacts, "artifacts", checks)
    secondary = artifacts.get("secondary-artifacts")
    if secondary is not None and secondary.is_map:
        for name, artifact in secondary.items():
            if artifact.is_map:
                _check_bundle(artifact, f"secondary artifact '{name}'", checks)


def _patterns(artifact: YNode) -> list[YNode]:
    files = artifact.get("files")
    if files is None or not files.is_seq:
        return []
    return [item for item in files.children() if item.is_str]


def _check_bundle(artifact: YNode, what: str, checks: Checks) -> None:
    patterns = _patterns(artifact)
    appspecs = [p for p in patterns if posixpath.basename(p.text()) in APPSPEC_NAMES]
    if not appspecs:
        return
    discard = as_bool(artifact.get("discard-paths"))
    base_node = artifact.get("base-directory")
    base = base_node.text().strip("/") if base_node is not None and base_node.is_str else ""
    for item in appspecs:
        _check_appspec_root(item, what, base, discard, checks)
    if discard:
        nested = [p for p in patterns if p not in appspecs and "/" in _clean(p.text())]
        if nested:
            flag = artifact.get("discard-paths") or artifact
            checks.error(flag, "bundle-flattened",
                         f"{what}: discard-paths: yes flattens folders, so "
                         f"'{nested[0].text()}' loses its folders and the appspec's hook "
                         "locations break; use discard-paths: no with a base-directory")


def _clean(pattern: str) -> str:
    return pattern[2:] if pattern.startswith("./") else pattern


def _check_appspec_root(item: YNode, what: str, base: str, discard: bool,
                        checks: Checks) -> None:
    pattern = _clean(item.text())
    if discard or "/" not in pattern:
        return
    folder = posixpath.dirname(pattern)
    if folder.strip("*/") == "":
        return  # **/appspec.yml matches the root one too
    if base and (pattern.startswith(base + "/")):
        hint = (f"files are relative to base-directory '{base}', so this names "
                f"{base}/{pattern}; write '{pattern[len(base) + 1:]}'")
    else:
        hint = f"set base-directory: {folder} (files are relative to it)"
    checks.error(item, "bundle-appspec-root",
                 f"{what}: appspec.yml would be at '{pattern}' in the artifact, but "
                 f"CodeDeploy needs it at the root; {hint}")


def check_gate(root: YNode, checks: Checks) -> None:
    """Every sonar analysis is followed by an effective quality gate."""
    phases = root.get("phases")
    if phases is None or not phases.is_map:
        return
    commands = list(_all_commands(phases))
    analyses = [c for c in commands if c.analysis]
    if not analyses:
        return
    good: list[Command] = []
    bad: list[Command] = []
    for command in commands:
        if not command.gate:
            continue
        placement = _placement(command, phases)
        if placement:
            checks.warning(command.node, "gate-placement", placement)
        reason = command.masked
        if reason:
            checks.error(command.node, "gate-neutralised",
                         f"the quality gate cannot fail the build: {reason}")
            bad.append(command)
        else:
            good.append(command)
    for analysis in analyses:
        if any(g.order >= analysis.order for g in good):
            continue
        if any(b.order >= analysis.order for b in bad):
            continue  # already reported where the gate is
        checks.error(analysis.node, "gate-missing",
                     "this step runs a SonarQube analysis but no quality gate follows it; "
                     "add '- hdhooks sonar gate' after it (not behind || true), "
                     "or the build passes whatever the gate says")


def _all_commands(phases: YNode) -> list[Command]:
    found: list[Command] = []
    pipefail = False
    for rank, name in enumerate(PHASES):
        phase = phases.get(name)
        if phase is None or not phase.is_map:
            continue
        for section in ("commands", "finally"):
            node = phase.get(section)
            if node is None or not node.is_seq:
                continue
            for index, item in enumerate(node.children()):
                if not item.is_str:
                    continue
                order = rank * 2000 + (1000 if section == "finally" else 0) + index
                command = read_commands(item, order, name, section, pipefail)
                pipefail = pipefail or command.sets_pipefail
                found.append(command)
    return found


def _placement(command: Command, phases: YNode) -> str:
    """Where a gate works but surprises: ``finally`` and ``on-failure: CONTINUE``."""
    if command.section == "finally":
        return (f"the quality gate runs in phases.{command.phase}.finally, so it also runs "
                "after a failed analysis and reads an old report-task.txt; move it to commands")
    phase = phases.get(command.phase)
    on_failure = phase.get("on-failure") if phase is not None else None
    if on_failure is not None and on_failure.text() == "CONTINUE":
        return (f"phase {command.phase} has on-failure: CONTINUE: a failed gate still fails "
                "the build, but the later phases (and what they publish) run anyway; remove "
                "it or move the gate to a phase without it")
    return ""
