"""The SonarQube quality gate: what the scanner left behind, what the server says.

A build must fail when the gate fails, and must say clearly why. This module
holds the pure parts — the JSON shapes of
``api/ce/task`` and ``api/qualitygates/project_status``, the host override and
the verdict — so each can be tested on recorded text; ``report-task.txt`` is
read by :mod:`hdhooks.build.sonar.report`. The HTTP side lives in
:mod:`hdhooks.build.sonar.client`; :func:`gate` ties the two together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from hdhooks.build.sonar import safe
from hdhooks.build.sonar.report import (  # noqa: F401 - re-exported: the gate's one import
    REPORT_TASK_PLACES,
    REQUIRED_KEYS,
    ReportTask,
    find_report_task,
    parse_report_task,
    read_report_task,
    task_url,
)
from hdhooks.errors import ExitCode, InputError

if TYPE_CHECKING:
    from hdhooks.build.sonar.client import SonarClient

TASK_WAITING = frozenset({"PENDING", "IN_PROGRESS"})
TASK_FINAL = frozenset({"SUCCESS", "FAILED", "CANCELED"})
GATE_STATUSES = frozenset({"OK", "WARN", "ERROR", "NONE"})
# QUALITY_GATE_STATUS when the gate could not be read at all (exit 2).
STATUS_UNKNOWN = "UNKNOWN"
STATUS_TIMEOUT = "TIMEOUT"


class SonarResponseError(InputError):
    """The server answered, but not with what SonarQube's Web API documents."""


@dataclass(frozen=True)
class CeTask:
    """One answer of ``api/ce/task``."""

    id: str
    status: str
    analysis_id: str = ""
    error_message: str = ""
    component_key: str = ""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Condition:
    """One row of the gate: metric, comparator, threshold, actual, status."""

    metric: str
    comparator: str
    threshold: str
    actual: str
    status: str


@dataclass(frozen=True)
class ProjectStatus:
    """One answer of ``api/qualitygates/project_status``."""

    status: str
    conditions: tuple[Condition, ...] = ()
    ignored_conditions: bool = False


@dataclass(frozen=True)
class GatePolicy:
    """Which gate statuses pass, besides OK."""

    allow_warn: bool = False
    allow_none: bool = False

    def passes(self, status: str) -> bool:
        return (
            status == "OK"
            or (status == "WARN" and self.allow_warn)
            or (status == "NONE" and self.allow_none)
        )


@dataclass(frozen=True)
class GateResult:
    """The outcome a user sees: status, pass or fail, and the one-line verdict."""

    status: str  # OK WARN ERROR NONE, or the task's FAILED / CANCELED, or TIMEOUT
    passed: bool
    verdict: str
    report: ReportTask
    task: CeTask | None = None
    project_status: ProjectStatus | None = None
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return int(ExitCode.OK if self.passed else ExitCode.FAILED)


# --------------------------------------------------------------------------- host override


def normalise_host(value: str, source: str) -> str:
    """Check a --host / SONAR_HOST_URL value; returns it without a trailing slash."""
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            f"{source} {value!r} is not an http(s) URL",
            hint="for example https://sonar.example.com or https://host/sonarqube",
        )
    return url


def override_base(server_url: str, host: str) -> str:
    """The server base URL once ``host`` replaces the recorded one.

    ``host`` with a path (``https://h/sonarqube``) is the whole new base;
    ``host`` without one replaces only scheme, host and port, so a context
    path recorded in ``serverUrl`` (``https://old/sonarqube``) is kept.
    """
    new = urlsplit(host)
    if new.path not in ("", "/"):
        return host.rstrip("/")
    old = urlsplit(server_url)
    return urlunsplit((new.scheme, new.netloc, old.path.rstrip("/"), "", "")).rstrip("/")


def effective_urls(report: ReportTask, host: str = "") -> tuple[str, str]:
    """``(base URL, task URL)`` to use: the recorded ones, or with ``host`` applied.

    The task URL keeps whatever follows the recorded base (its path and
    query); a ``ceTaskUrl`` that does not start with ``serverUrl`` is rebuilt
    from the task id.
    """
    base = override_base(report.server_url, host) if host else report.server_url
    recorded = report.ce_task_url
    if recorded.startswith(report.server_url + "/"):
        return base, base + recorded[len(report.server_url) :]
    if not host:
        return base, recorded
    return base, task_url(base, report.ce_task_id)


def project_status_url(base: str, report: ReportTask, analysis_id: str) -> str:
    """``api/qualitygates/project_status`` by analysis, else by project (and branch)."""
    if analysis_id:
        return f"{base}/api/qualitygates/project_status?analysisId={quote(analysis_id, safe='')}"
    url = f"{base}/api/qualitygates/project_status?projectKey={quote(report.project_key, safe='')}"
    if report.branch:
        url += f"&branch={quote(report.branch, safe='')}"
    return url


# --------------------------------------------------------------------------- JSON answers


def parse_task_json(data: Any, url: str) -> CeTask:
    """``{"task": {...}}`` from api/ce/task; SonarResponseError when not that shape.

    Every string kept goes through :func:`text`: the server cannot add a line.
    """
    task = data.get("task") if isinstance(data, Mapping) else None
    if not isinstance(task, Mapping):
        raise SonarResponseError(f"{url} answered without a 'task' object", hint=_not_sonar)
    status = task.get("status")
    if not isinstance(status, str) or status not in TASK_WAITING | TASK_FINAL:
        shown = safe.text(status, limit=60)
        raise SonarResponseError(f"{url} answered with an unknown task status '{shown}'")
    warnings = task.get("warnings")
    return CeTask(
        id=safe.text(task.get("id")),
        status=status,
        analysis_id=safe.text(task.get("analysisId"), limit=200),
        error_message=safe.text(task.get("errorMessage")),
        component_key=safe.text(task.get("componentKey")),
        warnings=tuple(safe.text(w) for w in warnings[:50]) if isinstance(warnings, list) else (),
    )


