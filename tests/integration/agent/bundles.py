"""Building real bundles (directories and archives) and running real deployments."""

from __future__ import annotations

import os
import subprocess
import tarfile
import textwrap
import zipfile
from pathlib import Path


def make_bundle(
    where: Path,
    appspec: str,
    scripts: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    appspec_name: str = "appspec.yml",
) -> Path:
    """A bundle directory: ``appspec`` text, executable ``scripts``, plain ``files``."""
    where.mkdir(parents=True, exist_ok=True)
    (where / appspec_name).write_text(textwrap.dedent(appspec).lstrip())
    for rel, body in (scripts or {}).items():
        p = where / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(body).lstrip())
        p.chmod(0o755)
    for rel, body in (files or {}).items():
        p = where / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body)
    return where


def archive(src: Path, kind: str, out: Path, top: str | None = None) -> Path:
    """Pack ``src`` as tar/tgz/zip; ``top`` puts everything under one directory."""
    prefix = f"{top}/" if top else ""
    if kind in ("tar", "tgz"):
        with tarfile.open(out, "w:gz" if kind == "tgz" else "w") as tf:
            for path in sorted(src.rglob("*")):
                tf.add(path, arcname=prefix + str(path.relative_to(src)), recursive=False)
        return out
    with zipfile.ZipFile(out, "w") as zf:
        for path in sorted(src.rglob("*")):
            name = prefix + str(path.relative_to(src))
            info = zipfile.ZipInfo(name + ("/" if path.is_dir() and not path.is_symlink() else ""))
            st = os.lstat(path)
            info.external_attr = st.st_mode << 16
            if path.is_symlink():
                zf.writestr(info, os.readlink(path))
            elif path.is_dir():
                zf.writestr(info, b"")
            else:
                zf.writestr(info, path.read_bytes())
    return out


def deploy(hdhooks: str, *args: str | Path, timeout: float = 60,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``hdhooks local deploy ARGS`` as a user would run it."""
    return subprocess.run(
        [hdhooks, "local", "deploy", *map(str, args)],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
