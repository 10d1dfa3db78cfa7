"""The component config, ``deploy/hdhooks.yml``: load, validate, select the environment.

``load_config()`` reads the file from a bundle, picks the environment,
merges that environment's overlay over the base settings (mappings merge key
by key, lists and scalars are replaced), checks the result against
:mod:`hdhooks.config.schema` and returns frozen dataclasses with every
default applied. ``validate_config()`` checks the base and every overlay and
returns a :class:`~hdhooks.yamlsrc.problems.Report` (FILE:LINE:COL, YAML path).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hdhooks.config.model import ComponentConfig, build_config
from hdhooks.config.schema import SECTIONS, TOP
from hdhooks.errors import ConfigError
from hdhooks.yamlsrc.checks import INVALID, check_section
from hdhooks.yamlsrc.loader import HDHOOKS, load, read_file
from hdhooks.yamlsrc.merge import merge_nodes
from hdhooks.yamlsrc.node import YNode
from hdhooks.yamlsrc.problems import Problem, Report

CONFIG_NAMES = ("deploy/hdhooks.yml", "deploy/hdhooks.yaml")

__all__ = [
    "ComponentConfig",
    "ConfigInvalid",
    "config_path",
    "load_config",
    "merge_nodes",
    "select_environment",
    "validate_config",
]


class ConfigInvalid(ConfigError):
    """The component config has problems; carries the whole report."""

    def __init__(self, report: Report) -> None:
        lines = report.text_lines()
        first = lines[0] if lines else f"{report.file}: invalid"
        more = len(report.errors) - 1
        message = first + (f" (and {more} more problem(s))" if more > 0 else "")
        super().__init__(message, hint="run 'hdhooks lint' to see them all")
        self.report = report

    def details(self) -> list[str]:
        return self.report.text_lines()[1:]


def config_path(bundle_dir: str | os.PathLike[str]) -> Path:
    """Where the component config of ``bundle_dir`` is (``deploy/hdhooks.yml``)."""
    root = Path(bundle_dir)
    for name in CONFIG_NAMES:
        if (root / name).is_file():
            return root / name
    return root / CONFIG_NAMES[0]


@dataclass
class _Parsed:
    """A config file checked at the top level, before any overlay is applied."""

    path: Path
    bundle_dir: Path
    root: YNode | None
    top: dict[str, Any] | None
    problems: list[Problem]


def _parse(path: Path, bundle_dir: Path) -> _Parsed:
    doc = load(read_file(str(path)), HDHOOKS)
    problems = list(doc.problems)
    if doc.empty:
        problems.append(Problem("error", "the file is empty; it needs at least 'component'",
                                "config-empty", 1, 1))
    if doc.root is None or not doc.ok:
        return _Parsed(path, bundle_dir, None, None, problems)
    fields = {**TOP, **SECTIONS}
    top = check_section(doc.root, fields, problems, skip=SECTIONS)
    return _Parsed(path, bundle_dir, doc.root, None if top is INVALID else top, problems)


def _overlaid(root: YNode, environment: str | None) -> YNode:
    envs = root.get("environments")
    overlay = envs.get(environment) if envs is not None and environment else None
    if overlay is None or not overlay.is_map:
        return root
    return merge_nodes(root, overlay)


def _check_env(parsed: _Parsed, environment: str | None) -> tuple[dict[str, Any] | None,
                                                                  list[Problem]]:
    """The overlaid sections for ``environment``, checked, and their problems."""
    assert parsed.root is not None
    merged = _overlaid(parsed.root, environment)
    problems: list[Problem] = []
    sections = check_section(merged, SECTIONS, problems, skip=TOP)
    if sections is INVALID:
        return None, problems
    _cross_checks(merged, sections, parsed.bundle_dir, problems)
    return (None if any(p.is_error for p in problems) else sections), problems


def _cross_checks(merged: YNode, sections: dict[str, Any], bundle: Path,
                  problems: list[Problem]) -> None:
    """Checks that span sections or need the bundle's files."""
    health = sections.get("health")
    node = merged.get("health")
    if health and health["url"] is None and health["port"] is None \
            and sections["service"].get("port") is None and node is not None:
        problems.append(node.error("config-missing",
                                   "'health.port' is needed when 'service.port' is not set"))
    templates = merged.get("templates")
    for i, item in enumerate(sections["templates"]):
        if not (bundle / item["template"]).is_file() and templates is not None:
            where = templates.children()[i].get("template") or templates
            problems.append(where.error(
                "config-template-missing",
                f"template '{item['template']}' is not in the bundle ({bundle})"))
    unit = sections["service"].get("unit_template")
    if unit:
        service = merged.get("service")
        where = (service.get("unit_template") if service is not None else None) or merged
        if not (bundle / unit).is_file():
            problems.append(where.error(
                "config-template-missing",
                f"unit template '{unit}' is not in the bundle ({bundle})"))
        else:
            problem = unit_template_problem(bundle / unit)
            if problem:
                problems.append(where.error("config-value", problem))


