"""``hdhooks hook`` with the systemd backend, through Debian's daemonless systemctl."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hookkit import SYSTEMCTL, Machine, assert_outcome

pytestmark = pytest.mark.skipif(
    not os.access(SYSTEMCTL, os.X_OK),
    reason="daemonless systemctl missing: run scripts/test-setup.d/systemctl.sh",
)


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    m = Machine(tmp_path)
    # systemctl --root reads every path of a unit inside the root tree, as on an
    # image being built: mirror this test's directory there, so that the
    # unit's WorkingDirectory (the `current` link) is the same place inside.
    mirror = m.systemd_root / str(tmp_path).lstrip("/")
    mirror.parent.mkdir(parents=True)
    mirror.symlink_to(tmp_path, target_is_directory=True)
    yield m
    m.cleanup()


def test_two_versions_with_the_systemd_backend(machine: Machine) -> None:
    v1 = machine.bundle("v1", "hello-1.0.0", backend="systemd")
    runs = machine.deploy(v1, "d-SSSSSSSS1")
    assert all(r.returncode == 0 for r in runs.values()), [r.describe() for r in runs.values()]
    assert "was not running" in assert_outcome(runs["ApplicationStop"], "OK", "ApplicationStop")
    assert "active (running)" in assert_outcome(runs["ApplicationStart"], "OK",
                                                 "ApplicationStart")
    assert_outcome(runs["ValidateService"], "OK", "ValidateService")
    assert machine.build_answering() == "hello-1.0.0"

    # the unit was rendered by hdhooks' builtin template under the --root tree
    unit = machine.systemd_root / "etc" / "systemd" / "system" / "hello-service.service"
    text = unit.read_text()
    assert "deployed by hdhooks" in text
    assert f"--port {machine.port}" in text
    assert f"WorkingDirectory={machine.current_link}" in text
    real = Path("/etc/systemd/system/hello-service.service")
    assert not real.exists() or f"--port {machine.port}" not in real.read_text()

    v2 = machine.bundle("v2", "hello-1.1.0", backend="systemd")
    runs = machine.deploy(v2, "d-SSSSSSSS2")
    assert all(r.returncode == 0 for r in runs.values()), [r.describe() for r in runs.values()]
    assert "stopped in" in assert_outcome(runs["ApplicationStop"], "OK", "ApplicationStop")
    assert machine.current() == "d-SSSSSSSS2"
    assert machine.build_answering() == "hello-1.1.0"


def test_a_crash_on_boot_under_systemd_shows_the_state_and_the_log_once(
        machine: Machine) -> None:
    # The service waits for a flag before it boots, so that ApplicationStart
    # always finds it running and the crash always comes during ValidateService,
    # however loaded the machine is. It never answers healthy (HELLO_UNHEALTHY):
    # the check can only end by seeing it die, long before its deadline.
    flag = machine.tmp / "boot-now"

    def crash(cfg: dict[str, Any]) -> None:
        service = cfg["environments"]["demo"]["service"]
        service["command"] = ["/bin/sh", "app/wait-for-flag.sh", str(flag), *service["command"]]
        service["env"]["HELLO_FAIL_ON_BOOT"] = "1"
        service["env"]["HELLO_UNHEALTHY"] = "1"
        cfg["environments"]["demo"]["health"]["deadline"] = 120

    wait = 'flag=$1; shift\nwhile [ ! -e "$flag" ]; do sleep 0.05; done\nexec "$@"\n'
    bundle = machine.bundle("v1", "hello-1.0.0", backend="systemd", edit=crash,
                            files={"app/wait-for-flag.sh": wait})
    for event in ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart"):
        assert_outcome(machine.hook(event, bundle, "d-SSSSSSSS3"), "OK", event, 0)
    flag.touch()
    failed = machine.hook("ValidateService", bundle, "d-SSSSSSSS3")
    line = assert_outcome(failed, "FAILED", "ValidateService", 1)
    # the death is seen at once (not the deadline); the state systemd shows is "failed"
    assert "the service is not running" in line and "deadline" not in line, failed.describe()
    assert "service hello-service: failed (failed)" in failed.diagnostics()
    assert failed.diagnostics().count("boot failed: application context did not start") == 1
