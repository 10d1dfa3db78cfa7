"""ApplicationStop never blocks deployments because of the previous revision's config.

CodeDeploy runs ApplicationStop from the last successful revision. If that
revision's deploy/hdhooks.yml can no longer be read (a stricter hdhooks, a
hand edit), the stop uses the config recorded when the revision was started.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.hookkit import EVENTS, Machine, assert_outcome


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    m = Machine(tmp_path)
    yield m
    m.cleanup()


def archive(machine: Machine, bundle: Path, deployment_id: str) -> Path:
    """Where the agent unpacks a revision: <root>/<group-id>/<deployment-id>/deployment-archive."""
    path = machine.tmp / "deployment-root" / "group" / deployment_id / "deployment-archive"
    shutil.copytree(bundle, path)
    return path


def break_config(bundle: Path) -> None:
    cfg = bundle / "deploy" / "hdhooks.yml"
    cfg.write_text(cfg.read_text().replace("\nreleases:", "\nreleasse:", 1))


def test_stop_uses_the_recorded_config_when_the_old_one_is_unreadable(machine: Machine) -> None:
    v1 = archive(machine, machine.bundle("v1", "hello-1.0.0"), "d-FFFFFFFF1")
    for event in EVENTS:
        assert_outcome(machine.hook(event, v1, "d-FFFFFFFF1"), "OK", event, 0)
    assert machine.build_answering() == "hello-1.0.0"

    break_config(v1)
    stop = machine.hook("ApplicationStop", v1, "d-FFFFFFFF2")
    line = assert_outcome(stop, "OK", "ApplicationStop", 0)
    assert "stopped" in line
    assert "releasse" in stop.stdout  # the reason is still shown, as a warning
    assert "config recorded when it was started" in stop.stdout
    assert machine.build_answering() is None


def test_stop_with_an_unreadable_config_and_nothing_started_succeeds(machine: Machine) -> None:
    v1 = archive(machine, machine.bundle("v1", "hello-1.0.0"), "d-GGGGGGGG1")
    break_config(v1)
    stop = machine.hook("ApplicationStop", v1, "d-GGGGGGGG2")
    line = assert_outcome(stop, "OK", "ApplicationStop", 0)
    assert "nothing to stop" in line
    # every other event still refuses the broken config, with its location
    before = machine.hook("BeforeInstall", v1, "d-GGGGGGGG2")
    assert_outcome(before, "FAILED", "BeforeInstall", 2)
