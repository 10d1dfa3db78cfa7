"""Releases in real temporary directories: promote, switch, previous, rollback, prune."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hdhooks.errors import CheckFailed, UsageError
from hdhooks.instance.releases import ReleaseStore
from tests.support.trees import bind_mount, nest


def install(store: ReleaseStore, text: str) -> None:
    """What the agent's Install step does: put the revision's files in incoming."""
    store.incoming_dir.mkdir(parents=True, exist_ok=True)
    (store.incoming_dir / "app.txt").write_text(text)
    (store.incoming_dir / "bin").mkdir(exist_ok=True)
    link = store.incoming_dir / "latest"
    if not link.is_symlink():
        link.symlink_to("app.txt")


def deploy(store: ReleaseStore, release_id: str) -> None:
    install(store, release_id)
    store.promote(release_id)
    store.activate(release_id)


def current_text(store: ReleaseStore) -> str:
    return (store.current_link / "app.txt").read_text()


def test_promote_and_activate(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    assert store.current() is None and store.previous() is None
    deploy(store, "d-AAAAAAAAA")
    assert current_text(store) == "d-AAAAAAAAA"
    assert os.readlink(store.current_link) == "releases/d-AAAAAAAAA"
    assert (store.current_link / "latest").is_symlink()  # links are kept as links
    current = store.current()
    assert current is not None and current.id == "d-AAAAAAAAA"
    # incoming is left as the agent installed it (its cleanup removes it next time)
    assert (store.incoming_dir / "app.txt").exists()


def test_previous_and_rollback(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    for rid in ("d-1", "d-2", "d-3"):
        deploy(store, rid)
    prev = store.previous()
    assert prev is not None and prev.id == "d-2"
    before, after = store.rollback()
    assert before is not None and (before.id, after.id) == ("d-3", "d-2")
    assert current_text(store) == "d-2"
    prev = store.previous()
    assert prev is not None and prev.id == "d-1"  # a second rollback goes further back
    store.rollback()
    assert current_text(store) == "d-1"
    with pytest.raises(CheckFailed, match="no previous release"):
        store.rollback()


def test_order_does_not_depend_on_names(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    for rid in ("d-ZZZ", "d-AAA", "d-MMM"):
        deploy(store, rid)
    assert [r.id for r in store.releases()] == ["d-ZZZ", "d-AAA", "d-MMM"]
    prev = store.previous()
    assert prev is not None and prev.id == "d-AAA"


def test_prune_keeps_newest_current_and_previous(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    for i in range(1, 8):
        deploy(store, f"d-{i}")
    store.rollback()  # current d-6, previous d-5; d-7 is newer than current
    removed = store.prune(3)
    assert sorted(r.id for r in removed) == ["d-1", "d-2", "d-3", "d-4"]
    assert [r.id for r in store.releases()] == ["d-5", "d-6", "d-7"]
    # keep=2 with room for the next release: only current and previous survive
    removed = store.prune(2, reserve=1)
    assert [r.id for r in store.releases()] == ["d-5", "d-6"]
    assert current_text(store) == "d-6"


def test_prune_never_removes_current_or_previous(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    for rid in ("d-1", "d-2", "d-3"):
        deploy(store, rid)
    store.activate("d-1")  # an operator switched back by hand
    store.prune(0)
    assert [r.id for r in store.releases()] == ["d-1"]
    deploy(store, "d-4")
    store.prune(0)
    assert [r.id for r in store.releases()] == ["d-1", "d-4"]


def test_prune_removes_a_release_nested_deeper_than_any_limit(tmp_path: Path) -> None:
    """A service wrote 1,500 directory levels into its release: pruning still removes it."""
    store = ReleaseStore(tmp_path)
    for rid in ("d-1", "d-2", "d-3"):
        deploy(store, rid)
    nest(store.releases_dir / "d-1", 1500, leaf=True)
    removed = store.prune(2)
    assert [r.id for r in removed] == ["d-1"]
    assert not (store.releases_dir / "d-1").exists()
    assert [r.id for r in store.releases()] == ["d-2", "d-3"]


def _prune_in_a_process(base: Path, keep: int) -> None:
    """``prune`` as a hook runs it: in its own process, gone when the next one runs."""
    subprocess.run([sys.executable, "-c", "import sys; from hdhooks.instance.releases import "
                    "ReleaseStore; ReleaseStore(sys.argv[1]).prune(int(sys.argv[2]))",
                    str(base), str(keep)], check=True)


def test_prune_leaves_a_mount_inside_a_release_alone(tmp_path: Path) -> None:
    """A service bind-mounted its data disk into an old release: pruning deletes
    nothing on it, the release is no release any more, and once unmounted the
    next deployment's prune removes what is left."""
    store = ReleaseStore(tmp_path)
    for rid in ("d-1", "d-2", "d-3"):
        deploy(store, rid)
    data, point = tmp_path / "data", store.releases_dir / "d-1" / "data"
    data.mkdir()
    (data / "orders.db").write_text("keep")
    point.mkdir()
    with bind_mount(data, point):
        _prune_in_a_process(tmp_path, 2)
        assert [r.id for r in store.releases()] == ["d-2", "d-3"]
        [aside] = [p for p in store.releases_dir.iterdir() if p.name.startswith(".d-1")]
        assert (aside / "data" / "orders.db").read_text() == "keep"
        subprocess.run(["umount", str(aside / "data")], check=True)
    assert (data / "orders.db").read_text() == "keep"
    _prune_in_a_process(tmp_path, 2)
    assert sorted(p.name for p in store.releases_dir.iterdir()) == ["d-2", "d-3"]


