"""Failed hooks as a user meets them: the FAILED line, the reason, what still runs."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hookkit import HDHOOKS, Machine, assert_outcome


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    m = Machine(tmp_path)
    yield m
    m.cleanup()


SQUATTER = """
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the old release's TIME_WAITs
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("listening", flush=True)
time.sleep(300)
"""


def test_preflight_names_the_process_holding_the_port(machine: Machine) -> None:
    v1 = machine.bundle("v1", "hello-1.0.0")
    assert all(r.returncode == 0 for r in machine.deploy(v1, "d-PPPPPPPP1").values())
    stop = machine.hook("ApplicationStop", machine.current_link, "d-PPPPPPPP2")
    assert_outcome(stop, "OK", "ApplicationStop", 0)

    # between the stop and the install, something else takes the port
    script = machine.tmp / "port_squatter.py"
    script.write_text(SQUATTER)
    holder = subprocess.Popen([sys.executable, str(script), str(machine.port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "listening"
        v2 = machine.bundle("v2", "hello-1.1.0")
        before = machine.hook("BeforeInstall", v2, "d-PPPPPPPP2")
        line = assert_outcome(before, "FAILED", "BeforeInstall", 1)
        assert f"port {machine.port}" in line
        assert f"pid {holder.pid}" in before.stdout
        assert "port_squatter.py" in before.stdout
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert machine.current() == "d-PPPPPPPP1"
    assert not (machine.base_dir / "releases" / "d-PPPPPPPP2").exists()


def test_a_crash_on_boot_fails_fast_with_the_state_and_the_log(machine: Machine) -> None:
    def crash(cfg: dict[str, Any]) -> None:
        demo = cfg["environments"]["demo"]
        demo["service"]["env"]["HELLO_FAIL_ON_BOOT"] = "1"
        demo["health"]["deadline"] = 120  # the check must not wait for it

    bundle = machine.bundle("v1", "hello-1.0.0", edit=crash)
    runs = machine.deploy(bundle, "d-FFFFFFFF1")
    failed = runs.get("ValidateService") or runs["ApplicationStart"]
    line = assert_outcome(failed, "FAILED", next(k for k, v in runs.items() if v is failed), 1)
    assert "the service is not running" in line or "did not start" in line
    assert "deadline" not in line
    diagnostics = failed.diagnostics()
    assert "service hello-service: failed" in diagnostics
    assert "boot failed: application context did not start" in diagnostics
    assert machine.leftovers() == []


def test_a_health_timeout_then_rollback_to_the_previous_release(machine: Machine) -> None:
    v1 = machine.bundle("v1", "hello-1.0.0")
    assert all(r.returncode == 0 for r in machine.deploy(v1, "d-RRRRRRRR1").values())

    def unhealthy(cfg: dict[str, Any]) -> None:
        demo = cfg["environments"]["demo"]
        demo["service"]["env"]["HELLO_UNHEALTHY"] = "1"
        demo["health"]["deadline"] = 1.5

    v2 = machine.bundle("v2", "hello-1.1.0", edit=unhealthy)
    runs = machine.deploy(v2, "d-RRRRRRRR2")
    line = assert_outcome(runs["ValidateService"], "FAILED", "ValidateService", 1)
    assert f"http://127.0.0.1:{machine.port}/health" in line
    assert "HTTP 500" in line
    assert "last answer: HTTP 500" in runs["ValidateService"].diagnostics()
    assert machine.current() == "d-RRRRRRRR2"

    back = machine.rollback("hello-service")
    assert back.returncode == 0, back.describe()
    line = back.outcome_line()
    assert line.startswith("OK Rollback hello-service")
    assert "now on release d-RRRRRRRR1 (build hello-1.0.0)" in line
    assert machine.current() == "d-RRRRRRRR1"
    assert machine.build_answering() == "hello-1.0.0"

    # no release was made before d-RRRRRRRR1: a second rollback changes nothing
    again = machine.rollback()
    assert again.returncode == 2, again.describe()
    assert "no previous release" in again.outcome_line()
    assert machine.build_answering() == "hello-1.0.0"


def test_rollback_of_an_unknown_component_is_a_usage_error(machine: Machine) -> None:
    back = machine.rollback("nosuch")
    assert back.returncode == 2
    assert "no deployed component 'nosuch'" in back.outcome_line()


def test_a_typo_in_the_config_is_exit_2_with_its_location(machine: Machine) -> None:
    bundle = machine.bundle("v1", "hello-1.0.0")
    cfg = bundle / "deploy" / "hdhooks.yml"
    text = cfg.read_text()
    cfg.write_text(text.replace("\nreleases:", "\nreleasse:", 1))
    line_no = 1 + cfg.read_text().split("\nreleasse:")[0].count("\n") + 1
    run = machine.hook("BeforeInstall", bundle, "d-TTTTTTTT1")
    assert_outcome(run, "FAILED", "BeforeInstall", 2)
    assert f"{cfg}:{line_no}:1:" in run.stdout
    assert "releasse" in run.stdout
    assert "Traceback" not in run.output
    assert not machine.base_dir.exists()


def test_the_help_and_a_bad_call_go_through_click(machine: Machine) -> None:
    helped = machine.run([HDHOOKS, "hook", "--help"], machine.env())
    assert helped.returncode == 0 and "ValidateService" in helped.stdout
    bad = machine.run([HDHOOKS, "hook", "NoSuchEvent", "--bundle", machine.tmp], machine.env())
    assert bad.returncode == 2
    assert "'NoSuchEvent' is not a lifecycle event" in bad.output


def test_a_refusal_of_the_file_system_is_a_failed_step(machine: Machine) -> None:
    """Not a traceback and exit 70: the console still ends with the FAILED line."""
    (machine.tmp / "a-file").write_text("not a directory\n")
    machine.base_dir = machine.tmp / "a-file" / "hello-service"
    bundle = machine.bundle("v1", "hello-1.0.0")
    run = machine.hook("BeforeInstall", bundle, "d-OOOOOOOO1")
    line = assert_outcome(run, "FAILED", "BeforeInstall", 1)
    assert f"Not a directory: {machine.base_dir}/releases" in line
    assert "internal error" not in run.output
