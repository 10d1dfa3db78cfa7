"""Undoing the previous install: what is renamed aside, what stays, what a killed run leaves.

A directory the last Install made, holding only what it made, is renamed to
``.<name>.<random>.hdhooks-old`` beside it and deleted once the new files are in place;
anything else is removed entry by entry, as the agent does.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.agent.bundles import deploy, make_bundle
from tests.support.trees import nest

GROUP = "default-local-deployment-group"


def _bundle(where: Path, dest: Path, files: dict[str, str]) -> Path:
    return make_bundle(where, "version: 0.0\nos: linux\nfiles:\n"
                       f"  - source: app\n    destination: {dest}\n",
                       files={f"app/{k}": v for k, v in files.items()})


def _tree(where: Path) -> dict[str, str]:
    return {str(p.relative_to(where)): p.read_text() for p in sorted(where.rglob("*"))
            if p.is_file()}


def test_redeploy_replaces_the_tree_and_leaves_nothing_aside(hdhooks_bin: str,
                                                               tmp_path: Path) -> None:
    dest, root = tmp_path / "site" / "dest", tmp_path / "root"
    v1 = _bundle(tmp_path / "v1", dest, {"sub/a.txt": "1", "old.txt": "old", "x/y/z.txt": "z"})
    v2 = _bundle(tmp_path / "v2", dest, {"sub/a.txt": "2", "new.txt": "new"})
    assert deploy(hdhooks_bin, "-l", v1, "--root", root).returncode == 0
    r = deploy(hdhooks_bin, "-l", v2, "--root", root, "-b", "DISALLOW")
    assert r.returncode == 0, r.stderr
    assert _tree(dest) == {"sub/a.txt": "2", "new.txt": "new"}
    assert sorted(os.listdir(tmp_path / "site")) == ["dest"]  # nothing set aside is left
    assert sorted(os.listdir(tmp_path)) == ["root", "site", "v1", "v2"]
    instr = root / "deployment-instructions"
    assert not (instr / f"{GROUP}-cleanup-aside").exists()
    entries = (instr / f"{GROUP}-cleanup").read_text().splitlines()
    assert entries == [str(tmp_path / "site"), str(dest), str(dest / "new.txt"),
                       str(dest / "sub"), str(dest / "sub" / "a.txt")]


def test_someone_elses_file_keeps_its_directory(hdhooks_bin: str, tmp_path: Path) -> None:
    dest, root = tmp_path / "dest", tmp_path / "root"
    v1 = _bundle(tmp_path / "v1", dest, {"sub/a.txt": "1", "b.txt": "b"})
    assert deploy(hdhooks_bin, "-l", v1, "--root", root).returncode == 0
    (dest / "sub" / "uploaded.bin").write_text("theirs")
    before = os.stat(dest / "sub").st_ino
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path / "v2", dest, {"b.txt": "b2"}),
               "--root", root)
    assert r.returncode == 0, r.stderr
    assert _tree(dest) == {"b.txt": "b2", "sub/uploaded.bin": "theirs"}
    assert os.stat(dest / "sub").st_ino == before  # the same directory, never moved
    assert not list(tmp_path.glob(".*hdhooks-old"))


def test_a_directory_named_like_an_aside_one_is_not_touched(hdhooks_bin: str,
                                                            tmp_path: Path) -> None:
    dest, root = tmp_path / "dest", tmp_path / "root"
    v1 = _bundle(tmp_path / "v1", dest, {"a.txt": "1"})
    assert deploy(hdhooks_bin, "-l", v1, "--root", root).returncode == 0
    taken = tmp_path / ".dest.hdhooks-old"
    taken.mkdir()
    (taken / "notes").write_text("mine")
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path / "v2", dest, {"a.txt": "2"}),
               "--root", root)
    assert r.returncode == 0, r.stderr
    assert _tree(dest) == {"a.txt": "2"}
    assert (taken / "notes").read_text() == "mine"


def test_what_a_killed_run_set_aside_goes_with_the_next_run(hdhooks_bin: str,
                                                            tmp_path: Path) -> None:
    dest, root = tmp_path / "dest", tmp_path / "root"
    v1 = _bundle(tmp_path / "v1", dest, {"a.txt": "1"})
    assert deploy(hdhooks_bin, "-l", v1, "--root", root).returncode == 0
    # what a run killed between the rename and the deletion leaves
    aside = tmp_path / ".dest.hdhooks-old"
    (aside / "dest").mkdir(parents=True)
    (aside / "dest" / "a.txt").write_text("1")
    listing = root / "deployment-instructions" / f"{GROUP}-cleanup-aside"
    listing.write_text(f"{aside}\n{aside}/dest\n{aside}/dest/a.txt\n")
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path / "v2", dest, {"a.txt": "2"}),
               "--root", root)
    assert r.returncode == 0, r.stderr
    assert not aside.exists() and not listing.exists()
    assert _tree(dest) == {"a.txt": "2"}


def test_an_aside_directory_a_killed_run_only_made_goes_too(hdhooks_bin: str,
                                                            tmp_path: Path) -> None:
    """Killed after making the aside directory, before listing what goes in it."""
    dest, root = tmp_path / "dest", tmp_path / "root"
    assert deploy(hdhooks_bin, "-l", _bundle(tmp_path / "v1", dest, {"a.txt": "1"}),
                  "--root", root).returncode == 0
    aside = tmp_path / ".dest.0badc0de.hdhooks-old"
    aside.mkdir(0o700)
    listing = root / "deployment-instructions" / f"{GROUP}-cleanup-aside"
    listing.write_text(f"{aside}\n")
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path / "v2", dest, {"a.txt": "2"}),
               "--root", root)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["dest", "root", "v1", "v2"]
    assert _tree(dest) == {"a.txt": "2"}


def test_what_the_set_aside_tree_gained_since_is_kept(hdhooks_bin: str,
                                                     tmp_path: Path) -> None:
    """Only the entries the last install made are deleted from a set-aside tree: what
    was put in it after it was judged (through a directory still open in it, or by a
    run killed before the deletion) stays, as the agent's removal would keep it."""
    dest, root = tmp_path / "dest", tmp_path / "root"
    v1 = _bundle(tmp_path / "v1", dest, {"sub/a.txt": "1"})
    assert deploy(hdhooks_bin, "-l", v1, "--root", root).returncode == 0
    aside = tmp_path / ".dest.hdhooks-old"
    (aside / "dest" / "sub" / "data").mkdir(parents=True)
    (aside / "dest" / "sub" / "a.txt").write_text("1")
    (aside / "dest" / "sub" / "data" / "db").write_text("theirs")
    (aside / "dest" / "keep.txt").write_text("theirs too")
    aside.chmod(0o700)
    listing = root / "deployment-instructions" / f"{GROUP}-cleanup-aside"
    listing.write_text("".join(f"{aside}{p}\n" for p in ("", "/dest", "/dest/sub",
                                                           "/dest/sub/a.txt")))
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path / "v2", dest, {"a.txt": "2"}),
               "--root", root)
    assert r.returncode == 0, r.stderr
    assert _tree(dest) == {"a.txt": "2"}
    assert _tree(aside) == {"dest/sub/data/db": "theirs", "dest/keep.txt": "theirs too"}
    assert f"could not delete {aside}" in r.stdout + r.stderr
    assert not listing.exists()