def parse_project_status(data: Any, url: str) -> ProjectStatus:
    """``{"projectStatus": {...}}``; SonarResponseError when not that shape."""
    ps = data.get("projectStatus") if isinstance(data, Mapping) else None
    if not isinstance(ps, Mapping):
        raise SonarResponseError(
            f"{url} answered without a 'projectStatus' object", hint=_not_sonar
        )
    status = ps.get("status")
    if not isinstance(status, str) or status not in GATE_STATUSES:
        shown = safe.text(status, limit=60)
        raise SonarResponseError(f"{url} answered with an unknown gate status '{shown}'")
    rows = ps.get("conditions")
    if rows is not None and not isinstance(rows, list):
        raise SonarResponseError(f"{url} answered with 'conditions' that is not a list")
    conditions = tuple(_condition(c) for c in (rows or [])[:500] if isinstance(c, Mapping))
    return ProjectStatus(status, conditions, ps.get("ignoredConditions") is True)


def _condition(c: Mapping[str, Any]) -> Condition:
    threshold = c.get("errorThreshold", c.get("warningThreshold"))
    return Condition(
        metric=safe.text(c.get("metricKey") or c.get("metric") or "?", limit=100),
        comparator=safe.text(c.get("comparator"), limit=20),
        threshold=safe.text(threshold, limit=40),
        actual=safe.text(c.get("actualValue"), limit=40),
        status=safe.text(c.get("status"), limit=20),
    )


def error_messages(data: Any) -> str:
    """The ``errors[].msg`` texts of a SonarQube error answer, joined (at most five)."""
    errors = data.get("errors") if isinstance(data, Mapping) else None
    if not isinstance(errors, list):
        return ""
    found = [safe.text(e.get("msg")) for e in errors[:5] if isinstance(e, Mapping) and e.get("msg")]
    return "; ".join(found)


_not_sonar = "is the URL the SonarQube base URL? see --host"


# --------------------------------------------------------------------------- verdict


def judge(report: ReportTask, project: ProjectStatus, policy: GatePolicy) -> tuple[bool, str]:
    """Pass or fail, and the one-line verdict, for a gate the server computed."""
    status, name = project.status, f"project '{report.project_key}'"
    passed = policy.passes(status)
    if status == "OK":
        return True, f"PASSED: quality gate OK for {name} ({_count(project.conditions)} met)"
    if status == "NONE":
        if passed:
            return True, f"PASSED: no quality gate on {name} (NONE, allowed by --allow-none)"
        return False, (
            f"FAILED: no quality gate is attached to {name} (status NONE); "
            "attach one in SonarQube or pass --allow-none"
        )
    bad = [c for c in project.conditions if c.status == status] or [
        c for c in project.conditions if c.status not in ("OK", "")
    ]
    what = ", ".join(f"{c.metric} {c.actual or '(no value)'} {c.comparator} {c.threshold}"
                     for c in bad)
    detail = f"{len(bad)} of {_count(project.conditions)} not met" + (f": {what}" if what else "")
    if passed:
        return True, f"PASSED: quality gate WARN for {name} ({detail}; allowed by --allow-warn)"
    tip = "; pass --allow-warn to accept WARN" if status == "WARN" else ""
    return False, f"FAILED: quality gate {status} for {name}: {detail}{tip}"


def _count(conditions: tuple[Condition, ...]) -> str:
    return f"{len(conditions)} condition" + ("" if len(conditions) == 1 else "s")


def gate(
    report: ReportTask,
    client: SonarClient,
    *,
    host: str = "",
    timeout: float = 300.0,
    interval: float = 5.0,
    policy: GatePolicy | None = None,
    progress: Callable[[str], None] = lambda _line: None,
) -> GateResult:
    """Wait for the scanner's background task, then read and judge the gate.

    A failed or cancelled task and a timeout are verdicts (exit 1), never
    "no gate": the build must not pass because the analysis did not run.
    Input problems (token, unknown task, unreachable host) raise InputError.
    """
    policy = policy or GatePolicy()
    base, task_url = effective_urls(report, host)
    urls = {"server": base, "task": task_url}
    task, timed_out = client.wait_for_task(task_url, timeout, interval, progress)
    if timed_out:
        verdict = (
            f"FAILED: background task {report.ce_task_id} still {task.status} after "
            f"{timeout:g} s; raise --timeout if the server's queue is slow"
        )
        return GateResult(STATUS_TIMEOUT, False, verdict, report, task, None, urls)
    if task.status != "SUCCESS":
        reason = task.error_message or "no errorMessage given"
        verdict = f"FAILED: background task {report.ce_task_id} {task.status}: {reason}"
        return GateResult(task.status, False, verdict, report, task, None, urls)
    urls["project_status"] = status_url = project_status_url(base, report, task.analysis_id)
    project = parse_project_status(client.get_json(status_url, "analysis"), status_url)
    passed, verdict = judge(report, project, policy)
    return GateResult(project.status, passed, verdict, report, task, project, urls)

