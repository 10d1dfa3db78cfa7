"""``hdhooks lint``: check a whole bundle before it is uploaded.

Three sources of problems, one :class:`~hdhooks.yamlsrc.problems.Report` per file:

- the appspec, checked as the agent reads it (:func:`hdhooks.appspec.read.validate_path`
  with the bundle checks), plus the cross-checks against the component config
  (:mod:`hdhooks.lint.cross`: timeouts, required hooks, runas, files);
- ``deploy/hdhooks.yml`` (:func:`hdhooks.config.load.validate_config`);
- each hook script: is it the hdhooks shim (:mod:`hdhooks.lint.shims`)?

Cross-checks need a valid appspec and a valid config; they run once per
environment of the config, and a problem found only in some environments
names them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from hdhooks.appspec.model import PREVIOUS_REVISION_EVENTS, AppSpec
from hdhooks.appspec.read import validate_path
from hdhooks.config.load import config_path, load_config, validate_config
from hdhooks.config.model import ComponentConfig
from hdhooks.errors import ConfigError, InputError
from hdhooks.lint.buildid import build_id_file_problems, build_id_problems
from hdhooks.lint.cross import LintInput, cross_check, resolve_location, user_exists
from hdhooks.lint.deploytime import account_problems, mapped_environments, template_problems
from hdhooks.lint.shims import MODIFIED, OTHER, SHIM, UNREADABLE, ShimCheck, classify_file
from hdhooks.yamlsrc.loader import load, read_file
from hdhooks.yamlsrc.node import YNode
from hdhooks.yamlsrc.problems import ERROR, WARNING, Problem, Report

SHIM_BUNDLE_REF = '"${0%/*}/.."'

__all__ = ["lint_bundle"]


def lint_bundle(
    bundle_dir: str | os.PathLike[str],
    *,
    environment: str | None = None,
    deployment_group: str | None = None,
    known_user: Callable[[str], bool] = user_exists,
    accounts: bool = False,
) -> list[Report]:
    """Every problem of a bundle, one report per file checked, in a stable order.

    ``accounts`` adds a warning for a service user or group this machine
    lacks: meaningful where the bundle is linted on (a copy of) the instance.

    Raises InputError when ``bundle_dir`` is not a directory or holds no
    appspec, and ConfigError when an explicit ``environment`` or
    ``deployment_group`` cannot be applied.
    """
    bundle = os.path.normpath(str(bundle_dir))
    if not os.path.isdir(bundle):
        raise InputError(f"{bundle}: no such directory", hint="give the bundle's root directory")
    spec, appspec_report = validate_path(bundle)
    shims, script_reports = _scripts(bundle, spec)
    config_file = config_path(bundle)
    if not config_file.is_file():
        missing = Report(os.path.join(bundle, ""), [Problem(
            ERROR, "no deploy/hdhooks.yml in the bundle: hdhooks cannot tell how to run the "
            "component; run 'hdhooks init' to create one", "lint-config-missing")])
        return [appspec_report, missing, *script_reports]
    config_report = validate_config(config_file)
    config_root = _yaml_root(str(config_file))
    if config_root is not None:
        config_report.extend(mapped_environments(config_root))
    extra: list[Report] = []
    if not config_report.errors and config_root is not None:
        extra = _env_deploy_time(bundle, config_root, config_report, config_file,
                                 environment=environment, deployment_group=deployment_group,
                                 known_user=known_user if accounts else None)
    if spec is not None and not config_report.errors:
        root = _yaml_root(appspec_report.file)
        if root is not None:
            appspec_report.extend(_env_cross_checks(
                bundle, spec, root, shims, config_file,
                environment=environment, deployment_group=deployment_group,
                known_user=known_user))
    elif spec is not None:
        appspec_report.notes.append("cross-checks with deploy/hdhooks.yml skipped: fix its "
                                    "errors first")
    return [appspec_report, config_report, *extra, *script_reports]


def _configs(bundle: str, envs: list[str | None], environment: str | None,
             deployment_group: str | None) -> Iterator[tuple[str | None, ComponentConfig]]:
    """Each environment lint checks, with its loaded config; one that does not load is
    skipped (validate_config has reported why) unless it was asked for by name."""
    for env in envs:
        try:
            config = load_config(bundle, environment=env, deployment_group=deployment_group)
        except ConfigError:
            if environment or deployment_group:
                raise
            continue
        yield env, config


def _env_deploy_time(bundle: str, root: YNode, config_report: Report, config_file: Path, *,
                     environment: str | None, deployment_group: str | None,
                     known_user: Callable[[str], bool] | None) -> list[Report]:
    """Template renders, build ids and service accounts, once per environment."""
    envs = _environments(config_file, environment, deployment_group)
    found: dict[tuple[str, int, str], tuple[Problem, list[str]]] = {}
    for env, config in _configs(bundle, envs, environment, deployment_group):
        pairs = template_problems(config, deployment_group)
        pairs += [(config_report.file, p) for p in build_id_problems(root, config)]
        pairs += [(os.path.join(bundle, "deploy", "build-id"), p)
                  for p in build_id_file_problems(bundle, config)]
        if known_user is not None:
            pairs += [(config_report.file, p) for p in account_problems(root, config, known_user)]
        for file, problem in pairs:
            found.setdefault((file, problem.line, problem.message), (problem, []))[1].append(
                env or "")
    reports: dict[str, Report] = {}
    for (file, _, _), (problem, in_envs) in found.items():
        names = [e for e in in_envs if e]
        if names and len(in_envs) < len(envs):
            problem = Problem(problem.severity,
                              f"{problem.message} (environment {', '.join(names)})",
                              problem.code, problem.line, problem.column, problem.path)
        if file == config_report.file:
            config_report.add(problem)
        else:
            reports.setdefault(file, Report(file)).add(problem)
    return list(reports.values())


def _yaml_root(file: str) -> YNode | None:
    doc = load(read_file(file))
    return doc.root if doc.root is not None and doc.root.is_map else None


# --- environments -----------------------------------------------------------------
def _environments(config_file: Path, environment: str | None,
                  deployment_group: str | None) -> list[str | None]:
    """The environments to check: the one asked for, the fixed one, or every overlay."""
    if environment or deployment_group:
        return [environment]
    root = _yaml_root(str(config_file))
    if root is None:
        return [None]
    fixed = root.get("environment")
    if fixed is not None and fixed.is_str:
        return [str(fixed.value)]
    envs = root.get("environments")
    names = [name for name, _ in envs.items()] if envs is not None else []
    return list(names) or [None]


def _env_cross_checks(bundle: str, spec: AppSpec, root: YNode, shims: dict[str, ShimCheck],
                      config_file: Path, *, environment: str | None,
                      deployment_group: str | None,
                      known_user: Callable[[str], bool]) -> list[Problem]:
    envs = _environments(config_file, environment, deployment_group)
    seen: dict[tuple[int, int, str, str], tuple[Problem, list[str]]] = {}
    for env, config in _configs(bundle, envs, environment, deployment_group):
        for problem in cross_check(LintInput(spec, root, config, shims), known_user=known_user):
            key = (problem.line, problem.column, problem.code, problem.message)
            seen.setdefault(key, (problem, []))[1].append(env or "")
    out = []
    for problem, in_envs in seen.values():
        names = [e for e in in_envs if e]
        if names and len(in_envs) < len(envs):
            problem = Problem(problem.severity,
                              f"{problem.message} (environment {', '.join(names)})",
                              problem.code, problem.line, problem.column, problem.path)
        out.append(problem)
    return out


# --- hook scripts -----------------------------------------------------------------
def _scripts(bundle: str, spec: AppSpec | None) -> tuple[dict[str, ShimCheck], list[Report]]:
    """What each hook location is, and one report per script read.

    The appspec's scripts first (in appspec order), then any other script
    under hooks/ that calls hdhooks. A missing script gets no report here:
    the appspec's bundle checks report it.
    """
    shims: dict[str, ShimCheck] = {}
    reports: dict[str, Report] = {}
    events: dict[str, list[str]] = {}
    for event, scripts in (spec.hooks.items() if spec is not None else ()):
        for script in scripts:
            events.setdefault(script.location, []).append(event)
    for location, in_events in events.items():
        file = resolve_location(bundle, location)
        check = classify_file(file) if os.path.isfile(file) else ShimCheck(UNREADABLE)
        shims[location] = check
        if check.kind != UNREADABLE and file not in reports:
            reports[file] = Report(file, _script_problems(check, location, in_events, file))
    hooks_dir = os.path.join(bundle, "hooks")
    names = sorted(os.listdir(hooks_dir)) if os.path.isdir(hooks_dir) else []
    for name in names:
        file = os.path.normpath(os.path.join(hooks_dir, name))
        if file in reports or not os.path.isfile(file):
            continue
        check = classify_file(file)
        if check.kind in (SHIM, MODIFIED):
            reports[file] = Report(file, _script_problems(check, f"hooks/{name}", [], file))
    return shims, list(reports.values())


def _script_problems(check: ShimCheck, location: str, events: list[str],
                     file: str) -> list[Problem]:
    out = []
    if check.kind == MODIFIED:
        out.append(Problem(
            WARNING, f"this hook script runs hdhooks but is not the shim ('{check.text}'): "
            "CodeDeploy runs the previous revision's ApplicationStop, so logic kept in the "
            "revision can break every later deployment; keep the one-line shim ('hdhooks "
            "init' writes it) and configure the work in deploy/hdhooks.yml",
            "lint-not-shim", check.line, 1))
    elif check.kind == OTHER:
        stops = [e for e in events if e in PREVIOUS_REVISION_EVENTS]
        if stops:
            out.append(Problem(
                WARNING, f"{stops[0]} runs this script from the previous revision at the next "
                "deployment, and it is not the hdhooks shim: if it ever fails, every later "
                "deployment fails until the instance is fixed by hand; use the shim and "
                "configure the stop in deploy/hdhooks.yml", "lint-not-shim", 1, 1))
    if check.kind == SHIM and location.strip("/").count("/") != 1 and _uses_parent(file):
        out.append(Problem(
            ERROR, f"the shim takes the bundle to be its directory's parent ({SHIM_BUNDLE_REF}), "
            f"but '{location}' is not one directory below the bundle root: hdhooks would not "
            "find deploy/hdhooks.yml; move it to hooks/", "lint-shim-location", 1, 1))
    return out


def _uses_parent(file: str) -> bool:
    try:
        with open(file, encoding="utf-8") as fh:
            return SHIM_BUNDLE_REF in fh.read(1 << 16)
    except (OSError, UnicodeDecodeError):
        return False