def test_a_vanished_parent_of_the_last_install_is_no_failure(hdhooks_bin: str,
                                                             tmp_path: Path) -> None:
    """The directory above what the last install made is gone: nothing to undo there,
    and the new install goes ahead, as with the agent's removal."""
    dest, root = tmp_path / "p" / "site" / "dest", tmp_path / "root"
    (tmp_path / "p").mkdir()
    v1 = _bundle(tmp_path / "v1", dest, {"a.txt": "1"})
    assert deploy(hdhooks_bin, "-l", v1, "--root", root).returncode == 0
    (dest / "a.txt").unlink()
    for d in (dest, dest.parent, dest.parent.parent):
        d.rmdir()
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path / "v2", dest, {"a.txt": "2"}),
               "--root", root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _tree(dest) == {"a.txt": "2"}


def test_a_new_file_named_like_the_aside_directory_installs(hdhooks_bin: str,
                                                            tmp_path: Path) -> None:
    """The directory set aside never takes a name the new revision installs."""
    dest, root = tmp_path / "dest", tmp_path / "root"
    v1 = _bundle(tmp_path / "v1", dest, {"a.txt": "1"})
    assert deploy(hdhooks_bin, "-l", v1, "--root", root).returncode == 0
    v2 = make_bundle(tmp_path / "v2", "version: 0.0\nos: linux\nfiles:\n"
                     f"  - source: app\n    destination: {dest}\n"
                     f"  - source: beside\n    destination: {tmp_path}\n",
                     files={"app/a.txt": "2", "beside/.dest.hdhooks-old": "mine"})
    r = deploy(hdhooks_bin, "-l", v2, "--root", root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _tree(dest) == {"a.txt": "2"}
    assert (tmp_path / ".dest.hdhooks-old").read_text() == "mine"
    assert not list(tmp_path.glob(".dest.*.hdhooks-old"))


def test_a_name_with_a_newline_cannot_forge_a_cleanup_entry(hdhooks_bin: str,
                                                            tmp_path: Path) -> None:
    """The cleanup file holds one path a line: a bundle's name with a newline in it
    would add a line naming any file on the machine, for the next deployment to
    delete as root. Install refuses such a name."""
    victim = tmp_path / "victim"
    victim.write_text("not the bundle's")
    dest, root = tmp_path / "dest", tmp_path / "root"
    v1 = _bundle(tmp_path / "v1", dest, {"ok.txt": "1"})
    forged = tmp_path / "v1" / "app" / "x\n" / str(victim).lstrip("/")
    forged.parent.mkdir(parents=True)
    forged.write_text("x")
    r = deploy(hdhooks_bin, "-l", v1, "--root", root)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "newline" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (dest / "x\n").exists()
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path / "v2", dest, {"a.txt": "2"}),
               "--root", root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert victim.read_text() == "not the bundle's"


