"""Hooks run again, after failures, and on a machine that says no.

Each case ends with one clear outcome line (never a traceback) and the
previous release still in place and runnable.
"""

from __future__ import annotations

import os
import subprocess
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


def deployed(machine: Machine, bundle: Path, deployment_id: str) -> None:
    runs = machine.deploy(bundle, deployment_id)
    assert all(r.returncode == 0 for r in runs.values()), [r.describe() for r in runs.values()]


def no_traceback(*runs: Any) -> None:
    for run in runs:
        assert "Traceback" not in run.output and "internal error" not in run.output


def test_each_hook_can_run_twice(machine: Machine) -> None:
    v1 = machine.bundle("v1", "hello-1.0.0")
    for event in ("ApplicationStop", "BeforeInstall", "AfterInstall", "AfterInstall"):
        assert_outcome(machine.hook(event, v1, "d-IIIIIIII1"), "OK", event, 0)
    first = assert_outcome(machine.hook("ApplicationStart", v1, "d-IIIIIIII1"), "OK",
                           "ApplicationStart", 0)
    assert "first release" in first
    running = first.split("; ", 1)[1]  # "active (running) pid N"
    again = assert_outcome(machine.hook("ApplicationStart", v1, "d-IIIIIIII1"), "OK",
                           "ApplicationStart", 0)
    assert again.endswith(f": already current; {running}")  # the same process, not twice
    assert_outcome(machine.hook("ValidateService", v1, "d-IIIIIIII1"), "OK", "ValidateService", 0)

    stop = machine.hook("ApplicationStop", machine.current_link, "d-IIIIIIII2")
    assert "stopped in" in assert_outcome(stop, "OK", "ApplicationStop", 0)
    stop = machine.hook("ApplicationStop", machine.current_link, "d-IIIIIIII2")
    assert "was not running" in assert_outcome(stop, "OK", "ApplicationStop", 0)
    assert sorted(os.listdir(machine.base_dir / "releases")) == ["d-IIIIIIII1"]


def test_a_failed_after_install_then_the_same_revision_again(machine: Machine) -> None:
    deployed(machine, machine.bundle("v1", "hello-1.0.0"), "d-AAAAAAAA1")
    broken = machine.bundle("v2", "hello-2.0.0",
                            files={"deploy/templates/hello.json.j2": "{{ no_such_name }}\n"})
    runs = machine.deploy(broken, "d-AAAAAAAA2")
    line = assert_outcome(runs["AfterInstall"], "FAILED", "AfterInstall", 1)
    assert "hello.json.j2:1: undefined: 'no_such_name' is undefined" in line
    assert "ApplicationStart" not in runs
    assert machine.current() == "d-AAAAAAAA1"
    assert sorted(os.listdir(machine.base_dir / "releases")) == ["d-AAAAAAAA1"]

    # the revision fixed and deployed again: a new deployment id
    deployed(machine, machine.bundle("v2-fixed", "hello-2.0.0"), "d-AAAAAAAA3")
    assert machine.current() == "d-AAAAAAAA3"
    assert machine.build_answering() == "hello-2.0.0"


def test_rollback_to_a_release_whose_config_is_broken_changes_nothing(machine: Machine
                                                                      ) -> None:
    deployed(machine, machine.bundle("v1", "hello-1.0.0"), "d-BBBBBBBB1")
    deployed(machine, machine.bundle("v2", "hello-2.0.0"), "d-BBBBBBBB2")
    config = machine.base_dir / "releases" / "d-BBBBBBBB1" / "deploy" / "hdhooks.yml"
    config.write_text(config.read_text().replace("\nreleases:", "\nreleasse:", 1))
    back = machine.rollback("hello-service")
    assert back.returncode == 2, back.describe()
    line = back.outcome_line()
    assert line.startswith("FAILED Rollback hello-service")
    assert f"{config}:" in line and "unknown key 'releasse'" in line
    no_traceback(back)
    assert machine.current() == "d-BBBBBBBB2"
    assert machine.build_answering() == "hello-2.0.0"  # still running, untouched


