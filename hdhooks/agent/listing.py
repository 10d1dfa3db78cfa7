"""The cleanup file, and reaching the paths it lists without a planted link.

``<group>-cleanup`` lists, oldest first, every path the last Install created,
each written before the path existed; hdhooks adds marked lines,
``semanage\\0PATH``, for SELinux contexts to remove. A service user may since
have replaced a directory of that install with a link: :func:`trusted_parent`
and :class:`Parents` reach an entry's directory only through directories the
install made (opened one by one with ``O_NOFOLLOW``) or links root owns.
"""

from __future__ import annotations

import os

SEMANAGE_MARK = "semanage\0"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def read_cleanup(path: str) -> list[str]:
    """The cleanup file's entries, each the exact name made (a trailing space is part
    of it); an unfinished last line (no newline), and one that is not an absolute
    path, are ignored."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    lines.pop()  # the part after the last newline: empty, or an unfinished entry
    return [ln for ln in lines if ln.startswith(("/", SEMANAGE_MARK))]


def trusted_parent(path: str, made: set[str]) -> bool:
    """Whether every directory above ``path`` is reached without a planted link:
    a link where the install made a directory, or a link owned by another user,
    is not trusted."""
    parts = os.path.abspath(path).split("/")[1:-1]
    prefix = ""
    for part in parts:
        prefix += "/" + part
        st = os.lstat(prefix)
        if os.path.islink(prefix) and (prefix in made or st.st_uid not in (0, os.geteuid())):
            return False
    return True


class Parents:
    """The directory of the entries being removed, judged and opened once.

    Entries come newest first, so a directory's files arrive together; its
    descriptor is kept while they are unlinked, and dropped before the
    directory itself is removed."""

    def __init__(self, made: set[str]) -> None:
        self.made = made
        self.dir: str | None = None
        self.fd: int | None = None  # None with ``dir`` set: not trusted

    def trusted_fd(self, directory: str) -> int | None:
        """A descriptor of ``directory`` if it is reached without a planted link."""
        if directory == self.dir:
            return self.fd
        self.close()
        self.dir = directory
        probe = os.path.join(directory, "x")
        if trusted_parent(probe, self.made):
            self.fd = _open_made(directory, self.made)
        return self.fd

    def remove(self, path: str) -> None:
        import stat

        fd = self.trusted_fd(os.path.dirname(path))
        if fd is None:
            return
        name = os.path.basename(path)
        st = os.lstat(name, dir_fd=fd)
        if stat.S_ISDIR(st.st_mode):
            os.rmdir(name, dir_fd=fd)
        else:
            os.unlink(name, dir_fd=fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.dir = self.fd = None


def _open_made(directory: str, made: set[str]) -> int:
    """A descriptor of ``directory``: the directories above it that the install did
    not make are opened by path (their links were judged), those it made one by
    one without following a link, so none can be swapped for one meanwhile."""
    below: list[str] = []
    top = directory
    while top in made and top not in ("", "/"):
        below.append(os.path.basename(top))
        top = os.path.dirname(top)
    fd = os.open(top or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    for part in reversed(below):
        try:
            nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = nxt
    return fd
