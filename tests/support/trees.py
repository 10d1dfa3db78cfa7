"""Directory trees deeper than any path limit, made one level at a time."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def nest(top: Path, levels: int, *, leaf: bool = False) -> None:
    """Make ``top/d/d/.../d``, ``levels`` directories one in the other, through
    directory fds (as a service writing into its own tree could), so no path
    grows past PATH_MAX; with ``leaf``, an empty file ``leaf`` at the bottom."""
    here = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir("d", dir_fd=here)
            below = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=here)
            os.close(here)
            here = below
        if leaf:
            os.close(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=here))
    finally:
        os.close(here)


@contextlib.contextmanager
def bind_mount(source: Path, point: Path) -> Iterator[None]:
    """``source`` bind-mounted on ``point`` (as a service mounts its data disk into
    its tree) for the block; the tests run as root on Linux, so a failure fails."""
    r = subprocess.run(["mount", "--bind", str(source), str(point)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.fail(f"mount --bind {source} {point}: {r.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(point)], capture_output=True, check=False)
