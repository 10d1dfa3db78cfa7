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


# --- the link-safe openers ---------------------------------------------------

def test_ensure_dir_exact_mode_under_umask_000(tmp_path: Path) -> None:
    from hdhooks.fsutil import ensure_dir

    old = os.umask(0)
    try:
        made = ensure_dir(tmp_path / "a" / "state", 0o700)
    finally:
        os.umask(old)
    assert made.stat().st_mode & 0o7777 == 0o700
    assert (tmp_path / "a").stat().st_mode & 0o7777 == 0o700


def test_ensure_dir_refuses_link_and_world_writable(tmp_path: Path) -> None:
    from hdhooks.errors import CheckFailed
    from hdhooks.fsutil import ensure_dir

    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(CheckFailed, match="is a symbolic link"):
        ensure_dir(tmp_path / "link")
    (tmp_path / "open").mkdir()
    (tmp_path / "open").chmod(0o777)
    with pytest.raises(CheckFailed, match=r"writable by other users \(mode 0777\)"):
        ensure_dir(tmp_path / "open")


def test_open_nofollow_refuses_links_fifos_and_hard_links(tmp_path: Path) -> None:
    from hdhooks.errors import CheckFailed
    from hdhooks.fsread import open_nofollow

    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "sym").symlink_to(victim)
    os.link(victim, tmp_path / "hard")
    os.mkfifo(tmp_path / "fifo")
    for name, rule in (("sym", "symbolic link"), ("hard", "hard links"),
                       ("fifo", "not a regular file")):
        with pytest.raises(CheckFailed, match=rule):
            open_nofollow(tmp_path / name, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    assert victim.read_text() == "keep"


def test_open_nofollow_new_file_gets_exact_mode(tmp_path: Path) -> None:
    from hdhooks.fsread import open_nofollow

    old = os.umask(0)
    try:
        os.close(open_nofollow(tmp_path / "lock", os.O_RDWR | os.O_CREAT, 0o600))
    finally:
        os.umask(old)
    assert (tmp_path / "lock").stat().st_mode & 0o7777 == 0o600


def test_read_regular_limits(tmp_path: Path) -> None:
    from hdhooks.errors import InputError
    from hdhooks.fsread import TooLarge, read_regular

    (tmp_path / "f").write_bytes(b"12345")
    assert read_regular(tmp_path / "f") == b"12345"
    with pytest.raises(TooLarge):
        read_regular(tmp_path / "f", limit=4)
    with pytest.raises(TooLarge):
        read_regular("/dev/zero", limit=1024)
    with pytest.raises(InputError, match="is a directory"):
        read_regular(tmp_path)


def test_stale_temps_of_dead_writers_are_removed(tmp_path: Path) -> None:
    from hdhooks.fsutil import TEMP_MARK, remove_stale_temps

    dead = tmp_path / f".app.conf{TEMP_MARK}999999999-abcd"
    mine = tmp_path / f".app.conf{TEMP_MARK}{os.getpid()}-abcd"
    dead.write_text("x")
    mine.write_text("y")
    assert remove_stale_temps(tmp_path) == [dead]
    assert mine.exists()
