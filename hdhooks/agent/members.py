"""Writing checked archive members into the private staging directory.

The members reaching here passed :class:`hdhooks.agent.archive.Checker`: no
name leaves the root, none goes through a link the archive made. Writing
still never follows a link (files are created ``O_EXCL | O_NOFOLLOW``) and
never writes more bytes than the header declared. Directories the archive
implies are made one level at a time; listed directories get their modes
and times last, deepest first, as ``tar`` and ``unzip`` do.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable


def destination(dest: str, rel: str, strip: str) -> str | None:
    """Where member ``rel`` goes under ``dest``; None for the stripped top directory."""
    if strip:
        if rel == strip:
            return None
        rel = rel[len(strip) + 1:]
    return os.path.join(dest, rel)


class Owners:
    """uid/gid by name, each name looked up once (``tar -p`` as root)."""

    def __init__(self) -> None:
        self.root = os.geteuid() == 0
        self._ids: dict[tuple[str, str], int | None] = {}

    def ids(self, uname: str, uid: int, gname: str, gid: int) -> tuple[int, int]:
        return self._id("u", uname, uid), self._id("g", gname, gid)

    def _id(self, what: str, name: str, default: int) -> int:
        if not name:
            return default
        key = (what, name)
        if key not in self._ids:
            import grp
            import pwd

            try:
                self._ids[key] = (pwd.getpwnam(name).pw_uid if what == "u"
                                  else grp.getgrnam(name).gr_gid)
            except KeyError:
                self._ids[key] = None
        found = self._ids[key]
        return default if found is None else found


class Dirs:
    """Directories made while unpacking: their parents are never looked at again,
    and their modes and times are set last, deepest first."""

    def __init__(self, dest: str, mode: int = 0o700) -> None:
        self.mode = mode  # a listed directory's mode until its own is set (zip: umask's)
        self.made: set[str] = {dest}
        self.pending: list[tuple[str, object]] = []

    def parent(self, path: str) -> None:
        """Make the directories the archive implies but does not list (the checks
        ruled out links on the way), one level at a time however deep."""
        missing = []
        parent = os.path.dirname(path)
        while parent not in self.made:
            missing.append(parent)
            above = os.path.dirname(parent)
            if above == parent:
                raise RuntimeError(f"{path} is not under the extraction root")
            parent = above
        for directory in reversed(missing):
            try:
                os.mkdir(directory, 0o755)
            except FileExistsError:
                if not os.path.isdir(directory) or os.path.islink(directory):
                    raise
            self.made.add(directory)

    def member(self, path: str, replaces: bool, info: object) -> None:
        if replaces and (os.path.islink(path) or not os.path.isdir(path)):
            clear(path)
        if path not in self.made:
            if not replaces or not os.path.isdir(path):
                os.mkdir(path, self.mode)
            self.made.add(path)
        self.pending.append((path, info))


def clear(path: str) -> None:
    """A later member of the same name replaces the earlier one (never writes through it)."""
    if os.path.lexists(path) and not (os.path.isdir(path) and not os.path.islink(path)):
        os.unlink(path)


def write_file(path: str, chunks: Iterable[bytes], limit: int, mode: int = 0o600) -> int:
    """A new file at ``path`` (never through a link) from ``chunks``, at most ``limit``
    bytes; returns its descriptor, open for the caller to set owner, mode, times."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 mode)
    try:
        written = 0
        for chunk in chunks:
            written += len(chunk)
            if written > limit:
                raise ValueError("more data than its header says")
            while chunk:
                chunk = chunk[os.write(fd, chunk):]
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_special(mode: int) -> bool:
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