def test_a_name_ending_in_a_space_does_not_stand_for_another(hdhooks_bin: str,
                                                             tmp_path: Path) -> None:
    """A cleanup entry is the exact name the install made: ``conf `` (with its space)
    goes, the ``conf`` someone else put beside it stays."""
    dest, root = tmp_path / "etc", tmp_path / "root"
    dest.mkdir()
    (dest / "conf").write_text("theirs")
    v1 = _bundle(tmp_path / "v1", dest, {"conf ": "1", "conf\t": "2"})
    assert deploy(hdhooks_bin, "-l", v1, "--root", root).returncode == 0
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path / "v2", dest, {"a.txt": "2"}),
               "--root", root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _tree(dest) == {"a.txt": "2", "conf": "theirs"}


def test_a_mount_point_inside_stays_where_it_is(hdhooks_bin: str, tmp_path: Path) -> None:
    """A bind mount of the same filesystem on a directory the last install made is not
    carried aside with its tree: it stays mounted in the destination, as with the
    agent's removal."""
    dest, root = tmp_path / "dest", tmp_path / "root"
    v1 = _bundle(tmp_path / "v1", dest, {"sub/a.txt": "1"})
    assert deploy(hdhooks_bin, "-l", v1, "--root", root).returncode == 0
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "a.txt").write_text("1")
    if subprocess.run(["mount", "--bind", str(shared), str(dest / "sub")],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        r = deploy(hdhooks_bin, "-l", _bundle(tmp_path / "v2", dest, {"sub/b.txt": "2"}),
                   "--root", root)
        assert str(dest / "sub") in _mounted()
        assert r.returncode == 0, r.stdout + r.stderr
        assert _tree(shared) == {"b.txt": "2"}
        assert not list(tmp_path.glob(".dest.*"))
    finally:
        for point in reversed(_mounted()):
            if point.startswith(f"{tmp_path}/"):
                subprocess.run(["umount", point], check=False)


def _mounted() -> list[str]:
    """Mount points (os.path.ismount misses a bind mount of the same filesystem)."""
    with open("/proc/self/mountinfo") as fh:
        return [line.split()[4] for line in fh.read().splitlines()]


def _deploy_with_listing(hdhooks_bin: str, tmp_path: Path,
                         listing: str) -> subprocess.CompletedProcess[str]:
    """A first deployment on a root whose aside listing says ``listing``."""
    root = tmp_path / "root"
    (root / "deployment-instructions").mkdir(parents=True)
    (root / "deployment-instructions" / f"{GROUP}-cleanup-aside").write_text(listing)
    return deploy(hdhooks_bin, "-l", _bundle(tmp_path / "v1", tmp_path / "dest", {"a.txt": "1"}),
                  "--root", root)


def test_a_listed_path_that_is_not_an_aside_directory_is_left(hdhooks_bin: str,
                                                             tmp_path: Path) -> None:
    """A hand-edited or forged listing cannot make hdhooks delete something else."""
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "data").write_text("keep")
    link = tmp_path / ".evil.hdhooks-old"
    link.symlink_to(keep)
    r = _deploy_with_listing(hdhooks_bin, tmp_path, f"{keep}\n{link}\n")
    assert r.returncode == 0, r.stderr
    assert (keep / "data").read_text() == "keep" and link.is_symlink()


