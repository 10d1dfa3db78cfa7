"""The secret registry of a deployment, on disk: later hooks mask what earlier ones fetched."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hdhooks import redact
from hdhooks.errors import CheckFailed

SECRET = "reg-\\t'\"-secret-✓"


def later_hook(state: Path, deployment: str, text: str) -> str:
    """A fresh process (as the next hook is) opening the registry and redacting ``text``."""
    code = ("import sys; from hdhooks import redact; redact.open_registry(sys.argv[1], "
            "sys.argv[2]); print(redact.redact(sys.argv[3]))")
    return subprocess.run([sys.executable, "-c", code, str(state), deployment, text],
                          capture_output=True, text=True, timeout=60, check=True).stdout


def test_a_later_hook_of_the_deployment_masks_the_secret(tmp_path: Path) -> None:
    redact.clear()
    redact.open_registry(str(tmp_path), "d-ABC")
    redact.register(SECRET)
    path = Path(redact.registry_path(str(tmp_path), "d-ABC"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert SECRET.encode() not in path.read_bytes()  # hex, not greppable
    assert later_hook(tmp_path, "d-ABC", f"binding failed: {SECRET}") == "binding failed: ****\n"
    redact.clear()


def test_later_deployments_still_mask_earlier_secrets(tmp_path: Path) -> None:
    # The release an earlier deployment rendered may still run and print its values.
    redact.clear()
    redact.open_registry(str(tmp_path), "d-OLD")
    redact.register(SECRET)
    assert later_hook(tmp_path, "d-NEW", f"old release: {SECRET}") == "old release: ****\n"
    redact.clear()


def test_only_the_newest_registries_are_kept(tmp_path: Path) -> None:
    redact.clear()
    for n in range(redact.KEPT_REGISTRIES + 3):
        redact.open_registry(str(tmp_path), f"d-{n:09d}")
        redact.register(f"secret-number-{n}")
        path = redact.registry_path(str(tmp_path), f"d-{n:09d}")
        os.utime(path, (1_000_000 + n, 1_000_000 + n))
        redact.clear()
    redact.open_registry(str(tmp_path), "d-LATEST")
    names = sorted(os.listdir(tmp_path / "secrets"))
    assert len(names) == redact.KEPT_REGISTRIES
    assert redact.redact("secret-number-7") == "****"
    assert redact.redact("secret-number-0") == "secret-number-0"
    redact.clear()


def test_a_planted_link_is_neither_read_nor_written(tmp_path: Path) -> None:
    redact.clear()
    target = tmp_path / "elsewhere"
    target.write_text("")
    (tmp_path / "secrets").mkdir(mode=0o700)
    os.symlink(target, redact.registry_path(str(tmp_path), "d-LNK"))
    redact.open_registry(str(tmp_path), "d-LNK")
    with pytest.raises(CheckFailed, match="is a symbolic link"):
        redact.register("link-secret-2")
    assert target.read_text() == ""
    redact.clear()
