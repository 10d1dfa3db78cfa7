"""How a gate result is shown and handed on: table and verdict, JSON, env file.

Kept apart from the HTTP and parsing code so the wording users read in a
build log can be tested (and changed) on its own.
"""

from __future__ import annotations

import os
from typing import Any

from hdhooks.build.sonar.gate import Condition, GateResult
from hdhooks.errors import InputError

HEADERS = ("METRIC", "COMPARATOR", "THRESHOLD", "ACTUAL", "STATUS")


def condition_table(conditions: tuple[Condition, ...]) -> list[str]:
    """Aligned rows: metric, comparator, threshold, actual, status.

    A condition without a measure (no new code yet) shows ``-``, not a blank
    that shifts the eye to the next column.
    """
    rows = [HEADERS] + [
        (c.metric, c.comparator, c.threshold, c.actual or "-", c.status) for c in conditions
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def text_lines(result: GateResult) -> list[str]:
    """The lines printed on stdout: heading, table, verdict (the status line follows)."""
    report = result.report
    lines = [f"SonarQube quality gate: project {report.project_key}"]
    where = [f"task {report.ce_task_id}"]
    if result.task and result.task.analysis_id:
        where.append(f"analysis {result.task.analysis_id}")
    if report.branch:
        where.append(f"branch {report.branch}")
    lines[0] += f" ({', '.join(where)})"
    project = result.project_status
    if project is not None and project.conditions:
        lines.extend(condition_table(project.conditions))
    elif project is not None:
        lines.append("(no conditions)")
    if result.task is not None:
        lines.extend(f"warning from the analysis: {w}" for w in result.task.warnings)
    if report.dashboard_url:
        lines.append(f"dashboard: {report.dashboard_url}")
    lines.append(result.verdict)
    return lines


def status_line(status: str) -> str:
    """The line a buildspec can read back: ``QUALITY_GATE_STATUS=<status>``."""
    return f"QUALITY_GATE_STATUS={status}"


def to_json(result: GateResult) -> dict[str, Any]:
    """A stable machine-readable form of the result (``--format json``)."""
    task = result.task
    project = result.project_status
    return {
        "projectKey": result.report.project_key,
        "reportTask": result.report.file,
        "status": result.status,
        "passed": result.passed,
        "exitCode": result.exit_code,
        "verdict": result.verdict,
        "task": None
        if task is None
        else {
            "id": task.id,
            "status": task.status,
            "analysisId": task.analysis_id or None,
            "errorMessage": task.error_message or None,
            "warnings": list(task.warnings),
        },
        "conditions": []
        if project is None
        else [
            {
                "metric": c.metric,
                "comparator": c.comparator,
                "threshold": c.threshold,
                "actual": c.actual,
                "status": c.status,
            }
            for c in project.conditions
        ],
        "dashboardUrl": result.report.dashboard_url or None,
        "urls": result.urls,
    }


def write_status_file(path: str, status: str) -> None:
    """Write ``QUALITY_GATE_STATUS=<status>`` atomically, for the shell to source.

    ``status`` is one of hdhooks' own words, never server text, so the file
    holds exactly one line. A symlink at ``path`` is replaced, not followed;
    a directory, FIFO, socket or device there is refused, never replaced (as
    root, a rename onto ``/dev/null`` would swap the device for a file).
    """
    from hdhooks.fsutil import atomic_write

    check_status_file(path)
    try:
        atomic_write(path, f"{status_line(status)}\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the env file: {exc.strerror or exc}")


def check_status_file(path: str) -> None:
    """Refuse an --env-file path that is a directory, FIFO, socket or device."""
    import stat

    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot write the env file: {exc}") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory; --env-file needs a file name")
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise InputError(f"{path}: not a regular file (a FIFO, socket or device); "
                         "--env-file needs a file name")
