"""Checks on the files a command is pointed at, before any reader opens them.

A reader that opens a FIFO blocks until a writer appears, and one that reads
``/dev/zero`` never ends; a build or a laptop then waits forever. The
commands refuse such paths up front, with the same words as
:func:`hdhooks.fsutil.read_regular`, so a user gets one line and exit 2
whichever reader would have touched the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from hdhooks.errors import InputError
from hdhooks.fsutil import READ_LIMIT


def require_regular(path: str, limit: int = READ_LIMIT, *, devices: bool = False) -> None:
    """Refuse ``path`` when it exists and is not a regular file of at most ``limit`` bytes.

    A missing path is left to the reader, which names what it expected there.
    ``devices=True`` lets character and block devices through, for a reader
    that bounds what it reads itself and has its own words for them.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"{path}: cannot read: {reason}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory, expected a file")
    if devices and (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        return
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: not a regular file (a FIFO, socket or device)",
                         hint="pass a regular file")
    if st.st_size > limit:
        raise InputError(f"{path}: {st.st_size} bytes, more than the {limit} allowed")


def require_regular_in(directory: str, names: Iterable[str], *, devices: bool = False) -> None:
    """:func:`require_regular` for each of ``names`` that exists in ``directory``."""
    for name in names:
        candidate = os.path.join(directory, name)
        if os.path.lexists(candidate):
            require_regular(candidate, devices=devices)
