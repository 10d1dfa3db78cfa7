"""Both service backends with real processes: systemd (daemonless systemctl
with --root) and the detached-process backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from hdhooks.errors import CommandFailed
from hdhooks.instance.health import HealthCheck, check_service
from hdhooks.instance.preflight import PreflightSpec, failures, run_preflight
from hdhooks.instance.service.base import Service
from tests.integration.service.conftest import (
    BACKENDS,
    ServiceFactory,
    hello_command,
    wait_for,
)

pytestmark = pytest.mark.parametrize("backend", BACKENDS)


def health(port: int, **kw: object) -> HealthCheck:
    values: dict[str, object] = {"url": f"http://127.0.0.1:{port}/health", "interval": 0.1,
                                 "deadline": 15.0, "request_timeout": 0.5}
    values.update(kw)
    return HealthCheck(**values)  # type: ignore[arg-type]


def test_start_health_stop(backend: str, make: ServiceFactory, port: int, app_config: Path) -> None:
    cmd = hello_command(port, app_config, "--boot-delay", "0.5", "--stop-delay", "0.2")
    svc = make(backend, cmd, port=port)
    if backend == "systemd":
        assert not svc.is_installed()
        assert svc.install() is True  # unit written, daemon-reload run
        assert svc.install() is False  # unchanged: no reload
    assert svc.is_installed()
    svc.start()
    status = svc.status()
    assert status.active and status.main_pid
    result = check_service(health(port, json_field="build_id", json_equals="build-42"), svc)
    assert result.ok, result.diagnostics
    svc.start()  # already running: nothing happens
    assert svc.status().main_pid == status.main_pid
    stopped = svc.stop()
    assert stopped.ok and stopped.was_running and stopped.main_pid == status.main_pid
    assert not psutil.pid_exists(status.main_pid) or psutil.Process(
        status.main_pid).status() == psutil.STATUS_ZOMBIE
    assert not svc.status().active
    log = "\n".join(svc.log_tail(50))
    assert "received SIGTERM" in log and "stopped" in log


def test_health_rejects_the_wrong_build(backend: str, make: ServiceFactory, port: int,
                                        app_config: Path) -> None:
    svc = make(backend, hello_command(port, app_config), port=port)
    svc.start()
    result = check_service(health(port, deadline=1.0, json_field="build_id",
                                  json_equals="build-43"), svc)
    assert not result.ok
    assert "build_id is 'build-42', expected 'build-43'" in result.reason


def test_stop_of_absent_and_stopped_service_succeeds(backend: str, make: ServiceFactory,
                                                    port: int) -> None:
    svc = make(backend, hello_command(port), port=port)
    first = svc.stop()
    assert first.ok and not first.was_running
    svc.start()
    assert svc.stop().was_running
    again = svc.stop()
    assert again.ok and not again.was_running


def test_crash_on_boot_fails_health_with_diagnostics(backend: str, make: ServiceFactory,
                                                     port: int) -> None:
    svc = make(backend, hello_command(port, None, "--fail-on-boot", "--boot-delay", "1.5"),
               port=port)
    svc.start()
    result = check_service(health(port, deadline=30.0), svc)
    assert not result.ok
    assert result.reason == "the service is not running"
    text = "\n".join(result.diagnostics)
    assert "service hello: failed" in text
    assert "boot failed" in text  # the log tail
    assert f"port {port}: nothing listens" in text


def test_health_timeout_names_the_last_answer(backend: str, make: ServiceFactory,
                                              port: int) -> None:
    svc = make(backend, hello_command(port, None, "--unhealthy"), port=port)
    svc.start()
    result = check_service(health(port, deadline=1.5), svc)
    assert not result.ok and result.attempts > 1
    assert "deadline 1.5s passed; last: HTTP 500 (expected 200)" in result.reason
    text = "\n".join(result.diagnostics)
    assert "last answer: HTTP 500" in text and '"DOWN"' in text
    assert "service hello: active (running)" in text
    assert f"port {port}: held by pid" in text


def test_port_held_by_another_process(backend: str, make: ServiceFactory, port: int,
                                      stranger: subprocess.Popen[str]) -> None:
    svc = make(backend, hello_command(port), port=port)
    found = failures(run_preflight(PreflightSpec(ports=(port,)), svc.status().main_pid))
    assert len(found) == 1
    assert f"port {port} is held by pid {stranger.pid}" in found[0].message
    assert "stranger_listener.py" in found[0].message
    stop = svc.stop()
    assert stop.stopped and not stop.ok
    assert stop.port_holders[0].pid == stranger.pid
    assert "port still held by pid" in stop.describe()
    # The new release cannot bind: the check says so and who is in the way.
    _start_allowing_failure(svc)
    result = check_service(health(port, deadline=20.0), svc)
    assert not result.ok
    assert f"held by pid {stranger.pid}" in "\n".join(result.diagnostics)


def _start_allowing_failure(svc: Service) -> None:
    try:
        svc.start()
    except CommandFailed:
        pass  # the backend may already have seen the exit; the check must explain it


def test_preflight_accepts_the_service_holding_its_own_port(
    backend: str, make: ServiceFactory, port: int
) -> None:
    svc = make(backend, hello_command(port), port=port)
    svc.start()
    check = check_service(health(port), svc)
    assert check.ok
    findings = run_preflight(PreflightSpec(ports=(port,)), svc.status().main_pid)
    assert not failures(findings), findings


IGNORES_TERM = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if sys.argv[1] == "parent":
    subprocess.Popen([sys.executable, __file__, "child"])
print("ignoring TERM", sys.argv[1], flush=True)
time.sleep(600)
"""


def test_stop_kills_a_tree_that_ignores_term(backend: str, make: ServiceFactory,
                                             tmp_path: Path) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(IGNORES_TERM)
    svc = make(backend, [sys.executable, str(script), "parent"], stop_timeout=1.0)
    svc.start()
    main = svc.status().main_pid
    assert main
    tree = [psutil.Process(main)]
    assert wait_for(lambda: bool(tree[0].children(recursive=True)))
    tree += tree[0].children(recursive=True)
    assert len(tree) == 2
    result = svc.stop()
    assert result.stopped and result.was_running
    if backend == "process":
        assert result.killed is True
    for p in tree:
        assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
