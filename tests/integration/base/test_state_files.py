"""Lock files, deployment roots and the config cache against planted links and umask 000."""

from __future__ import annotations

import marshal
import os
import subprocess
from pathlib import Path

from hdhooks.config import cache
from tests.integration.agent.bundles import make_bundle

APPSPEC = "version: 0.0\nos: linux\n"
GROUP_ID = "default-local-deployment-group"


def _deploy_umask(hdhooks: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``hdhooks local deploy`` run under umask 000."""
    return subprocess.run(
        [hdhooks, "local", "deploy", *map(str, args)], capture_output=True, text=True,
        timeout=60, preexec_fn=lambda: os.umask(0),
    )


def test_symlinked_group_lock_leaves_its_target_intact(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", APPSPEC)
    root = tmp_path / "root"
    (root / "deployment-instructions").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (root / "deployment-instructions" / f"{GROUP_ID}.lock").symlink_to(victim)
    r = subprocess.run([hdhooks_bin, "local", "deploy", "-l", str(bundle), "--root", str(root)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert victim.read_text() == "precious\n"
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "is a symbolic link, which hdhooks does not follow here" in lines[0]


def test_umask_000_root_directories_are_not_world_writable(hdhooks_bin: str,
                                                           tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", APPSPEC)
    root = tmp_path / "root"
    r = _deploy_umask(hdhooks_bin, "-l", bundle, "--root", root)
    assert r.returncode == 0, r.stderr
    for d in (root, root / GROUP_ID, root / "deployment-instructions",
              root / "deployment-logs", root / "ongoing-deployment"):
        assert d.stat().st_mode & 0o7777 == 0o755, d
    lock = root / "deployment-instructions" / f"{GROUP_ID}.lock"
    assert lock.stat().st_mode & 0o022 == 0


def test_world_writable_root_is_refused(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", APPSPEC)
    root = tmp_path / "root"
    root.mkdir()
    root.chmod(0o777)
    r = subprocess.run([hdhooks_bin, "local", "deploy", "-l", str(bundle), "--root", str(root)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert f"{root}: writable by other users (mode 0777)" in r.stderr
    assert list(root.iterdir()) == []


def test_cache_under_umask_000_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "cache"
    entry = directory / "config-x.marshal"
    old = os.umask(0)
    try:
        cache._write(str(entry), {"top": {}})
    finally:
        os.umask(old)
    assert directory.stat().st_mode & 0o7777 == 0o700
    assert entry.stat().st_mode & 0o7777 == 0o600


def test_cache_refuses_an_entry_others_can_write(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    entry = directory / "config-x.marshal"
    entry.write_bytes(marshal.dumps({"env_source": "x"}))
    entry.chmod(0o666)
    assert cache._read(str(entry)) is None
