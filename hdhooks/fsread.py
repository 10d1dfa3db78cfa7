"""Reading files another user may have placed: never through a link, bounded.

Config, appspec, buildspec, report, lock and state files are opened with
``O_NOFOLLOW`` and checked on the open descriptor (a regular file, one link
when written), and read up to a limit, so a planted link, FIFO, device or
huge file can neither redirect, block nor exhaust hdhooks.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable

from hdhooks.errors import CheckFailed, InputError

READ_LIMIT = 16 * 1024 * 1024  # what a config, appspec, buildspec or report may weigh


def open_nofollow(path: str | os.PathLike[str], flags: int, mode: int = 0o600) -> int:
    """``os.open`` of a regular file that refuses a symlink at the last component.

    Lock, state and marker files live in directories another user might write
    to; a planted link, FIFO, device or hard link must never redirect hdhooks'
    open, block it or let a truncate reach another file. A new file gets
    exactly ``mode`` whatever the umask.
    """
    name = os.fspath(path)
    try:
        # O_TRUNC only after the checks: opening a hard link must not empty its twin.
        opened = flags & ~os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        fd = os.open(name, opened, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CheckFailed(
                f"{name}: is a symbolic link, which hdhooks does not follow here",
                hint="remove the link; hdhooks creates this file itself",
            ) from None
        raise
    try:
        _check_opened(fd, name, flags, mode)
        if flags & os.O_TRUNC:
            os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    os.set_blocking(fd, True)
    return fd


def _check_opened(fd: int, name: str, flags: int, mode: int) -> None:
    import stat as stat_mod

    st = os.fstat(fd)
    if not stat_mod.S_ISREG(st.st_mode):
        raise CheckFailed(f"{name}: not a regular file (a FIFO, socket, device or directory)",
                          hint="remove it; hdhooks creates this file itself")
    if flags & (os.O_WRONLY | os.O_RDWR) and st.st_nlink > 1:
        raise CheckFailed(f"{name}: has {st.st_nlink} hard links, so writing it would "
                          "change another file", hint="remove it; hdhooks creates it itself")
    if flags & os.O_CREAT and st.st_uid == os.geteuid() and st.st_mode & 0o7777 != mode:
        os.fchmod(fd, mode)  # a new file: the umask must not loosen it


class TooLarge(InputError):
    """A file to read is bigger than its limit; carries both so callers can reword it."""

    def __init__(self, name: str, limit: int) -> None:
        super().__init__(f"{name}: more than the {limit} bytes allowed",
                         hint="is it the right file?")
        self.name = name
        self.limit = limit


def read_regular(path: str | os.PathLike[str], limit: int = READ_LIMIT) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    FIFOs, sockets and directories are refused with an InputError at once;
    a device is read without blocking and refused when it has nothing to give
    (a terminal) or gives more than ``limit`` (``/dev/zero``): never a hang.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file", hint="check the path") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, expected a file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror}") from None
    try:
        return _read_bounded(fd, name, limit)
    finally:
        os.close(fd)


def _read_bounded(fd: int, name: str, limit: int) -> bytes:
    import stat as stat_mod

    st = os.fstat(fd)
    if stat_mod.S_ISDIR(st.st_mode):
        raise InputError(f"{name}: is a directory, expected a file")
    device = stat_mod.S_ISCHR(st.st_mode) or stat_mod.S_ISBLK(st.st_mode)
    if not (stat_mod.S_ISREG(st.st_mode) or device):
        raise InputError(f"{name}: not a regular file (a FIFO or socket)",
                         hint="pass a regular file")
    if st.st_size > limit:
        raise TooLarge(name, limit)
    if not device:  # a device stays non-blocking: a terminal must not wait for input
        os.set_blocking(fd, True)
    chunks: list[bytes] = []
    total = 0
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            raise InputError(f"{name}: a device with nothing to read, not a file",
                             hint="pass a regular file") from None
        except OSError as exc:
            raise InputError(f"{name}: cannot read: {exc.strerror}") from None
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:  # a file that grows while read, or /proc-like with size 0
            raise TooLarge(name, limit)
        chunks.append(chunk)


def check_regular(path: str | os.PathLike[str], limit: int = READ_LIMIT, *,
                  devices: bool = False) -> None:
    """Refuse ``path`` before a reader opens it, in :func:`read_regular`'s words.

    For readers that open files themselves (an archive, a template tree): a
    FIFO would block them and a device never ends. A missing path is left to
    the reader, which names what it expected there. ``devices=True`` lets a
    device through to a reader that bounds what it reads (:func:`read_regular`).
    """
    import stat as stat_mod

    name = os.fspath(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise InputError(f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if stat_mod.S_ISDIR(st.st_mode):
        raise InputError(f"{name}: is a directory, expected a file")
    if stat_mod.S_ISCHR(st.st_mode) or stat_mod.S_ISBLK(st.st_mode):
        if devices:
            return
        raise InputError(f"{name}: not a regular file (a device)", hint="pass a regular file")
    if not stat_mod.S_ISREG(st.st_mode):
        raise InputError(f"{name}: not a regular file (a FIFO or socket)",
                         hint="pass a regular file")
    if st.st_size > limit:
        raise TooLarge(name, limit)


def check_regular_in(directory: str, names: Iterable[str], *, devices: bool = False) -> None:
    """:func:`check_regular` for each of ``names`` that exists in ``directory``."""
    for name in names:
        candidate = os.path.join(directory, name)
        if os.path.lexists(candidate):
            check_regular(candidate, devices=devices)
