"""Files that are not regular files, given where a YAML file is expected.

A FIFO would block a reader forever and /dev/zero never ends: both are
refused at once with one line and exit 2.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def _fifo(where: Path) -> Path:
    path = where / "appspec.yml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", ["appspec", "buildspec"])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_special_file_is_refused_at_once(hdhooks_bin: str, tmp_path: Path, command: str,
                                          kind: str) -> None:
    path = _fifo(tmp_path) if kind == "fifo" else Path("/dev/zero")
    r = subprocess.run([hdhooks_bin, command, "validate", str(path)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    if kind == "fifo":
        assert f"{path}: not a regular file (a FIFO or socket)" in lines[0]
    elif command == "appspec":
        assert lines[0] == f"hdhooks: error: {path}: larger than 16 MB, not an appspec " \
                           "(give the appspec file)"
    else:
        assert f"{path}: more than the {16 << 20} bytes allowed" in lines[0]
    assert "Traceback" not in r.stderr + r.stdout
