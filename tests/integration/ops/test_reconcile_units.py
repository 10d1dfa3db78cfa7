"""The reconcile units: a oneshot service the timer starts at boot and every few minutes.

Parsed structurally (systemd's unit syntax is INI-like), then, where the
daemonless systemctl is unpacked, loaded and started by it under ``--root``
so that a unit it cannot read fails here rather than on an instance.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SERVICE = REPO / "scripts" / "hdhooks-reconcile.service"
TIMER = REPO / "scripts" / "hdhooks-reconcile.timer"
SYSTEMCTL = REPO / ".cache" / "systemctl" / "usr" / "bin" / "systemctl"


def sections(path: Path) -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = found.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return found


def test_service_runs_reconcile_once() -> None:
    unit = sections(SERVICE)
    assert unit["Service"]["Type"] == ["oneshot"]
    argv = unit["Service"]["ExecStart"][0].split()
    assert os.path.isabs(argv[0]) and argv[1:] == ["reconcile"]
    assert "network-online.target" in unit["Unit"]["After"][0].split()
    assert "Install" not in unit  # started by the timer, never enabled on its own


def seconds(value: str) -> int:
    units = {"s": 1, "sec": 1, "min": 60, "h": 3600}
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    return int(number) * units[value[len(number):] or "s"]


def test_timer_fires_at_boot_and_every_few_minutes() -> None:
    timer = sections(TIMER)["Timer"]
    assert seconds(timer["OnBootSec"][0]) <= 300
    assert 60 <= seconds(timer["OnUnitInactiveSec"][0]) <= 900
    assert timer["Unit"] == [SERVICE.name]
    assert sections(TIMER)["Install"]["WantedBy"] == ["timers.target"]


@pytest.mark.skipif(not os.access(SYSTEMCTL, os.X_OK),
                    reason="daemonless systemctl not unpacked (scripts/test-setup.d)")
def test_daemonless_systemctl_loads_and_runs_the_units(tmp_path: Path) -> None:
    """Installed as the bake installs them, the timer enables and the service runs.

    ExecStart points at a stand-in ``hdhooks`` in the temp root that records
    its arguments, so the test sees exactly what the unit would run.
    """
    units = tmp_path / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    shutil.copy(TIMER, units / TIMER.name)
    fake = tmp_path / "usr" / "local" / "bin" / "hdhooks"
    fake.parent.mkdir(parents=True)
    seen = tmp_path / "seen"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {seen}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    text = SERVICE.read_text().replace("/usr/local/bin/hdhooks", str(fake))
    (units / SERVICE.name).write_text(text)
    base = [str(SYSTEMCTL), "--root", str(tmp_path)]
    run = subprocess.run([*base, "enable", TIMER.name], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert (units / "timers.target.wants" / TIMER.name).exists()
    run = subprocess.run([*base, "start", SERVICE.name], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert seen.read_text().split() == ["reconcile"]