def unit_template_problem(path: Path) -> str | None:
    """What is wrong with a unit template's ``$variables``, checked before any hook acts.

    The unit is rendered at ApplicationStart, after ``current`` has moved: an
    unknown variable found only then would leave the new release with no
    service. The variables are the ones the systemd backend fills (``UNIT_VARIABLES``).
    """
    import string

    from hdhooks.config.model import UNIT_VARIABLES
    from hdhooks.errors import HdhooksError
    from hdhooks.fsread import read_regular

    try:
        template = string.Template(read_regular(path, 1 << 20).decode("utf-8"))
    except (HdhooksError, UnicodeDecodeError) as exc:
        what = exc.one_line() if isinstance(exc, HdhooksError) else "not UTF-8 text"
        return f"unit template '{path.name}' cannot be read: {what}"
    used: set[str] = set()
    for match in template.pattern.finditer(template.template):
        if match.group("invalid") is not None:
            return f"unit template '{path.name}' has a '$' that is not a variable: write $$"
        used.add(match.group("named") or match.group("braced") or "$")
    known = UNIT_VARIABLES
    unknown = sorted(used - set(known) - {"$"})
    if unknown:
        return (f"unit template '{path.name}' uses unknown variable ${unknown[0]}; "
                f"known: {', '.join(sorted(known))} (docs/service.md)")
    return None


def validate_config(path: str | os.PathLike[str]) -> Report:
    """Every problem of a component config, for the base and for each environment.

    ``path`` is the YAML file or a bundle directory. A problem that appears only
    in some environments names them.
    """
    given = Path(path)
    file = config_path(given) if given.is_dir() else given
    bundle = given if given.is_dir() else _bundle_of(file)
    parsed = _parse(file, bundle)
    report = Report(str(file), list(parsed.problems))
    if parsed.root is None or parsed.top is None:
        return report
    envs: list[str | None] = list(parsed.top["environments"]) or [None]
    seen: dict[tuple[int, int, str, str], tuple[Problem, list[str]]] = {}
    for env in envs:
        for problem in _check_env(parsed, env)[1]:
            key = (problem.line, problem.column, problem.code, problem.message)
            seen.setdefault(key, (problem, []))[1].append(env or "")
    for problem, in_envs in seen.values():
        if env_names := [e for e in in_envs if e] if len(in_envs) < len(envs) else []:
            problem = Problem(problem.severity,
                              f"{problem.message} (environment {', '.join(env_names)})",
                              problem.code, problem.line, problem.column, problem.path)
        report.add(problem)
    return report


def _bundle_of(file: Path) -> Path:
    parent = file.resolve().parent
    return parent.parent if parent.name == "deploy" else parent


def read_tag_file(path: str) -> str | None:
    """The environment written on the instance (first word of the file), if any."""
    try:
        with open(path, encoding="utf-8") as fh:
            words = fh.read().split()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the environment tag file: {exc.strerror}")
    return words[0] if words else None


