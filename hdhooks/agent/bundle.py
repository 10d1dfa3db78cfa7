"""DownloadBundle for local revisions: a directory, a .tar, a .tgz or a .zip.

Archives are unpacked keeping modes, times and symlinks (what the agent gets
from ``tar -xpsf`` and ``unzip``); members that would land outside the
destination are refused. When an archive holds a single top-level directory
and the appspec file is inside it, that directory is stripped, as the agent
does. A directory bundle is copied as it is.
"""

from __future__ import annotations

import os
import shutil
import stat
from typing import TYPE_CHECKING

from hdhooks.errors import InputError, UsageError

if TYPE_CHECKING:
    import tarfile
    import zipfile

TYPES = ("tgz", "tar", "zip", "directory")
APPSPEC_NAMES = ("appspec.yml", "appspec.yaml")


def resolve_type(location: str, given: str | None) -> str:
    """The bundle type: ``--type`` when given (checked like codedeploy-local), else guessed.

    codedeploy-local defaults to ``directory`` and fails on a file; hdhooks
    guesses from the name instead (``.tar``, ``.tgz``/``.tar.gz``, ``.zip``).
    """
    if "://" in location:
        raise UsageError(
            f"bundle location {location} is not a local file or directory",
            hint="local deploy takes a directory, .tar, .tgz/.tar.gz or .zip on this machine",
        )
    if not os.path.exists(location):
        raise InputError(
            f"location {location} is specified as a file or directory which does not exist"
        )
    is_dir = os.path.isdir(location)
    if given is None:
        return "directory" if is_dir else guess_type(location)
    if given == "directory" and not is_dir:
        raise InputError(f"location {location} is specified with type directory but it is a file")
    if given != "directory" and is_dir:
        raise InputError(
            f"location {location} is specified as a compressed local file but it is a directory"
        )
    return given


def guess_type(path: str) -> str:
    name = path.lower()
    if name.endswith((".tgz", ".tar.gz")):
        return "tgz"
    if name.endswith(".tar"):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    raise UsageError(
        f"cannot tell the bundle type of {path}",
        hint="name it .tar, .tgz, .tar.gz or .zip, or give --type",
    )


def unpack(location: str, kind: str, dest: str, appspec_filename: str | None) -> None:
    """Unpack or copy the bundle into ``dest`` (which must not exist yet)."""
    if kind == "directory":
        shutil.copytree(location, dest, symlinks=True)
        return
    os.makedirs(dest)
    try:
        if kind == "zip":
            _unzip(location, dest)
        else:
            _untar(location, dest, kind)
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"cannot unpack {location} as {kind}: {exc}") from None
    strip_single_top_dir(dest, appspec_filename)


def _untar(location: str, dest: str, kind: str) -> None:
    import tarfile

    try:
        with tarfile.open(location, "r:gz" if kind == "tgz" else "r:") as tf:
            if hasattr(tarfile, "tar_filter"):
                tf.extractall(dest, filter=_keep_modes)
            else:  # Python < 3.10.12: check the paths ourselves
                for member in tf.getmembers():
                    _safe_name(member.name, location)
                tf.extractall(dest)
    except tarfile.TarError as exc:
        raise InputError(f"cannot unpack {location} as {kind}: {exc}") from None


def _keep_modes(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """tarfile's "tar" filter for its path checks, but with the member's full mode.

    That filter clears setuid/setgid/sticky and group/other write bits;
    ``tar -xpsf`` (what the agent runs) keeps them, and Install copies the
    modes on to the destinations, so a shared ``2775`` directory or a
    ``664`` file must come out of the archive as it went in.
    """
    import tarfile

    checked = tarfile.tar_filter(member, dest)
    if checked.mode is None or member.mode is None:
        return checked
    return checked.replace(mode=member.mode & 0o7777, deep=False)


def _safe_name(name: str, archive: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(f"{archive}: member {name!r} would be written outside the revision")
    return "/".join(parts)


def _unzip(location: str, dest: str) -> None:
    import zipfile

    try:
        zf = zipfile.ZipFile(location)
    except zipfile.BadZipFile as exc:
        raise InputError(f"cannot unpack {location} as zip: {exc}") from None
    with zf:
        dirs: list[tuple[str, zipfile.ZipInfo]] = []
        for info in zf.infolist():
            rel = _safe_name(info.filename, location)
            if not rel:
                continue
            target = os.path.join(dest, rel)
            mode = info.external_attr >> 16
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                dirs.append((target, info))
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if stat.S_ISLNK(mode):
                os.symlink(zf.read(info).decode("utf-8"), target)
                continue
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            _zip_meta(target, info, mode)
        for target, info in reversed(dirs):
            _zip_meta(target, info, info.external_attr >> 16)


def _zip_meta(target: str, info: zipfile.ZipInfo, mode: int) -> None:
    """Mode and time as unzip restores them (mode only when the zip recorded one)."""
    import time

    if mode & 0o7777:
        os.chmod(target, mode & 0o7777)
    stamp = time.mktime((*info.date_time, 0, 0, -1))
    os.utime(target, (stamp, stamp))


def strip_single_top_dir(dest: str, appspec_filename: str | None) -> bool:
    """Move the contents of a lone top-level directory up when it holds the appspec."""
    names = (appspec_filename,) if appspec_filename else APPSPEC_NAMES
    if any(os.path.lexists(os.path.join(dest, n)) for n in names):
        return False
    entries = os.listdir(dest)
    if len(entries) != 1:
        return False
    top = os.path.join(dest, entries[0])
    if os.path.islink(top) or not os.path.isdir(top):
        return False
    if not any(os.path.lexists(os.path.join(top, n)) for n in names):
        return False
    tmp = os.path.join(dest, ".hdhooks-strip")
    os.rename(top, tmp)
    for name in os.listdir(tmp):
        os.rename(os.path.join(tmp, name), os.path.join(dest, name))
    os.rmdir(tmp)
    return True
