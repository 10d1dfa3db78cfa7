"""The Install step: file_exists_behavior, duplicates, permissions."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.agent.bundles import deploy, make_bundle

GROUP = "default-local-deployment-group"


def _bundle(tmp: Path, dest: Path, behavior: str = "") -> Path:
    line = f"file_exists_behavior: {behavior}\n" if behavior else ""
    return make_bundle(
        tmp / "b",
        f"version: 0.0\nos: linux\n{line}files:\n  - source: app\n    destination: {dest}\n",
        files={"app/conf.ini": "new", "app/fresh.txt": "fresh"},
    )


@pytest.mark.parametrize("behavior", ["DISALLOW", "OVERWRITE", "RETAIN"])
def test_file_exists_behavior(hdhooks_bin: str, tmp_path: Path, behavior: str) -> None:
    dest, root = tmp_path / "dest", tmp_path / "root"
    dest.mkdir()
    (dest / "conf.ini").write_text("mine")
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path, dest), "--root", root,
               "--file-exists-behavior", behavior.lower())
    cleanup = root / "deployment-instructions" / f"{GROUP}-cleanup"
    if behavior == "DISALLOW":
        assert r.returncode == 1
        assert ("The deployment failed because a specified file already exists at this "
                f"location: {dest}/conf.ini") in r.stderr
        assert not (dest / "fresh.txt").exists()  # nothing was copied
        assert (dest / "conf.ini").read_text() == "mine"
        return
    assert r.returncode == 0, r.stderr
    assert (dest / "fresh.txt").read_text() == "fresh"
    entries = cleanup.read_text().splitlines()
    if behavior == "OVERWRITE":
        assert (dest / "conf.ini").read_text() == "new"
        assert str(dest / "conf.ini") in entries
    else:
        assert (dest / "conf.ini").read_text() == "mine"
        assert str(dest / "conf.ini") not in entries


def test_appspec_behavior_wins_over_the_option(hdhooks_bin: str, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "conf.ini").write_text("mine")
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path, dest, "RETAIN"), "--root",
               tmp_path / "root", "--file-exists-behavior", "DISALLOW")
    assert r.returncode == 0, r.stderr
    assert (dest / "conf.ini").read_text() == "mine"


def test_directory_chain_and_cleanup(hdhooks_bin: str, tmp_path: Path) -> None:
    dest, root = tmp_path / "a" / "b" / "c", tmp_path / "root"
    bundle = make_bundle(
        tmp_path / "b",
        f"version: 0.0\nos: linux\nfiles:\n  - source: one.txt\n    destination: {dest}\n"
        f"  - source: two.txt\n    destination: {dest}\n",
        files={"one.txt": "1", "two.txt": "2"},
    )
    r = deploy(hdhooks_bin, "-l", bundle, "--root", root)
    assert r.returncode == 0, r.stderr
    entries = (root / "deployment-instructions" / f"{GROUP}-cleanup").read_text().splitlines()
    assert entries == [str(tmp_path / "a"), str(tmp_path / "a" / "b"), str(dest),
                       str(dest / "one.txt"), str(dest / "two.txt")]
    install = json.loads((root / "deployment-instructions" / f"{GROUP}-install.json")
                         .read_text())
    assert install["instructions"][0] == {"type": "mkdir", "directory": str(tmp_path / "a")}


def test_two_sources_for_one_destination(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = make_bundle(
        tmp_path / "b",
        f"version: 0.0\nos: linux\nfiles:\n  - source: x/f.txt\n    destination: {tmp_path}/d\n"
        f"  - source: y/f.txt\n    destination: {tmp_path}/d\n",
        files={"x/f.txt": "1", "y/f.txt": "2"},
    )
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert r.returncode == 1
    assert "specifies two source files named" in r.stderr
    assert not (tmp_path / "d").exists()


def test_file_onto_a_directory_the_install_creates(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = make_bundle(
        tmp_path / "b",
        f"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: {tmp_path}/d\n"
        f"  - source: other/conf\n    destination: {tmp_path}/d\n",
        files={"app/conf/main.ini": "1", "other/conf": "2"},
    )
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert r.returncode == 1
    assert (f"calls for installing the file {tmp_path}/root/") in r.stderr
    assert f"but a file with that name already exists at the location ({tmp_path}/d/conf)" \
        in r.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was copied


def test_mode_with_pattern_and_except(hdhooks_bin: str, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    bundle = make_bundle(
        tmp_path / "b",
        f"""
        version: 0.0
        os: linux
        files:
          - source: app
            destination: {dest}
        permissions:
          - object: {dest}
            pattern: "*.sh"
            except: [keep.sh]
            mode: "750"
            type: [file]
          - object: {dest}/sub
            mode: "700"
            type: [directory]
        """,
        files={"app/run.sh": "", "app/keep.sh": "", "app/data.txt": "", "app/sub/x/y.txt": ""},
    )
    os.chmod(bundle / "app" / "keep.sh", 0o644)
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert r.returncode == 0, r.stderr

    def mode(p: Path) -> int:
        return p.stat().st_mode & 0o777

    assert mode(dest / "run.sh") == 0o750
    assert mode(dest / "keep.sh") == 0o644
    assert mode(dest / "data.txt") == 0o644
    assert mode(dest / "sub" / "x") == 0o700  # ** matches every descendant directory
    assert mode(dest / "sub") != 0o700  # never the object itself


def test_selinux_context_without_semanage_warns(hdhooks_bin: str, tmp_path: Path) -> None:
    import shutil

    if shutil.which("semanage"):
        pytest.skip("semanage is installed here: the context would really be applied")
    dest = tmp_path / "dest"
    bundle = make_bundle(
        tmp_path / "b",
        f"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: {dest}\n"
        f"permissions:\n  - object: {dest}\n    context:\n      type: httpd_sys_content_t\n",
        files={"app/index.html": "<p>"},
    )
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert r.returncode == 0, r.stderr
    assert f"warning: SELinux context for {dest}/index.html not applied" in r.stderr


@pytest.mark.parametrize("kind", ["directory", "tgz"])
def test_small_and_large_files_install_byte_for_byte(hdhooks_bin: str, tmp_path: Path,
                                                      kind: str) -> None:
    """Files below 1 MiB are copied, larger ones may share blocks: either way each
    installed file holds its bytes, its mode and its time, and a second
    deployment replaces them all."""
    dest, root = tmp_path / "dest", tmp_path / "root"
    sizes = {"empty": 0, "one": 1, "under": (1 << 20) - 1, "at": 1 << 20,
             "over": (3 << 20) + 7}
    bundle = make_bundle(tmp_path / "b", f"version: 0.0\nos: linux\nfiles:\n"
                         f"  - source: app\n    destination: {dest}\n"
                         "file_exists_behavior: OVERWRITE\n")
    (bundle / "app").mkdir()
    for round_ in (1, 2):
        for i, (name, size) in enumerate(sizes.items()):
            path = bundle / "app" / name
            path.write_bytes(os.urandom(size))
            path.chmod(0o640 if i % 2 else 0o755)
            os.utime(path, ns=(1_600_000_000_000_000_000 + i, 1_500_000_000_123_456_789 + i))
        location = bundle
        if kind == "tgz":
            location = tmp_path / f"b{round_}.tgz"
            subprocess.run(["tar", "-czf", location, "-C", bundle, "."], check=True)
        r = deploy(hdhooks_bin, "-l", location, "--root", root)
        assert r.returncode == 0, r.stderr
        for i, name in enumerate(sizes):
            got, want = dest / name, bundle / "app" / name
            assert got.read_bytes() == want.read_bytes(), name
            st = got.stat()
            assert st.st_mode & 0o7777 == (0o640 if i % 2 else 0o755), name
            # a tar header keeps whole seconds
            assert st.st_mtime_ns == (want.stat().st_mtime_ns if kind == "directory"
                                      else 1_500_000_000 * 10**9), name
