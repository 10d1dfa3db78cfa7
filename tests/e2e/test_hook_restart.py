"""`hdhooks restart`: the way back after a deployment failed with the service stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.hookkit import HDHOOKS, Machine, assert_outcome


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    m = Machine(tmp_path)
    yield m
    m.cleanup()


def test_restart_brings_back_the_current_release_after_a_failed_after_install(
    machine: Machine,
) -> None:
    v1 = machine.bundle("v1", "hello-1.0.0")
    assert all(r.returncode == 0 for r in machine.deploy(v1, "d-RRRRRRRR1").values())

    v2 = machine.bundle("v2", "hello-1.1.0",
                        files={"deploy/templates/hello.json.j2": "{{ no_such_value }}\n"})
    assert_outcome(machine.hook("ApplicationStop", machine.current_link, "d-RRRRRRRR2"),
                   "OK", "ApplicationStop", 0)
    assert_outcome(machine.hook("BeforeInstall", v2, "d-RRRRRRRR2"), "OK", "BeforeInstall", 0)
    failed = machine.hook("AfterInstall", v2, "d-RRRRRRRR2")
    assert_outcome(failed, "FAILED", "AfterInstall", 1)
    assert machine.current() == "d-RRRRRRRR1"
    assert machine.build_answering() is None  # stopped by the deployment that failed

    restart = machine.run([HDHOOKS, "restart", "--metrics", "hello-service"], machine.env())
    line = assert_outcome(restart, "OK", "Restart", 0)
    assert "build hello-1.0.0" in line
    assert machine.build_answering() == "hello-1.0.0"
    assert machine.current() == "d-RRRRRRRR1"


def test_restart_of_a_running_release_stops_it_first(machine: Machine) -> None:
    v1 = machine.bundle("v1", "hello-1.0.0")
    assert all(r.returncode == 0 for r in machine.deploy(v1, "d-RRRRRRRR3").values())
    restart = machine.run([HDHOOKS, "restart", "--metrics"], machine.env())
    assert_outcome(restart, "OK", "Restart", 0)
    assert "stopped in" in restart.stdout
    assert machine.build_answering() == "hello-1.0.0"


def test_restart_with_nothing_deployed_says_so(machine: Machine) -> None:
    run = machine.run([HDHOOKS, "restart", "nothing"], machine.env())
    assert run.returncode == 2
    assert "no deployed component 'nothing'" in run.stdout
