"""The release copy: which files may share the revision's inode, and that nothing
written into the release reaches the revision (root only: links need root's files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hdhooks.fsutil import atomic_write
from hdhooks.instance.releases import ReleaseStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hard links are for root's files")


def _revision(where: Path) -> Path:
    rev = where / "deployment-archive"
    (rev / "conf").mkdir(parents=True)
    for name, mode in (("plain.txt", 0o644), ("conf/app.yml", 0o644), ("shared.txt", 0o664),
                       ("setuid", 0o4755), ("mine.txt", 0o644)):
        (rev / name).write_text(name)
        os.chmod(rev / name, mode)
    os.chown(rev / "mine.txt", 65534, 65534)
    (rev / "link").symlink_to("plain.txt")
    return rev


def _same(a: Path, b: Path) -> bool:
    return os.lstat(a).st_ino == os.lstat(b).st_ino


def test_only_root_owned_read_only_files_are_linked(tmp_path: Path) -> None:
    rev = _revision(tmp_path)
    store = ReleaseStore(tmp_path / "base")

    def prepare(work: Path) -> None:  # a template rendered over a linked file
        atomic_write(work / "conf" / "app.yml", "rendered\n", mode=0o640)

    release = store.promote("d-1", rev, prepare=prepare)
    assert store.last_copy.startswith("hard-linked 2")  # plain.txt; conf/app.yml before render
    assert _same(rev / "plain.txt", release.path / "plain.txt")
    for name in ("shared.txt", "setuid", "mine.txt"):  # writable by others, setuid, not root's
        assert not _same(rev / name, release.path / name), name
        assert (release.path / name).read_text() == name
    assert os.readlink(release.path / "link") == "plain.txt"
    assert (release.path / "conf" / "app.yml").read_text() == "rendered\n"
    assert (rev / "conf" / "app.yml").read_text() == "conf/app.yml"  # never written through
    assert os.stat(rev / "conf" / "app.yml").st_mode & 0o777 == 0o644
    assert os.stat(release.path / "setuid").st_mode & 0o7777 == 0o4755


def test_a_service_group_means_copies_with_group_read(tmp_path: Path) -> None:
    rev = _revision(tmp_path)
    os.chmod(rev / "plain.txt", 0o600)
    store = ReleaseStore(tmp_path / "base")
    release = store.promote("d-1", rev, reader_gid=4242)
    assert store.last_copy == "copied"
    st = os.stat(release.path / "plain.txt")
    assert (st.st_gid, st.st_mode & 0o777) == (4242, 0o640)
    assert os.stat(rev / "plain.txt").st_gid == 0  # the revision is unchanged
    assert os.stat(release.path / "mine.txt").st_gid == 65534  # not root's: left as it is
    assert os.stat(release.path / "conf").st_mode & 0o070 == 0o050


def test_incoming_is_always_copied(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path / "base")
    store.incoming_dir.mkdir(parents=True)
    (store.incoming_dir / "plain.txt").write_text("x")
    release = store.promote("d-1")
    assert store.last_copy == "copied"
    assert not _same(store.incoming_dir / "plain.txt", release.path / "plain.txt")
