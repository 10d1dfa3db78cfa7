"""What scripts reading codedeploy-local's output rely on; DownloadBundle unpacks archives."""

from __future__ import annotations

import io
import os
import re
import tarfile
from pathlib import Path

import pytest

from tests.integration.agent.bundles import archive, deploy, make_bundle

GROUP = "default-local-deployment-group"
APPSPEC = """
version: 0.0
os: linux
files:
  - source: app
    destination: {dest}
hooks:
  BeforeInstall:
    - location: scripts/check.sh
"""


def _bundle(tmp: Path, dest: Path, script: str = "#!/bin/sh\nexit 0\n") -> Path:
    return make_bundle(tmp / "src", APPSPEC.format(dest=dest),
                       scripts={"scripts/check.sh": script},
                       files={"app/a.txt": "a", "app/sub/b.txt": "b"})


@pytest.mark.parametrize("kind", ["directory", "tgz", "zip"])
def test_agent_lines_name_the_deployment_folder(hdhooks_bin: str, tmp_path: Path,
                                                kind: str) -> None:
    src = _bundle(tmp_path, tmp_path / "dest")
    location = src if kind == "directory" else archive(src, kind, tmp_path / f"b.{kind}")
    root = tmp_path / "root"
    r = deploy(hdhooks_bin, "-l", location, "--root", root)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    first = re.fullmatch(r"Starting to execute deployment from within folder (.+)", lines[0])
    assert first, lines[0]
    folder = Path(first.group(1))
    assert folder.parent == root / GROUP and re.fullmatch(r"d-[A-Z0-9]{9}-local", folder.name)
    assert lines[-1] == f"See the deployment log at {folder}/logs/scripts.log for more details"
    assert (folder / "logs" / "scripts.log").is_file()
    assert (folder / "deployment-archive" / "app" / "sub" / "b.txt").read_text() == "b"
    assert (tmp_path / "dest" / "sub" / "b.txt").read_text() == "b"
    assert not [p for p in (root / GROUP).iterdir() if p.name.startswith(".staging")]


def test_failed_script_line_and_log_pointer(hdhooks_bin: str, tmp_path: Path) -> None:
    src = _bundle(tmp_path, tmp_path / "dest", "#!/bin/sh\nexit 3\n")
    r = deploy(hdhooks_bin, "-l", archive(src, "tgz", tmp_path / "b.tgz"),
               "--root", tmp_path / "root")
    assert r.returncode == 1
    folder = r.stdout.splitlines()[0].rsplit(" ", 1)[1]
    assert (f"Your local deployment failed while trying to execute your script at "
            f"{folder}/deployment-archive/scripts/check.sh") in r.stdout.splitlines()
    assert r.stdout.splitlines()[-1].startswith(f"See the deployment log at {folder}/logs/")


def _tgz(members: list[tuple[str, str]]) -> bytes:
    """(name, symlink target or file content prefixed with '=') members."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, what in members:
            info = tarfile.TarInfo(name)
            if what.startswith("="):
                data = what[1:].encode()
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                info.type, info.linkname = tarfile.SYMTYPE, what
                tf.addfile(info)
    return buf.getvalue()


def test_link_leaving_the_stripped_top_directory_is_refused(hdhooks_bin: str,
                                                            tmp_path: Path) -> None:
    # inside the archive, top/up -> .. stays inside; once top/ is stripped it would not
    bundle = tmp_path / "b.tgz"
    bundle.write_bytes(_tgz([("top/appspec.yml", "=version: 0.0\nos: linux\n"),
                             ("top/up", ".."), ("top/self", ".")]))
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert r.returncode == 2, r.stdout + r.stderr
    errors = [ln for ln in r.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and "member 'top/up' refused" in errors[0], r.stderr
    assert "points outside 'top'" in errors[0]
    group = tmp_path / "root" / GROUP
    assert not group.exists() or not [p for p in group.iterdir()
                                      if not p.name.startswith(".staging")]


def test_stripped_top_directory_keeps_links_inside_it(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = tmp_path / "b.tgz"
    bundle.write_bytes(_tgz([("top/appspec.yml", "=version: 0.0\nos: linux\n"),
                             ("top/a.txt", "=a"), ("top/self", "."), ("top/l", "a.txt"),
                             ("top/.hdhooks-strip", "=named like the old temporary")]))
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert r.returncode == 0, r.stderr
    folder = Path(r.stdout.splitlines()[0].rsplit(" ", 1)[1])
    archive_dir = folder / "deployment-archive"
    assert sorted(os.listdir(archive_dir)) == [".hdhooks-strip", "a.txt", "appspec.yml", "l",
                                               "self"]
    assert (archive_dir / "l").read_text() == "a"
    assert os.readlink(archive_dir / "self") == "."
