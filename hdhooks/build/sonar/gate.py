"""The SonarQube quality gate: what the scanner left behind, what the server says.

A build must fail when the gate fails, and must say clearly why. This module
holds the pure parts — ``report-task.txt`` parsing, the JSON shapes of
``api/ce/task`` and ``api/qualitygates/project_status``, the host override and
the verdict — so each can be tested on recorded text. The HTTP side lives in
:mod:`hdhooks.build.sonar.client`; :func:`gate` ties the two together.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from hdhooks.build.sonar import safe
from hdhooks.errors import ExitCode, InputError

if TYPE_CHECKING:
    from hdhooks.build.sonar.client import SonarClient

# Where the scanners write report-task.txt, relative to the project directory.
REPORT_TASK_PLACES = (
    "target/sonar/report-task.txt",  # Maven plugin
    ".scannerwork/report-task.txt",  # sonar-scanner CLI
    "build/sonar/report-task.txt",  # Gradle plugin
)
REQUIRED_KEYS = ("projectKey", "serverUrl", "ceTaskId")
TASK_WAITING = frozenset({"PENDING", "IN_PROGRESS"})
TASK_FINAL = frozenset({"SUCCESS", "FAILED", "CANCELED"})
GATE_STATUSES = frozenset({"OK", "WARN", "ERROR", "NONE"})
# QUALITY_GATE_STATUS when the gate could not be read at all (exit 2).
STATUS_UNKNOWN = "UNKNOWN"
STATUS_TIMEOUT = "TIMEOUT"


class SonarResponseError(InputError):
    """The server answered, but not with what SonarQube's Web API documents."""


@dataclass(frozen=True)
class ReportTask:
    """The scanner's hand-over: which server, which project, which task."""

    file: str
    project_key: str
    server_url: str
    ce_task_id: str
    ce_task_url: str
    dashboard_url: str = ""
    branch: str = ""
    organization: str = ""
    server_version: str = ""


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


# --------------------------------------------------------------------------- report-task.txt


def find_report_task(project_dir: str) -> str:
    """The newest report-task.txt in the scanners' known places, or InputError."""
    found = [
        os.path.normpath(os.path.join(project_dir, rel))
        for rel in REPORT_TASK_PLACES
        if os.path.isfile(os.path.join(project_dir, rel))
    ]
    if not found:
        where = os.path.abspath(project_dir)
        raise InputError(
            f"no report-task.txt in {where} (looked for {', '.join(REPORT_TASK_PLACES)})",
            hint="run the scanner first, or pass --report-task FILE or --project-dir DIR",
        )
    return max(found, key=lambda p: os.stat(p).st_mtime)


REPORT_LIMIT = 1024 * 1024  # a real report-task.txt is a few hundred bytes


def read_report_task(path: str) -> ReportTask:
    """Read and parse ``path``: a regular file of at most 1 MiB, else InputError.

    A FIFO, a device (``/dev/zero``) or a directory is refused at once rather
    than read forever.
    """
    from hdhooks.fsutil import read_regular

    if not os.path.lexists(path):
        raise InputError(
            f"{path}: report file not found",
            hint="run the scanner first, or pass --report-task FILE or --project-dir DIR",
        )
    data = read_regular(path, limit=REPORT_LIMIT)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: cannot read report file: not UTF-8 ({exc.reason} at byte "
                         f"{exc.start})") from None
    return parse_report_task(text, path)


def parse_report_task(text: str, file: str) -> ReportTask:
    """Parse the scanner's ``key=value`` lines; errors name the file and line.

    Blank lines and ``#``/``!`` comments are skipped (the Java properties
    conventions), and ``\\:`` / ``\\=`` escapes are undone in case a tool
    wrote the file with ``Properties.store``.
    """
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InputError(
                f"expected key=value, got {line[:60]!r}",
                location=f"{file}:{number}:1",
                hint="is this the scanner's report-task.txt?",
            )
        key = key.strip()
        values[key] = safe.text(_unescape(value.strip()), limit=2000)
        lines[key] = number
    for key in REQUIRED_KEYS:
        if not values.get(key):
            raise InputError(
                f"{file}: missing key '{key}'",
                hint="the scanner did not finish; re-run it and check its log",
            )
    server_url = values["serverUrl"].rstrip("/")
    _check_http_url(server_url, f"{file}:{lines['serverUrl']}:1", "serverUrl")
    ce_task_url = values.get("ceTaskUrl") or _task_url(server_url, values["ceTaskId"])
    if "ceTaskUrl" in values:
        _check_http_url(ce_task_url, f"{file}:{lines['ceTaskUrl']}:1", "ceTaskUrl")
    return ReportTask(
        file=file,
        project_key=values["projectKey"],
        server_url=server_url,
        ce_task_id=values["ceTaskId"],
        ce_task_url=ce_task_url,
        dashboard_url=values.get("dashboardUrl", ""),
        branch=values.get("branch", ""),
        organization=values.get("organization", ""),
        server_version=values.get("serverVersion", ""),
    )


def _unescape(value: str) -> str:
    return value.replace("\\:", ":").replace("\\=", "=").replace("\\\\", "\\")


def _check_http_url(url: str, location: str, key: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{key} {url!r} is not an http(s) URL", location=location)


def _task_url(base: str, task_id: str) -> str:
    return f"{base}/api/ce/task?id={quote(task_id, safe='')}"


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
    return base, _task_url(base, report.ce_task_id)


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