def select_environment(
    *,
    explicit: str | None,
    configured: str | None,
    tag_value: str | None,
    tag_file: str,
    deployment_group: str | None,
    group_map: dict[str, str],
    known: list[str],
) -> tuple[str | None, str]:
    """The environment and where it came from, or a ConfigError saying why not.

    Order: the explicit argument, then ``environment:`` in the config, then the
    tag file and the deployment group mapping, which must agree when both give
    one. With overlays defined, an environment must be found and be one of them.
    """
    candidates: list[tuple[str, str]] = []
    if explicit:
        candidates.append((explicit, "the command line"))
    elif configured:
        candidates.append((configured, "'environment' in the config"))
    else:
        if tag_value:
            candidates.append((tag_value, f"the tag file {tag_file}"))
        if deployment_group and deployment_group in group_map:
            candidates.append((group_map[deployment_group],
                               f"deployment group '{deployment_group}'"))
    if len({name for name, _ in candidates}) > 1:
        raise ConfigError(
            f"environment conflict: {candidates[0][1]} says '{candidates[0][0]}' but "
            f"{candidates[1][1]} says '{candidates[1][0]}'",
            hint="fix the tag file or environment_from.deployment_groups",
        )
    if not candidates:
        if known:
            raise ConfigError(
                f"cannot tell the environment ({', '.join(known)}): no {tag_file} and "
                f"deployment group '{deployment_group or '?'}' is not in "
                "environment_from.deployment_groups",
                hint="write the environment into the tag file (the launch template of "
                     "`hdhooks provision` does, in its user data) or map the deployment group",
            )
        return None, "none"
    name, source = candidates[0]
    if known and name not in known:
        raise ConfigError(
            f"environment '{name}' (from {source}) has no entry under 'environments' "
            f"(known: {', '.join(known)})"
        )
    return name, source


@dataclass(frozen=True)
class CheckedConfig:
    """A config file checked for one environment, as plain data (JSON-able).

    What :func:`load_config` builds the dataclasses from; the hook's cache
    (:mod:`hdhooks.config.cache`) stores it, with the tag file value it used.
    """

    top: dict[str, Any]
    sections: dict[str, Any]
    env: str | None
    env_source: str
    path: str
    bundle_dir: str
    tag_file: str
    tag_value: str | None

    def build(self) -> ComponentConfig:
        return build_config(self.top, self.sections, env=self.env, env_source=self.env_source,
                            path=self.path, bundle_dir=self.bundle_dir)


def check_config(
    bundle_dir: str | os.PathLike[str],
    *,
    deployment_group: str | None = None,
    environment: str | None = None,
) -> CheckedConfig:
    """Read, check and overlay the config of a bundle (see :func:`load_config`)."""
    bundle = Path(bundle_dir)
    file = config_path(bundle)
    if not file.is_file():
        raise ConfigError(f"{file}: no such file", hint="run 'hdhooks init' to create one")
    parsed = _parse(file, bundle)
    if parsed.root is None or parsed.top is None:
        raise ConfigInvalid(Report(str(file), parsed.problems))
    top = parsed.top
    source = top["environment_from"]
    tag_value = None if environment or top["environment"] else read_tag_file(source["tag_file"])
    env, env_source = select_environment(
        explicit=environment,
        configured=top["environment"],
        tag_value=tag_value,
        tag_file=source["tag_file"],
        deployment_group=deployment_group,
        group_map=source["deployment_groups"],
        known=top["environments"],
    )
    sections, problems = _check_env(parsed, env)
    problems = parsed.problems + problems
    if sections is None or any(p.is_error for p in problems):
        raise ConfigInvalid(Report(str(file), problems))
    return CheckedConfig(top, sections, env, env_source, str(file), str(bundle),
                         source["tag_file"], tag_value)


def load_config(
    bundle_dir: str | os.PathLike[str],
    *,
    deployment_group: str | None = None,
    environment: str | None = None,
) -> ComponentConfig:
    """The component config of a bundle for one environment, ready to use.

    Raises :class:`ConfigInvalid` (a ConfigError) listing every problem, or
    ConfigError when the environment cannot be chosen.
    """
    return check_config(
        bundle_dir, deployment_group=deployment_group, environment=environment
    ).build()
