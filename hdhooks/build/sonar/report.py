"""The scanner's hand-over file, ``report-task.txt``: where it is, what it says.

The file is local but written by another tool, so it is read as untrusted
input: a regular file of bounded size, every value escaped to one line, the
server URLs checked to be http(s) before any request is made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from hdhooks.build.sonar import safe
from hdhooks.errors import InputError

# Where the scanners write report-task.txt, relative to the project directory.
REPORT_TASK_PLACES = (
    "target/sonar/report-task.txt",  # Maven plugin
    ".scannerwork/report-task.txt",  # sonar-scanner CLI
    "build/sonar/report-task.txt",  # Gradle plugin
)
REQUIRED_KEYS = ("projectKey", "serverUrl", "ceTaskId")


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
    from hdhooks.fsread import read_regular

    if not os.path.lexists(path):
        raise InputError(
            f"{path}: report file not found",
            hint="run the scanner first, or pass --report-task FILE or --project-dir DIR",
        )
    try:
        data = read_regular(path, limit=REPORT_LIMIT)
    except OSError as exc:  # a read that fails midway (/proc/self/mem: EIO)
        raise InputError(f"{path}: cannot read report file: {exc.strerror or exc}") from None
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
    ce_task_url = values.get("ceTaskUrl") or task_url(server_url, values["ceTaskId"])
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


def task_url(base: str, task_id: str) -> str:
    return f"{base}/api/ce/task?id={quote(task_id, safe='')}"