def test_a_traffic_event_from_lifecycle_event_has_nothing_to_do(machine: Machine) -> None:
    bundle = machine.bundle("v1", "hello-1.0.0")
    for event in ("BeforeBlockTraffic", "AfterAllowTraffic"):
        run = machine.run([HDHOOKS, "hook", "--bundle", bundle],
                          machine.env(event, "d-CCCCCCCC1"))
        assert "nothing to do" in assert_outcome(run, "OK", event, 0)
    bad = machine.run([HDHOOKS, "hook", "--bundle", bundle], machine.env("AllowTraffic"))
    assert bad.returncode == 2
    assert "'AllowTraffic' is not a lifecycle event hdhooks can run" in bad.stderr
    no_traceback(bad)


def test_preflight_runs_the_configured_version_args(machine: Machine) -> None:
    tool = machine.tmp / "bin" / "gotool"
    tool.parent.mkdir()
    tool.write_text('#!/bin/sh\n[ "$1" = version ] || { echo "unknown flag $1" >&2; exit 2; }\n'
                    'echo "gotool version 1.22.1 linux/amd64"\n')
    tool.chmod(0o755)
    machine.extra_env["PATH"] = f"{tool.parent}{os.pathsep}{os.environ['PATH']}"

    def needs(minimum: str) -> Any:
        def edit(cfg: dict[str, Any]) -> None:
            cfg["environments"]["demo"]["preflight"]["commands"] = [
                {"name": "gotool", "min_version": minimum, "version_args": ["version"]}]
        return edit

    ok = machine.hook("BeforeInstall", machine.bundle("v1", "b1", edit=needs("1.21")), "d-1")
    assert_outcome(ok, "OK", "BeforeInstall", 0)
    old = machine.hook("BeforeInstall", machine.bundle("v2", "b2", edit=needs("1.23")), "d-2")
    line = assert_outcome(old, "FAILED", "BeforeInstall", 1)
    assert "gotool 1.22.1 is older than 1.23" in line


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here (needs root in a machine that allows it): "
                    f"{done.stderr.strip()}")


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Path]:
    """A directory to mount a file system on, unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    where = tmp_path / "mnt"
    where.mkdir()
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_read_only_base_dir_fails_after_install_and_keeps_the_release(
        machine: Machine, mounted: Path) -> None:
    machine.base_dir = mounted / "hello-service"
    deployed(machine, machine.bundle("v1", "hello-1.0.0"), "d-RRRRRRRR1")
    mount("--bind", str(mounted), str(mounted))
    mount("-o", "remount,ro,bind", str(mounted))
    runs = machine.deploy(machine.bundle("v2", "hello-2.0.0"), "d-RRRRRRRR2")
    line = assert_outcome(runs["AfterInstall"], "FAILED", "AfterInstall", 1)
    assert "Read-only file system: " in line and str(machine.base_dir / "releases") in line
    no_traceback(*runs.values())
    assert machine.current() == "d-RRRRRRRR1"
    start = machine.hook("ApplicationStart", machine.current_link, "d-RRRRRRRR1")
    assert_outcome(start, "OK", "ApplicationStart", 0)  # the previous release still runs
    check = machine.hook("ValidateService", machine.current_link, "d-RRRRRRRR1")
    assert_outcome(check, "OK", "ValidateService", 0)
    assert machine.build_answering() == "hello-1.0.0"


def test_a_full_disk_names_the_file_and_leaves_nothing(machine: Machine, mounted: Path
                                                       ) -> None:
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mounted))
    machine.base_dir = mounted / "hello-service"

    def small_disk(cfg: dict[str, Any]) -> None:
        cfg["environments"]["demo"]["preflight"]["min_free_disk_mb"] = 0

    deployed(machine, machine.bundle("v1", "hello-1.0.0", edit=small_disk), "d-DDDDDDDD1")
    big = machine.bundle("v2", "hello-2.0.0", files={"big.bin": "x" * 2_000_000})
    run = machine.hook("AfterInstall", big, "d-DDDDDDDD2")
    line = assert_outcome(run, "FAILED", "AfterInstall", 1)
    assert "No space left on device: " in line and line.rstrip().endswith("big.bin")
    assert line.count("No space left") == 1
    no_traceback(run)
    assert sorted(os.listdir(machine.base_dir / "releases")) == ["d-DDDDDDDD1"]
    assert machine.current() == "d-DDDDDDDD1"
    assert machine.build_answering() == "hello-1.0.0"
