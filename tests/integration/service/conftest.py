"""Fixtures for the service tests: the example app, free ports, both backends.

The systemd backend runs Debian's daemonless systemctl (unpacked by
scripts/test-setup.d/systemctl.sh) with ``--root`` on a temporary tree, so
real unit files start and stop real processes without systemd running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hdhooks.instance.service.base import Service, ServiceSpec
from hdhooks.instance.service.factory import make_service

REPO = Path(__file__).resolve().parents[3]
HELLO = REPO / "examples" / "hello-service" / "app" / "hello_service.py"
SYSTEMCTL = REPO / ".cache" / "systemctl" / "usr" / "bin" / "systemctl"
BACKENDS = ["process", "systemd"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hello_command(port: int, config: Path | None = None, *extra: str) -> list[str]:
    argv = [sys.executable, str(HELLO), "--host", "127.0.0.1", "--port", str(port)]
    if config is not None:
        argv += ["--config", str(config)]
    return argv + list(extra)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def app_config(tmp_path: Path) -> Path:
    """A config file as AfterInstall would render it."""
    path = tmp_path / "hello.conf"
    path.write_text("# rendered\nbuild_id=build-42\ngreeting=Hi there\n")
    return path


def need_systemctl() -> None:
    if not os.access(SYSTEMCTL, os.X_OK):
        pytest.skip("daemonless systemctl missing: run scripts/test-setup.d/systemctl.sh")


ServiceFactory = Callable[..., Service]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[ServiceFactory]:
    """Build a service for a backend; every service made is stopped at teardown."""
    made: list[Service] = []

    def factory(backend: str, command: list[str], **kw: object) -> Service:
        if backend == "systemd":
            need_systemctl()
        root = tmp_path / f"root-{backend}-{len(made)}"
        root.mkdir()
        values: dict[str, object] = {
            "name": "hello",
            "backend": backend,
            "command": command,
            "log_dir": str(root / "log"),
            "pidfile": str(root / "run" / "hello.pid"),
            "systemctl": [str(SYSTEMCTL), "--root", str(root)],
            "unit_template": "builtin" if backend == "systemd" else None,
            "unit_dir": str(root / "etc" / "systemd" / "system"),
            "stop_timeout": 10.0,
        }
        values.update(kw)
        svc = make_service(ServiceSpec(**values))  # type: ignore[arg-type]
        made.append(svc)
        return svc

    yield factory
    for svc in made:
        svc.stop(timeout=2.0)


STRANGER = """
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("listening", flush=True)
time.sleep(300)
"""


@pytest.fixture
def stranger(port: int, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another program listening on ``port`` (accepts, never answers)."""
    script = tmp_path / "stranger_listener.py"
    script.write_text(STRANGER)
    p = subprocess.Popen([sys.executable, str(script), str(port)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "listening"
    yield p
    p.send_signal(signal.SIGKILL)
    p.wait()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
