"""Whole deployments through ``hdhooks hook``: every event, two versions, a real service."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hookkit import Machine, assert_outcome


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    m = Machine(tmp_path)
    yield m
    m.cleanup()


def test_two_versions_with_the_process_backend(machine: Machine) -> None:
    v1 = machine.bundle("v1", "hello-1.0.0")

    stop = machine.hook("ApplicationStop", v1, "d-AAAAAAAA1")
    assert "was not running" in assert_outcome(stop, "OK", "ApplicationStop", 0)

    before = machine.hook("BeforeInstall", v1, "d-AAAAAAAA1")
    assert_outcome(before, "OK", "BeforeInstall", 0)

    after = machine.hook("AfterInstall", v1, "d-AAAAAAAA1")
    assert_outcome(after, "OK", "AfterInstall", 0)
    release = machine.base_dir / "releases" / "d-AAAAAAAA1"
    rendered = json.loads((release / "conf" / "hello.json").read_text())
    assert rendered["build_id"] == "hello-1.0.0"
    assert rendered["environment"] == "demo"
    assert rendered["deployment_id"] == "d-AAAAAAAA1"
    assert stat.S_IMODE(os.stat(release / "conf" / "hello.json").st_mode) == 0o644

    start = machine.hook("ApplicationStart", v1, "d-AAAAAAAA1")
    assert "active (running)" in assert_outcome(start, "OK", "ApplicationStart", 0)
    assert machine.current() == "d-AAAAAAAA1"

    validate = machine.hook("ValidateService", v1, "d-AAAAAAAA1")
    line = assert_outcome(validate, "OK", "ValidateService", 0)
    assert f"healthy http://127.0.0.1:{machine.port}/health" in line
    assert machine.build_answering() == "hello-1.0.0"
    assert machine.get("/")[1] == "Hello from hello-service from build hello-1.0.0\n"

    v2 = machine.bundle("v2", "hello-1.1.0")
    runs = machine.deploy(v2, "d-BBBBBBBB2")
    assert all(r.returncode == 0 for r in runs.values()), [r.describe() for r in runs.values()]
    # ApplicationStop ran from v1's release and stopped it gracefully (SIGTERM, no kill)
    stopped = assert_outcome(runs["ApplicationStop"], "OK", "ApplicationStop")
    assert "stopped in" in stopped and "SIGKILL" not in stopped
    log = (machine.state_dir / "log" / "hello-service.log").read_text()
    assert "received SIGTERM, stopping" in log and "stopped" in log
    assert machine.current() == "d-BBBBBBBB2"
    assert machine.build_answering() == "hello-1.1.0"
    assert sorted(os.listdir(machine.base_dir / "releases")) == ["d-AAAAAAAA1", "d-BBBBBBBB2"]


def test_the_outcome_line_stays_in_the_console_window(machine: Machine) -> None:
    """A long FAILED line plus a long log tail: the line is still in CodeDeploy's 2 KB."""

    def unhealthy_with_a_long_url(cfg: dict[str, Any]) -> None:
        demo = cfg["environments"]["demo"]
        demo["service"]["env"]["HELLO_UNHEALTHY"] = "1"
        demo["health"].update(deadline=1, path="/health?probe=" + "p" * 700)

    # long build ids make long log lines: the diagnostics fill their budget
    good = machine.bundle("v1", "hello-1." + "1" * 250)
    assert machine.deploy(good, "d-CCCCCCCC1")["ValidateService"].returncode == 0
    bad = machine.bundle("v2", "hello-2." + "2" * 250, edit=unhealthy_with_a_long_url)
    runs = machine.deploy(bad, "d-CCCCCCCC2")
    failed = runs["ValidateService"]
    line = assert_outcome(failed, "FAILED", "ValidateService", 1)
    assert "HTTP 500" in line
    # the diagnostics were cut to fit, not dropped
    assert "hello-service: active (running)" in failed.diagnostics()
