"""The one filesystem sync that makes a release durable before its rename names it,
on real directories: the release is whole right after, and the sync refuses
anything but a real directory with one line naming the path."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from hdhooks.fsutil import sync_filesystem
from hdhooks.instance.hook import os_error
from hdhooks.instance.releases import MARKER, ReleaseStore


def _revision(where: Path) -> dict[str, bytes]:
    """Files written without fsync, as the agent leaves an unpacked revision."""
    files = {"app.jar": os.urandom(1 << 20), "conf/app.yml": b"port: 8080\n",
             "bin/start": b"#!/bin/sh\nexec java -jar app.jar\n", "empty": b""}
    for name, data in files.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_bytes(data)
    return files


@pytest.mark.parametrize("source", ["bundle", "incoming"])
def test_release_is_whole_right_after_promote(tmp_path: Path, source: str) -> None:
    store = ReleaseStore(tmp_path / "base")
    revision = tmp_path / "archive" if source == "bundle" else store.incoming_dir
    files = _revision(revision)

    def prepare(work: Path) -> None:  # a rendered file, also new data
        (work / "conf" / "rendered.env").write_text("DB=db.internal\n")

    release = store.promote("d-1", revision if source == "bundle" else None, prepare=prepare)
    for name, data in files.items():
        assert (release.path / name).read_bytes() == data, name
    assert (release.path / "conf" / "rendered.env").read_text() == "DB=db.internal\n"
    assert json.loads((release.path / MARKER).read_text())["deployment_id"] == "d-1"
    assert sorted(os.listdir(store.releases_dir)) == ["d-1"]  # no work directory left


def test_sync_of_a_real_directory(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 4096)
    sync_filesystem(tmp_path)
    sync_filesystem(str(tmp_path))


def test_sync_does_not_follow_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    link = tmp_path / "link"
    link.symlink_to("real")
    with pytest.raises(OSError) as caught:
        sync_filesystem(link)
    assert caught.value.errno == errno.ELOOP
    assert os_error(caught.value) == f"Symbolic link not followed: {link}"


@pytest.mark.parametrize("kind", ["file", "missing", "link to a file"])
def test_sync_refuses_what_is_not_a_directory(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "thing"
    if kind == "file":
        path.write_text("x")
    elif kind == "link to a file":
        (tmp_path / "target").write_text("x")
        path.symlink_to("target")
    with pytest.raises(OSError) as caught:
        sync_filesystem(path)
    line = os_error(caught.value)
    assert "\n" not in line and line.endswith(f": {path}")
    want = {"file": "Not a directory", "missing": "No such file or directory",
            "link to a file": "Symbolic link not followed"}[kind]
    assert line.startswith(want)
