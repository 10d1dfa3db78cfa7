"""Fixtures for the quality gate: local SonarQube servers, a test CA, the CLI."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.support.sonar_server import (
    RedirectServer,
    SonarScript,
    SonarServer,
    report_task_text,
)

HDHOOKS = str(Path(sys.executable).parent / "hdhooks")
TOKEN = "squ_goodtoken"
# Variables of the developer's or CI's shell that would change what the gate does.
_SCRUB = (
    "SONAR_TOKEN", "SONAR_HOST_URL", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
)


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def gate_cli(tmp_path: Path) -> Callable[..., Run]:
    """Run the installed ``hdhooks sonar gate`` in ``tmp_path``; SONAR_TOKEN set."""

    def run(*args: str, env: dict[str, str] | None = None, token: str | None = TOKEN) -> Run:
        child = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        child["NO_PROXY"] = "*"
        child["HDHOOKS_DEBUG_LOG"] = str(tmp_path / "debug.log")
        if token is not None:
            child["SONAR_TOKEN"] = token
        child.update(env or {})
        proc = subprocess.run(
            [HDHOOKS, "sonar", "gate", "--interval", "0.05", *args],
            cwd=tmp_path, env=child, capture_output=True, text=True, timeout=60,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def servers() -> Iterator[list[SonarServer | RedirectServer]]:
    started: list[SonarServer | RedirectServer] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def sonar(servers: list) -> Callable[..., SonarServer]:
    """Start a SonarServer for a script (optionally over TLS)."""

    def start(script: SonarScript | None = None, tls: ssl.SSLContext | None = None) -> SonarServer:
        server = SonarServer(script or SonarScript(), tls)
        servers.append(server.start())
        return server

    return start


@pytest.fixture
def redirector(servers: list) -> Callable[..., RedirectServer]:
    def start(target: str, code: int = 301, location: str | None = None) -> RedirectServer:
        server = RedirectServer(target, code, location=location)
        servers.append(server.start())
        return server

    return start


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def tls(ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 and localhost, signed by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def ca_pem(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "sonar-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def report(tmp_path: Path) -> Callable[..., Path]:
    """Write report-task.txt where the sonar-scanner CLI does (or at ``where``)."""

    def write(server_url: str, where: str = ".scannerwork/report-task.txt", **extra: str) -> Path:
        path = tmp_path / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report_task_text(server_url, **extra), encoding="utf-8")
        return path

    return write