def test_a_revision_nested_too_deep_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    install(store, "deep")
    nest(store.incoming_dir, 300, leaf=True)
    with pytest.raises(CheckFailed) as caught:
        store.promote("d-1")
    assert "directories nest more than 256 levels deep" in caught.value.one_line()
    assert store.releases() == []
    assert [p.name for p in store.releases_dir.iterdir()] == []


def test_failed_prepare_leaves_nothing(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    deploy(store, "d-1")
    install(store, "d-2")

    def prepare(work: Path) -> None:
        (work / "conf.yml").write_text("half")
        raise CheckFailed("render failed")

    with pytest.raises(CheckFailed, match="render failed"):
        store.promote("d-2", prepare=prepare)
    assert [r.id for r in store.releases()] == ["d-1"]
    assert sorted(os.listdir(store.releases_dir)) == ["d-1"]
    assert current_text(store) == "d-1"


def test_prepare_runs_in_the_release_before_it_appears(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    install(store, "d-1")
    seen: list[bool] = []

    def prepare(work: Path) -> None:
        seen.append((store.releases_dir / "d-1").exists())
        (work / "conf.yml").write_text("rendered")

    release = store.promote("d-1", prepare=prepare)
    assert seen == [False]
    assert (release.path / "conf.yml").read_text() == "rendered"


def test_promote_again_replaces_a_non_current_release(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    deploy(store, "d-1")
    install(store, "second try")
    store.promote("d-2")
    install(store, "third try")
    store.promote("d-2")
    assert (store.releases_dir / "d-2" / "app.txt").read_text() == "third try"
    with pytest.raises(CheckFailed, match="is the current release"):
        store.promote("d-1")


def test_promote_without_incoming(tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match="nothing to promote"):
        ReleaseStore(tmp_path).promote("d-1")


@pytest.mark.parametrize("bad", ["../etc", "a/b", ".", "..", "", ".hidden"])
def test_release_ids_cannot_escape(tmp_path: Path, bad: str) -> None:
    store = ReleaseStore(tmp_path)
    install(store, "x")
    with pytest.raises(UsageError, match="cannot name a release"):
        store.promote(bad)


def test_stale_work_dirs_are_cleaned(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    deploy(store, "d-1")
    # a promote killed half-way leaves a work dir named after a dead process
    stale = store.releases_dir / ".d-2.hdhooks-tmp-999999999-abcd"
    stale.mkdir()
    (stale / "app.txt").write_text("half")
    assert [r.id for r in store.releases()] == ["d-1"]  # never counted as a release
    store.prune(5)
    assert not stale.exists()


def test_activate_unknown_release(tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match="no release d-9"):
        ReleaseStore(tmp_path).activate("d-9")


@pytest.mark.skipif(os.geteuid() != 0, reason="setting file owners needs root")
def test_owners_set_on_incoming_are_kept(tmp_path: Path) -> None:
    import pwd

    nobody = pwd.getpwnam("nobody")
    store = ReleaseStore(tmp_path)
    install(store, "x")
    for path in (store.incoming_dir / "app.txt", store.incoming_dir / "bin"):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    release = store.promote("d-1")
    assert (release.path / "app.txt").stat().st_uid == nobody.pw_uid
    assert (release.path / "bin").stat().st_gid == nobody.pw_gid
    assert (release.path / "latest").lstat().st_uid == 0
