"""Atomic writes and symlink switches on a real filesystem."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hdhooks.errors import CheckFailed
from hdhooks.fsutil import PendingFile, atomic_symlink, atomic_write


def test_atomic_write_replaces_content_and_sets_mode(tmp_path: Path) -> None:
    target = tmp_path / "app.conf"
    target.write_text("old")
    atomic_write(target, "new", mode=0o600)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["app.conf"]


def test_mode_is_kept_when_not_given(tmp_path: Path) -> None:
    target = tmp_path / "app.conf"
    target.write_text("old")
    target.chmod(0o604)
    atomic_write(target, b"bytes too")
    assert stat.S_IMODE(target.stat().st_mode) == 0o604
    assert target.read_bytes() == b"bytes too"


def test_discarded_pending_file_leaves_old_content(tmp_path: Path) -> None:
    target = tmp_path / "app.conf"
    target.write_text("old")
    with pytest.raises(RuntimeError), PendingFile(target, mode=0o644) as pending:
        pending.write("half of the new")
        raise RuntimeError("stop")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["app.conf"]


def test_unknown_owner_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match="user 'no-such-user-hdhooks' does not exist"):
        atomic_write(tmp_path / "x", "y", owner="no-such-user-hdhooks")
    assert os.listdir(tmp_path) == []


def test_atomic_symlink_switch(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    link = tmp_path / "current"
    atomic_symlink("a", link)
    assert os.readlink(link) == "a"
    atomic_symlink("b", link)
    assert os.readlink(link) == "b"
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "current"]


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_and_group_applied(tmp_path: Path) -> None:
    target = tmp_path / "owned"
    atomic_write(target, "x", mode=0o640, owner="nobody", group=0)
    import pwd

    st = target.stat()
    assert st.st_uid == pwd.getpwnam("nobody").pw_uid
    assert st.st_gid == 0
