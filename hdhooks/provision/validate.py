"""``hdhooks provision validate``: cfn-lint, used as a library, on every rendered template.

cfn-lint is the optional extra ``hdhooks[provision]``; it is imported only
here, inside the functions, so the rest of hdhooks never pays for it. Its
findings become the same :class:`~hdhooks.yamlsrc.problems.Problem` lines as
every other validator's (``FILE:LINE:COL: severity: MESSAGE [path]``);
findings explained by a known schema lag (:mod:`hdhooks.provision.lags`) are
dropped and noted. Parameter files are checked against their template's
parameters as well, so a deploy never meets a missing or unknown one.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hdhooks.errors import InputError, UsageError
from hdhooks.provision.lags import known_lag
from hdhooks.yamlsrc.node import child_path
from hdhooks.yamlsrc.problems import ERROR, WARNING, Problem, Report

DEFAULT_REGIONS = ("us-east-1",)


class LintMissing(UsageError):
    """cfn-lint is not installed: the extra must be."""


def _api() -> Any:
    try:
        from cfnlint import api
    except ImportError:
        raise LintMissing("cfn-lint is not installed",
                          hint="pip install 'hdhooks[provision]'") from None
    return api


def lint_text(text: str, file: str, regions: tuple[str, ...] = DEFAULT_REGIONS) -> Report:
    """cfn-lint's findings on one template as a report (informational ones left out)."""
    api = _api()
    report = Report(file)
    matches = api.lint(text, config=api.ManualArgs(regions=list(regions)))
    types: dict[str, str] | None = None
    skipped = 0
    for match in matches:
        rule = match.rule.id
        if rule.startswith("I"):
            continue
        path = list(getattr(match, "path", None) or [])
        if len(path) > 1 and path[0] == "Resources":
            types = _resource_types(text) if types is None else types
            if known_lag(rule, types.get(str(path[1]), ""), path):
                skipped += 1
                continue
        severity = ERROR if rule.startswith("E") else WARNING
        report.add(Problem(severity, f"{match.message} ({rule})", rule,
                           int(match.linenumber or 0), int(match.columnnumber or 0),
                           _dotted(path)))
    if skipped:
        report.notes.append(f"{file}: {skipped} finding(s) left out as known cfn-lint "
                            "schema lags (hdhooks/provision/lags.py)")
    return report


def _resource_types(text: str) -> dict[str, str]:
    from cfnlint.decode import decode_str

    template, _ = decode_str(text)
    resources = (template or {}).get("Resources") or {}
    return {str(k): str(v.get("Type", "")) for k, v in resources.items() if isinstance(v, dict)}


def _dotted(path: list[Any]) -> str:
    out = ""
    for part in path:
        out = child_path(out, part if isinstance(part, int) else str(part))
    return out


def validate_dir(directory: str, jobs: int = 1) -> list[Report]:
    """One report per template and parameter file that ``provision render`` wrote.

    cfn-lint takes seconds per template and holds one core; with ``jobs`` > 1
    templates are linted in that many worker processes.
    """
    from hdhooks.fsread import read_regular

    index = _index(directory)
    regions = tuple(sorted({r for env in index.get("environments", {}).values()
                            for r in env.get("regions", [])})) or DEFAULT_REGIONS
    paths = [os.path.join(directory, stack["template"]) for stack in index["stacks"]]
    texts = [read_regular(path).decode("utf-8", "replace") for path in paths]
    linted = _lint_all(texts, paths, regions, jobs)
    reports = []
    for stack, text, report in zip(index["stacks"], texts, linted, strict=True):
        reports.append(report)
        if not report.errors:
            reports.extend(_parameter_reports(directory, index, stack, text))
    return reports


def _lint_all(texts: list[str], paths: list[str], regions: tuple[str, ...],
              jobs: int) -> list[Report]:
    _api()  # a missing cfn-lint is a usage error here, not in a worker
    if jobs <= 1 or len(texts) <= 1:
        return [lint_text(text, path, regions) for text, path in zip(texts, paths, strict=True)]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(jobs, len(texts))) as pool:
        return list(pool.map(lint_text, texts, paths, [regions] * len(texts)))


def _index(directory: str) -> dict[str, Any]:
    from hdhooks.fsread import read_regular

    if not os.path.isdir(directory):
        raise InputError(f"{directory}: no such directory",
                         hint="give the folder `hdhooks provision render --out-dir` wrote")
    path = os.path.join(directory, "stacks.json")
    try:
        doc = json.loads(read_regular(path))
        _check_index(doc)
    except InputError as exc:
        raise InputError(exc.message, hint="render the templates first: hdhooks provision "
                         "render MANIFEST --out-dir DIR") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a stacks index written by hdhooks provision render "
                         f"({exc})", hint="render again") from None
    return dict(doc)


def _inside(part: object) -> bool:
    """A name used as a path part that stays inside the folder."""
    return isinstance(part, str) and bool(part) and "/" not in part and ".." not in part


def _check_index(doc: Any) -> None:
    """Raise ValueError unless ``doc`` has the shape ``render`` writes, with safe names."""
    if not isinstance(doc, dict) or not isinstance(doc.get("stacks"), list):
        raise ValueError("no stacks list")
    for stack in doc["stacks"]:
        template = stack.get("template")
        if not _inside(stack.get("name")) or not isinstance(template, str):
            raise ValueError("each stack needs a name and a template")
        if template.startswith("/") or ".." in template.split("/"):
            raise ValueError(f"template path {template!r} leaves the folder")
    envs = doc.setdefault("environments", {})
    if not isinstance(envs, dict):
        raise ValueError("environments must be a mapping")
    for name, env in envs.items():
        regions = env.get("regions", []) if isinstance(env, dict) else None
        if not _inside(name) or not isinstance(regions, list) or \
                not all(_inside(r) for r in regions):
            raise ValueError(f"environment {name!r} must list its regions by name")


def _parameter_reports(directory: str, index: dict[str, Any], stack: dict[str, Any],
                       text: str) -> list[Report]:
    from cfnlint.decode import decode_str

    from hdhooks.fsread import read_regular
    from hdhooks.provision.render import parameter_file

    template, _ = decode_str(text)
    declared = (template or {}).get("Parameters") or {}
    required = {k for k, v in declared.items() if "Default" not in v}
    reports = []
    for env, info in index.get("environments", {}).items():
        for region in info.get("regions", []):
            path = os.path.join(directory, parameter_file(env, region, stack["name"]))
            report = Report(path)
            try:
                given = {p["ParameterKey"] for p in json.loads(read_regular(path))}
            except InputError as exc:
                report.add(Problem(ERROR, f"cannot be read: {exc.message}; render again",
                                   "provision-parameters"))
            except (ValueError, KeyError, TypeError) as exc:
                report.add(Problem(ERROR, f"not a CloudFormation parameter file ({exc})",
                                   "provision-parameters"))
            else:
                for name in sorted(required - given):
                    report.add(Problem(ERROR, f"parameter {name} of {stack['template']} has "
                                       "no value", "provision-parameters"))
                for name in sorted(given - set(declared)):
                    report.add(Problem(ERROR, f"parameter {name} is not declared in "
                                       f"{stack['template']}", "provision-parameters"))
            reports.append(report)
    return reports