def test_a_listed_entry_cannot_climb_out_of_its_aside_directory(hdhooks_bin: str,
                                                                tmp_path: Path) -> None:
    """An entry under a set-aside directory naming ``..`` (a hand edit) is left."""
    victim = tmp_path / "victim"
    victim.write_text("keep")
    aside = tmp_path / ".dest.0.hdhooks-old"
    aside.mkdir(mode=0o700)
    r = _deploy_with_listing(hdhooks_bin, tmp_path, f"{aside}\n{aside}/../victim\n")
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "keep"
    assert not aside.exists()


def test_a_planted_link_inside_is_removed_not_followed(hdhooks_bin: str,
                                                       tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    dest, root = tmp_path / "dest", tmp_path / "root"
    v1 = _bundle(tmp_path / "v1", dest, {"sub/a.txt": "1"})
    assert deploy(hdhooks_bin, "-l", v1, "--root", root).returncode == 0
    (dest / "sub" / "a.txt").unlink()
    (dest / "sub" / "a.txt").symlink_to(outside / "keep")  # a made name, now a link
    r = deploy(hdhooks_bin, "-l", v1, "--root", root)
    assert r.returncode == 0, r.stderr
    assert (outside / "keep").read_text() == "keep"
    assert not (dest / "sub" / "a.txt").is_symlink()


def test_old_deployments_go_after_the_last_event(hdhooks_bin: str, tmp_path: Path) -> None:
    """Retention runs once the deployment has ended and never takes the one that ran,
    even when it failed and only one revision is kept."""
    dest, root = tmp_path / "dest", tmp_path / "root"
    good = _bundle(tmp_path / "good", dest, {"a.txt": "1"})
    bad = make_bundle(tmp_path / "bad", "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n"
                      "    - location: fail.sh\n", scripts={"fail.sh": "#!/bin/sh\nexit 3\n"})
    for _ in range(2):
        assert deploy(hdhooks_bin, "-l", good, "--root", root).returncode == 0
    r = deploy(hdhooks_bin, "-l", bad, "--root", root, "--max-revisions", "1")
    assert r.returncode == 1
    assert "Removed 1 old deployment(s) beyond --max-revisions 1" in r.stdout
    group = root / GROUP
    names = sorted(p.name for p in group.iterdir() if not p.name.startswith("."))
    last = (root / "deployment-instructions" / f"{GROUP}_last_successful_install").read_text()
    failed = r.stdout.split("within folder ", 1)[1].split("\n", 1)[0]
    assert sorted([os.path.basename(last), os.path.basename(failed)]) == names
    assert (Path(failed) / "logs" / "scripts.log").is_file()


def test_an_old_deployment_nested_deeper_than_any_limit_is_removed_by_retention(
        hdhooks_bin: str, tmp_path: Path) -> None:
    """An old deployment holding a tree 1,500 levels deep (left by a hook, say) is
    removed as an old deployment like any other: no internal error, nothing left."""
    root = tmp_path / "root"
    good = _bundle(tmp_path / "good", tmp_path / "dest", {"a.txt": "1"})
    r = deploy(hdhooks_bin, "-l", good, "--root", root)
    assert r.returncode == 0, r.stdout + r.stderr
    first = Path(r.stdout.split("within folder ", 1)[1].split("\n", 1)[0])
    nest(first, 1500)
    for _ in range(2):
        r = deploy(hdhooks_bin, "-l", good, "--root", root, "--max-revisions", "1")
        assert r.returncode == 0, r.stdout + r.stderr
    assert not first.exists()
    assert _tree(tmp_path / "dest") == {"a.txt": "1"}
