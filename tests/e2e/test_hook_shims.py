"""The shims CodeDeploy runs, and ``hdhooks hook --dry-run``."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.hookkit import EVENTS, HDHOOKS, Machine, Run, assert_outcome

SHIMS = {
    "ApplicationStop": "application-stop.sh",
    "BeforeInstall": "before-install.sh",
    "AfterInstall": "after-install.sh",
    "ApplicationStart": "application-start.sh",
    "ValidateService": "validate-service.sh",
}


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    m = Machine(tmp_path)
    yield m
    m.cleanup()


def shim(machine: Machine, event: str, script: str, cwd: Path, deployment_id: str) -> Run:
    """``sh <script>`` as the agent runs it: LIFECYCLE_EVENT set, $HDHOOKS the console script."""
    env = machine.env(event, deployment_id)
    env["HDHOOKS"] = HDHOOKS
    p = subprocess.run(["sh", script], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=90, stdin=subprocess.DEVNULL)
    return Run(["sh", script], p.returncode, p.stdout, p.stderr)


def test_a_deployment_through_the_shims(machine: Machine) -> None:
    bundle = machine.bundle("v1", "hello-1.0.0")
    for event in EVENTS:
        # the agent's working directory is not the bundle: the shim finds its own
        run = shim(machine, event, str(bundle / "hooks" / SHIMS[event]), machine.tmp,
                   "d-HHHHHHHH1")
        assert_outcome(run, "OK", event, 0)
    assert machine.current() == "d-HHHHHHHH1"
    assert machine.build_answering() == "hello-1.0.0"

    again = shim(machine, "ValidateService", "hooks/validate-service.sh", bundle, "d-HHHHHHHH1")
    assert "healthy http://127.0.0.1" in assert_outcome(again, "OK", "ValidateService", 0)


def test_dry_run_prints_the_steps_and_changes_nothing(machine: Machine) -> None:
    bundle = machine.bundle("v1", "hello-1.0.0")
    expected = {
        # a skipped step says so, with the reason decided when the plan was made
        "ApplicationStop": ["skip block traffic (load balancer): traffic.mode is auto and no "
                            "target groups are configured", "would stop the service gracefully"],
        "BeforeInstall": ["would preflight: disk, commands, ports", "would prune releases"],
        "AfterInstall": ["would make release d-DDDDDDDD1 from the bundle, render config"],
        "ApplicationStart": ["would switch current to release d-DDDDDDDD1",
                             "would start the service"],
        "ValidateService": ["would local health check", "skip allow traffic (load balancer): "
                            "traffic.mode is auto and no target groups are configured"],
    }
    for event, lines in expected.items():
        run = machine.hook(event, bundle, "d-DDDDDDDD1", "--dry-run")
        assert run.returncode == 0, run.describe()
        for line in lines:
            assert line in run.stdout, run.describe()
    # the traffic events have no steps
    quiet = machine.hook("BeforeAllowTraffic", bundle, "d-DDDDDDDD1", "--dry-run")
    assert quiet.returncode == 0 and "would" not in quiet.stdout
    assert not machine.base_dir.exists()
    assert not (machine.state_dir / "components").exists()
    assert machine.leftovers() == []
    assert machine.get()[0] == 0  # nothing answers on the port


def test_the_event_comes_from_lifecycle_event(machine: Machine) -> None:
    bundle = machine.bundle("v1", "hello-1.0.0")
    run = machine.run([HDHOOKS, "hook", "--bundle", bundle, "--dry-run"],
                      machine.env("AfterInstall", "d-EEEEEEEE1"))
    assert run.returncode == 0
    assert "AfterInstall of hello-service (demo), deployment d-EEEEEEEE1" in run.stdout
    missing = machine.run([HDHOOKS, "hook", "--bundle", bundle], machine.env())
    assert missing.returncode == 2
    assert "no lifecycle event" in missing.output
