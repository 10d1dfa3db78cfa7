"""File writes that never leave a half-written file behind.

A file is written to a temporary name in the same directory, flushed and
fsynced, given its mode and owner, then renamed over the destination; the
directory is fsynced so the rename survives a power cut. A process killed at
any point leaves either the old file or the new one, never a mix. A symlink
is switched the same way: a new link under a temporary name, then one rename.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import IO

from hdhooks.errors import CheckFailed

TEMP_MARK = ".hdhooks-tmp-"

Owner = str | int | None


def resolve_uid(owner: Owner) -> int:
    """A user name or id as a uid; -1 (unchanged) for None."""
    if owner is None or owner == "":
        return -1
    if isinstance(owner, int):
        return owner
    if owner.isdigit():
        return int(owner)
    import pwd

    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise CheckFailed(f"user '{owner}' does not exist on this machine",
                          hint="create it or change the owner") from None


def resolve_gid(group: Owner) -> int:
    """A group name or id as a gid; -1 (unchanged) for None."""
    if group is None or group == "":
        return -1
    if isinstance(group, int):
        return group
    if group.isdigit():
        return int(group)
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise CheckFailed(f"group '{group}' does not exist on this machine",
                          hint="create it or change the group") from None


def temp_name(path: str | os.PathLike[str]) -> Path:
    """A fresh temporary name next to ``path`` (same directory, same filesystem)."""
    p = Path(path)
    return p.with_name(f".{p.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class PendingFile:
    """A file being written under a temporary name, committed by :meth:`commit`.

    Separating writing from committing lets a caller prepare several files
    (rendering every template first) and rename them only when all succeeded.
    Use as a context manager to discard the temporary file on error.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: int | None = None,
        owner: Owner = None,
        group: Owner = None,
    ) -> None:
        self.path = Path(path)
        self.uid, self.gid = resolve_uid(owner), resolve_gid(group)
        self.mode = mode
        self.temp = temp_name(self.path)
        create_mode = 0o600 if mode is None else mode & 0o777 & ~0o077 | 0o600
        fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, create_mode)
        self.fh: IO[bytes] = os.fdopen(fd, "wb")
        self.committed = False
        self.size = 0

    def write(self, data: bytes | str) -> None:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        self.fh.write(raw)
        self.size += len(raw)

    def finish(self) -> None:
        """Flush, fsync and apply mode and owner; the file is complete but unnamed."""
        if self.fh.closed:
            return
        self.fh.flush()
        os.fsync(self.fh.fileno())
        fd = self.fh.fileno()
        if self.uid != -1 or self.gid != -1:
            os.fchown(fd, self.uid, self.gid)
        if self.mode is not None:
            os.fchmod(fd, self.mode)
        elif self.path.exists():
            os.fchmod(fd, self.path.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
        self.fh.close()

    def commit(self) -> Path:
        """Rename the finished file over its destination (one atomic step)."""
        self.finish()
        os.replace(self.temp, self.path)
        fsync_dir(self.path.parent)
        self.committed = True
        return self.path

    def discard(self) -> None:
        """Drop the temporary file; the destination is untouched."""
        if not self.fh.closed:
            self.fh.close()
        if not self.committed:
            try:
                os.unlink(self.temp)
            except FileNotFoundError:
                pass

    def __enter__(self) -> PendingFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None or not self.committed:
            self.discard()


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str,
    mode: int | None = None,
    owner: Owner = None,
    group: Owner = None,
) -> Path:
    """Replace ``path`` with ``data`` atomically, with ``mode``/``owner``/``group``.

    ``mode`` None keeps the existing file's mode (umask default for a new
    file); ``owner``/``group`` are names or ids, None leaves them to the
    writer. The parent directory must exist.
    """
    with PendingFile(path, mode=mode, owner=owner, group=group) as pending:
        pending.write(data)
        return pending.commit()


def atomic_symlink(target: str | os.PathLike[str], link: str | os.PathLike[str]) -> Path:
    """Point ``link`` at ``target`` in one rename; an existing link is replaced.

    ``link`` must not be a real directory (``os.replace`` cannot replace one).
    """
    link_path = Path(link)
    temp = temp_name(link_path)
    os.symlink(os.fspath(target), temp)
    try:
        os.replace(temp, link_path)
    except OSError:
        os.unlink(temp)
        raise
    fsync_dir(link_path.parent)
    return link_path


def remove_stale_temps(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files a killed writer left in ``directory``.

    Only names made by :func:`temp_name` whose process is gone are removed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if TEMP_MARK not in entry.name:
            continue
        pid_part = entry.name.rsplit(TEMP_MARK, 1)[1].split("-", 1)[0]
        if pid_part.isdigit() and _alive(int(pid_part)):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                import shutil

                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
