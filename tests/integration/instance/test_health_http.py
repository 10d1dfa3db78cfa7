"""probe() against a real HTTP server on 127.0.0.1 (port 0)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hdhooks import __version__
from hdhooks.instance.health import HealthCheck, probe, wait_healthy


class Handler(BaseHTTPRequestHandler):
    seen_agents: list[str] = []  # noqa: RUF012 - shared with the test on purpose
    answers: dict[str, tuple[int, str]] = {  # noqa: RUF012
        "/health": (200, '{"status": "UP", "build_id": "b-1"}'),
        "/down": (503, '{"status": "STARTING"}'),
    }

    def do_GET(self) -> None:
        self.seen_agents.append(self.headers.get("User-Agent", ""))
        code, body = self.answers.get(self.path, (404, "nope"))
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_probe_passes_and_identifies_itself(server: str) -> None:
    result = probe(HealthCheck(f"{server}/health", json_field="build_id", json_equals="b-1"))
    assert result.ok and result.status == 200 and '"UP"' in result.body
    assert Handler.seen_agents[-1] == f"hdhooks/{__version__} (health-check)"


def test_probe_reports_status_and_body(server: str) -> None:
    result = probe(HealthCheck(f"{server}/down"))
    assert not result.ok and result.status == 503
    assert result.reason == "HTTP 503 (expected 200)" and "STARTING" in result.body


def test_probe_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        result = probe(HealthCheck(f"http://127.0.0.1:{port}/health"))
    assert not result.ok and result.status is None and result.reason == "connection refused"


def test_probe_times_out_on_a_silent_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()  # accepts in the kernel, never answers
        port = s.getsockname()[1]
        result = probe(HealthCheck(f"http://127.0.0.1:{port}/health", request_timeout=0.2))
    assert not result.ok and result.reason == "request timed out"


def test_wait_healthy_with_the_real_clock(server: str) -> None:
    result = wait_healthy(HealthCheck(f"{server}/health", successes=3, interval=0.01))
    assert result.ok and result.attempts == 3


def test_an_identity_url_must_answer_the_build_too(server: str) -> None:
    Handler.answers["/actuator/health"] = (200, '{"status": "UP"}')
    Handler.answers["/actuator/info"] = (200, '{"build": {"version": "42-abc"}}')
    def spring(version: str, path: str = "/actuator/info") -> HealthCheck:
        return HealthCheck(f"{server}/actuator/health", json_expect=(("status", "UP"),),
                           identity=HealthCheck(f"{server}{path}",
                                                json_expect=(("build.version", version),)))

    assert probe(spring("42-abc")).ok
    old = probe(spring("41-def"))
    assert not old.ok and old.status == 200
    assert old.reason == (f"{server}/actuator/info: build.version is '42-abc', "
                          "expected '41-def'")
    missing = probe(spring("42-abc", "/nope"))
    assert missing.reason == f"{server}/nope: HTTP 404 (expected 200)"
    result = wait_healthy(spring("41-def").replace(deadline=0.3, interval=0.1))
    assert not result.ok and "build.version is '42-abc'" in result.reason
