"""File writes that never leave a half-written file behind.

A file is written to a temporary name in the same directory, flushed and
fsynced, given its mode and owner, then renamed over the destination; the
directory is fsynced so the rename survives a power cut. A process killed at
any point leaves either the old file or the new one, never a mix. A symlink
is switched the same way: a new link under a temporary name, then one rename.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import TracebackType

from hdhooks.errors import CheckFailed

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import IO

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
    # os.urandom rather than secrets: secrets imports hashlib, costly on a hook path.
    return p.with_name(f".{p.name}{TEMP_MARK}{os.getpid()}-{os.urandom(4).hex()}")


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


def sync_filesystem(path: str | os.PathLike[str]) -> None:
    """Write every file of the filesystem holding directory ``path`` to disk.

    A tree published by one rename (a release) is copied without a per-file
    fsync, which would cost about a millisecond a file; after a power cut on
    a filesystem with delayed allocation (ext4, XFS) its name could then
    survive while its files come back empty. One ``syncfs(2)`` before the
    rename makes the whole tree durable at once. ``path`` must be a real
    directory, never followed if it is a link. A write-back failure (EIO,
    ENOSPC) is raised as an OSError naming ``path``.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP) and os.path.islink(name):
            raise OSError(errno.ELOOP, "Symbolic link not followed", name) from None
        raise
    try:
        _syncfs(fd, name)
    finally:
        os.close(fd)


def _syncfs(fd: int, name: str) -> None:
    """``syncfs(2)`` through libc; ``os.sync()`` where the call is missing.

    ctypes is imported here, not with the module: it would cost every hook
    process that never makes a release.
    """
    import ctypes

    try:
        call = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # no libc symbol (not Linux, old C library)
        os.sync()
        return
    call.argtypes = [ctypes.c_int]
    call.restype = ctypes.c_int
    if call(fd) == 0:
        return
    err = ctypes.get_errno()
    if err == errno.ENOSYS:  # a kernel or seccomp filter without syncfs
        os.sync()
        return
    raise OSError(err, os.strerror(err), name)


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
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.temp, flags, create_mode)
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
        else:
            os.fchmod(fd, _kept_mode(self.path))
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


def _kept_mode(path: Path) -> int:
    """The mode of the file being replaced (never a link's target); umask default if new."""
    import stat as stat_mod

    try:
        st = os.lstat(path)
    except OSError:
        st = None
    if st is not None and stat_mod.S_ISREG(st.st_mode):
        return st.st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


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
                from hdhooks import fsremove

                fsremove.remove_tree(entry.path)
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


# --- directories ---------------------------------------------------------------

def ensure_dir(path: str | os.PathLike[str], mode: int = 0o755) -> Path:
    """Create ``path`` (and missing parents) with exactly ``mode``, whatever the umask.

    An existing directory is accepted only if it is a real directory (not a
    link) owned by this user or root, and not writable by group or others
    beyond what ``mode`` allows; otherwise CheckFailed names the rule. This is
    how every state, deployment and cache directory is made. Missing parents
    get 0755 (0700 when ``mode`` grants others nothing).
    """
    p = Path(path)
    try:
        os.mkdir(p, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        if p.parent == p:
            raise
        ensure_dir(p.parent, 0o755 if mode & 0o005 else 0o700)
        return ensure_dir(p, mode)
    else:
        fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        return p
    _check_dir(p, os.lstat(p), mode)
    return p


def _check_dir(p: Path, st: os.stat_result, mode: int) -> None:
    import stat as stat_mod

    if not stat_mod.S_ISDIR(st.st_mode):
        kind = "a symbolic link" if stat_mod.S_ISLNK(st.st_mode) else "not a directory"
        raise CheckFailed(f"{p}: is {kind}, expected a directory hdhooks owns",
                          hint="remove it and run again")
    if st.st_uid not in (0, os.geteuid()):
        raise CheckFailed(f"{p}: owned by uid {st.st_uid}, not by this user or root",
                          hint=f"chown it to uid {os.geteuid()} or choose another directory")
    if st.st_mode & 0o022 & ~mode:
        raise CheckFailed(f"{p}: writable by other users (mode {st.st_mode & 0o7777:04o})",
                          hint=f"chmod {mode:04o} {p}")
