"""A local SonarQube Web API for tests: real HTTP(S) on 127.0.0.1, scripted per test.

It implements the two endpoints the quality gate reads, with the JSON shapes
SonarQube documents:

- ``GET /api/ce/task?id=<id>`` answers the scripted task states one after
  the other (the last one repeats), 404 ``No activity found`` for other ids;
- ``GET /api/qualitygates/project_status?analysisId=<id>`` answers the
  scripted ``projectStatus``, 404 for other analyses.

Authentication is checked like SonarQube does it (basic auth with the token
as user and an empty password, or ``Bearer`` from 10.0): 401 without a good
token, 403 when the script says the user lacks permission. Every request is
recorded with its Authorization header so tests can see what was sent where.
:class:`RedirectServer` answers every request with a redirect to another base.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TASK_ID = "AYtask0000000000001"
ANALYSIS_ID = "AYanalysis00000001"
PROJECT_KEY = "shop-api"


@dataclass
class Recorded:
    path: str
    authorization: str
    user_agent: str


@dataclass
class SonarScript:
    """What the server answers. ``statuses`` are the task states in poll order."""

    statuses: list[str] = field(default_factory=lambda: ["SUCCESS"])
    gate: str = "OK"
    conditions: list[dict[str, Any]] = field(default_factory=list)
    token: str | None = "squ_goodtoken"
    scheme: str = "basic"  # basic | bearer | any
    forbidden: bool = False
    error_message: str = ""
    context_path: str = ""
    task_id: str = TASK_ID
    analysis_id: str = ANALYSIS_ID
    task_analysis_id: str = ""  # what the task reports, when not analysis_id
    # endpoint path -> (HTTP code, body bytes, content type): answered as is, for
    # shapes and bytes a real server never sends.
    raw: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    polls: int = 0

    def task_payload(self) -> dict[str, Any]:
        status = self.statuses[min(self.polls, len(self.statuses) - 1)]
        self.polls += 1
        task: dict[str, Any] = {
            "id": self.task_id,
            "type": "REPORT",
            "componentKey": PROJECT_KEY,
            "status": status,
            "submittedAt": "2024-05-01T10:00:00+0000",
            "warnings": [],
        }
        if status in ("SUCCESS", "FAILED", "CANCELED"):
            task.update(startedAt="2024-05-01T10:00:01+0000", executionTimeMs=812)
        if status == "SUCCESS":
            task["analysisId"] = self.task_analysis_id or self.analysis_id
        if status == "FAILED":
            task["errorMessage"] = self.error_message or "Unsupported language: cobol"
        return {"task": task}

    def project_status(self) -> dict[str, Any]:
        return {
            "projectStatus": {
                "status": self.gate,
                "ignoredConditions": False,
                "conditions": self.conditions,
                "period": {"mode": "PREVIOUS_VERSION", "date": "2024-04-01T00:00:00+0000"},
            }
        }

    def authorised(self, header: str) -> bool:
        if self.token is None:
            return True
        basic = "Basic " + base64.b64encode(f"{self.token}:".encode()).decode()
        good = {"basic": {basic}, "bearer": {f"Bearer {self.token}"}}
        good["any"] = good["basic"] | good["bearer"]
        return header in good[self.scheme]


def condition(metric: str, comparator: str, threshold: str, actual: str, status: str) -> dict:
    return {
        "status": status,
        "metricKey": metric,
        "comparator": comparator,
        "errorThreshold": threshold,
        "actualValue": actual,
    }


class _Base(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None):
        super().__init__(("127.0.0.1", 0), handler)
        self.scheme = "http"
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"

    def start(self) -> _Base:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, code: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


    def send_raw(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SonarServer(_Base):
    """The SonarQube API; ``base`` includes the script's context path."""

    def __init__(self, script: SonarScript, tls: ssl.SSLContext | None = None):
        self.script = script
        super().__init__(_SonarHandler, tls)

    @property
    def base(self) -> str:
        return super().base + self.script.context_path


class _SonarHandler(_Quiet):
    server: SonarServer

    def do_GET(self) -> None:
        script = self.server.script
        script.requests.append(
            Recorded(
                self.path,
                self.headers.get("Authorization", ""),
                self.headers.get("User-Agent", ""),
            )
        )
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        if not path.startswith(script.context_path + "/api/"):
            return self.send_json(404, {"errors": [{"msg": f"Unknown url : {path}"}]})
        path = path[len(script.context_path) :]
        if not script.authorised(self.headers.get("Authorization", "")):
            return self.send_json(401, {"errors": [{"msg": "Authentication is required"}]})
        if script.forbidden:
            return self.send_json(403, {"errors": [{"msg": "Insufficient privileges"}]})
        if path in script.raw:
            return self.send_raw(*script.raw[path])
        if path == "/api/ce/task":
            wanted = query.get("id", [""])[0]
            if wanted != script.task_id:
                return self.send_json(
                    404, {"errors": [{"msg": f"No activity found for task '{wanted}'"}]}
                )
            return self.send_json(200, script.task_payload())
        if path == "/api/qualitygates/project_status":
            wanted = query.get("analysisId", [""])[0]
            if wanted != script.analysis_id:
                return self.send_json(
                    404, {"errors": [{"msg": f"Analysis with id '{wanted}' is not found"}]}
                )
            return self.send_json(200, script.project_status())
        return self.send_json(404, {"errors": [{"msg": f"Unknown url : {path}"}]})


class RedirectServer(_Base):
    """Answers every GET with ``code`` and ``Location: <target><path>``.

    With ``location`` set, that exact header value is sent instead (``""``: no
    Location header at all), for relative, odd or broken redirects.
    """

    def __init__(self, target: str, code: int = 301, tls: ssl.SSLContext | None = None,
                 location: str | None = None):
        self.target = target.rstrip("/")
        self.code = code
        self.location = location
        self.requests: list[Recorded] = []
        super().__init__(_RedirectHandler, tls)


class _RedirectHandler(_Quiet):
    server: RedirectServer

    def do_GET(self) -> None:
        self.server.requests.append(
            Recorded(
                self.path,
                self.headers.get("Authorization", ""),
                self.headers.get("User-Agent", ""),
            )
        )
        self.send_response(self.server.code)
        location = self.server.location
        if location is None:
            self.send_header("Location", self.server.target + self.path)
        elif location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


def report_task_text(server_url: str, task_id: str = TASK_ID, **extra: str) -> str:
    """A report-task.txt as the scanner writes it."""
    lines = {
        "projectKey": PROJECT_KEY,
        "serverUrl": server_url,
        "serverVersion": "10.4.1.88267",
        "dashboardUrl": f"{server_url}/dashboard?id={PROJECT_KEY}",
        "ceTaskId": task_id,
        "ceTaskUrl": f"{server_url}/api/ce/task?id={task_id}",
    }
    lines.update(extra)
    return "".join(f"{k}={v}\n" for k, v in lines.items())
