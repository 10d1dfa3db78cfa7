"""One deployment per group at a time: an fcntl lock on a file in the root.

The lock is held by an open file descriptor, so it disappears with the
process however the process ends; there is never a stale lock to clean up.
The holder writes its pid and deployment id into the file, so a refused run
can say who holds it.

The file sits in a directory of the deployment root, which another user may
be able to write: it is opened with ``O_NOFOLLOW`` and refused unless it is a
regular file with one link, so a planted symlink never truncates its target.
"""

from __future__ import annotations

import fcntl
import os

from hdhooks.errors import CheckFailed
from hdhooks.fsread import open_nofollow


class GroupBusy(CheckFailed):
    """Another ``local deploy`` is running on the same deployment group."""


class GroupLock:
    """An exclusive, non-blocking lock on ``path``; use as a context manager."""

    def __init__(self, path: str, group_id: str, deployment_id: str) -> None:
        self.path = path
        self.group_id = group_id
        self.deployment_id = deployment_id
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = open_nofollow(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip()
            os.close(fd)
            who = f" ({holder})" if holder else ""
            raise GroupBusy(
                f"deployment group '{self.group_id}' is busy: another local deployment "
                f"is running{who}",
                hint=f"wait for it to finish; lock file {self.path}",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, deployment {self.deployment_id}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> GroupLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
