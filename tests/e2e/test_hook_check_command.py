"""service.check_command (say ``nginx -t``) gates the switch to the new release."""

from __future__ import annotations

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


def check_command(argv: list[str]) -> Any:
    def edit(config: dict[str, Any]) -> None:
        config["environments"]["demo"]["service"]["check_command"] = argv

    return edit


def test_a_failing_check_keeps_the_previous_release_current(machine: Machine) -> None:
    v1 = machine.bundle("v1", "hello-1.0.0")
    assert all(r.returncode == 0 for r in machine.deploy(v1, "d-CCCCCCCC1").values())

    bad = ["sh", "-c", "echo 'nginx: [emerg] unknown directive \"sever\" in site.conf:3'; exit 1"]
    v2 = machine.bundle("v2", "hello-1.1.0", edit=check_command(bad))
    for event in ("BeforeInstall", "AfterInstall"):
        assert_outcome(machine.hook(event, v2, "d-CCCCCCCC2"), "OK", event, 0)
    start = machine.hook("ApplicationStart", v2, "d-CCCCCCCC2")
    line = assert_outcome(start, "FAILED", "ApplicationStart", 1)
    assert "check command sh -c" in line and "exited 1" in line
    assert 'unknown directive "sever"' in start.diagnostics()
    assert machine.current() == "d-CCCCCCCC1"
    assert machine.build_answering() == "hello-1.0.0"  # the old release still serves


def test_a_passing_check_runs_before_the_switch(machine: Machine) -> None:
    v1 = machine.bundle("v1", "hello-1.0.0", edit=check_command(["true"]))
    runs = machine.deploy(v1, "d-CCCCCCCC3")
    assert all(r.returncode == 0 for r in runs.values())
    out = runs["ApplicationStart"].stdout
    assert out.index("check: true") < out.index("switch current")


def test_reload_needs_systemd(machine: Machine) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["environments"]["demo"]["service"]["reload"] = True

    v1 = machine.bundle("v1", "hello-1.0.0", edit=edit)
    run = machine.hook("BeforeInstall", v1, "d-CCCCCCCC4")
    line = assert_outcome(run, "FAILED", "BeforeInstall", 2)
    assert "service.reload" in run.stdout and "systemd" in run.stdout
    assert ":" in line
