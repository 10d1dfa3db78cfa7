"""Removing a tree a service mounted something into: the mount stays out of reach
(links: tests/integration/agent/test_archive_rules.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hdhooks import fsremove
from tests.support.trees import bind_mount


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """``data`` (a directory with a file) bind-mounted on ``tree/sub/mnt``."""
    data, point = tmp_path / "data", tmp_path / "tree" / "sub" / "mnt"
    data.mkdir()
    (data / "precious").write_text("keep")
    point.mkdir(parents=True)
    (tmp_path / "tree" / "sub" / "a.txt").write_text("a")
    with bind_mount(data, point):
        yield data, point


def test_a_bind_mount_inside_stops_the_removal_and_keeps_its_files(
        tmp_path: Path, bind: tuple[Path, Path]) -> None:
    data, point = bind
    with pytest.raises(OSError, match="mnt: a mount point"):
        fsremove.remove_tree(str(tmp_path / "tree"))
    assert (data / "precious").read_text() == "keep"
    assert (point / "precious").read_text() == "keep"
    subprocess.run(["umount", str(point)], check=True)
    fsremove.remove_tree(str(tmp_path / "tree"))
    assert not (tmp_path / "tree").exists()
    assert (data / "precious").read_text() == "keep"


def test_a_mount_point_itself_is_not_emptied(tmp_path: Path, bind: tuple[Path, Path]) -> None:
    data, point = bind
    fsremove.remove_tree(str(point), ignore_errors=True)
    assert (data / "precious").read_text() == "keep"
    with pytest.raises(OSError, match="a mount point"):
        fsremove.remove_tree(str(point))
