"""Commands pointed at a FIFO or a device answer at once: one line, exit 2.

Without the check, ``appspec validate FIFO`` and ``buildspec validate|render``
on a FIFO or ``/dev/zero`` wait (or read) forever.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

HDHOOKS = str(Path(sys.executable).parent / "hdhooks")


def special(tmp: Path, kind: str) -> Path:
    path = tmp / kind
    if kind == "fifo":
        os.mkfifo(path)
    else:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero
    return path


COMMANDS = [
    ("appspec", "validate"),
    ("buildspec", "validate"),
    ("buildspec", "render"),
]


CASES = [(c, kind) for c in COMMANDS for kind in ("fifo", "zero-device")
         if (c, kind) != (("appspec", "validate"), "zero-device")]  # own message, e2e tests


@pytest.mark.parametrize(("command", "kind"), CASES,
                         ids=[f"{' '.join(c)}-{k}" for c, k in CASES])
def test_special_files_are_refused_at_once(tmp_path: Path, command: tuple[str, str],
                                           kind: str) -> None:
    path = special(tmp_path, kind)

    proc = subprocess.run([HDHOOKS, *command, str(path)], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL, cwd=tmp_path)

    assert proc.returncode == 2, proc.stderr
    expected = (f"{path}: not a regular file (a FIFO or socket) (pass a regular file)"
                if kind == "fifo" else
                f"{path}: more than the {16 << 20} bytes allowed (is it the right file?)")
    assert proc.stderr.splitlines() == [f"hdhooks: error: {expected}"]
    assert proc.stdout == ""


def test_a_fifo_appspec_in_a_bundle_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "appspec.yml")

    proc = subprocess.run([HDHOOKS, "appspec", "validate", str(tmp_path)],
                          capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)

    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().endswith("appspec.yml: not a regular file (a FIFO or socket) "
                                        "(pass a regular file)")


@pytest.mark.parametrize("kind", ["fifo", "zero-device"])
@pytest.mark.parametrize("bundle_type", ["tar", "zip"])
def test_local_deploy_refuses_a_special_bundle(tmp_path: Path, kind: str,
                                               bundle_type: str) -> None:
    path = special(tmp_path, kind)
    root = tmp_path / "root"

    proc = subprocess.run([HDHOOKS, "local", "deploy", "-l", str(path), "-t", bundle_type,
                           "--root", str(root)], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)

    assert proc.returncode == 2, proc.stderr
    what = "a FIFO or socket" if kind == "fifo" else "a device"
    assert proc.stderr.splitlines()[-1] == (
        f"hdhooks: error: {path}: not a regular file ({what}) (pass a regular file)")
    assert not root.exists()


@pytest.mark.parametrize("flag", ["--root", "--bundle-location"])
def test_local_deploy_refuses_an_empty_path(tmp_path: Path, flag: str) -> None:
    (tmp_path / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    args = {"--root": str(tmp_path / "root"), "--bundle-location": str(tmp_path)}
    args[flag] = ""

    proc = subprocess.run([HDHOOKS, "local", "deploy", "-l", args["--bundle-location"],
                           "--root", args["--root"]], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL, cwd=tmp_path)

    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"hdhooks: error: {flag} is empty (give a path, or leave {flag} out for the "
        "default)"]
    assert not (tmp_path / "root").exists()
