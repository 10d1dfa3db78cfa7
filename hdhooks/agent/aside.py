"""The last install's directories renamed aside, deleted once the new files are in.

A directory the last Install made, whose whole tree it made, is renamed in one
step to ``.<name>.<random>.hdhooks-old`` beside it (:func:`move_aside`), so the
new copies are made before the old files are deleted (:class:`Deferred`).
``<group>-cleanup-aside`` (hdhooks' own) lists each such directory, and its
entries, before it is renamed, so a run killed at any moment leaves nothing the
next one does not remove.
"""

from __future__ import annotations

import contextlib
import os

from hdhooks import fsremove
from hdhooks.agent.listing import DIR_FLAGS, Parents, read_cleanup, trusted_parent

ASIDE_SUFFIX = ".hdhooks-old"


class Deferred:
    """Directories of the last install renamed aside by :func:`move_aside`, to be
    emptied by :meth:`finish` once the new files are in place.

    ``<group>-cleanup-aside`` lists each one before it is made, then every entry
    of the last install it holds (parents first) before it is renamed; the file
    goes only once all are done, so a run killed at any moment leaves them for
    the next one. Only
    those entries are removed, as the agent would remove them: what was put in
    the tree after it was judged stays, and so does its directory.
    """

    def __init__(self, list_file: str) -> None:
        self.list_file = list_file
        self.earlier: list[str] = []  # warnings of the deletion at the start of the run

    def add(self, path: str, entries: list[str]) -> None:
        with open(self.list_file, "a", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(f"{path}\n")
            fh.writelines(f"{p}\n" for p in entries)

    def finish(self) -> list[str]:
        """Remove what was set aside (this run's and any listed by a killed one);
        returns warnings for the directories that could not be deleted."""
        warnings, self.earlier = self.earlier, []
        for path, entries in _listed(read_cleanup(self.list_file)):
            try:
                _remove_aside(path, entries)
            except OSError as exc:
                warnings.append(f"could not delete {path}, the last install's files set "
                                f"aside: {exc.strerror or exc}")
        if os.path.lexists(self.list_file):
            os.unlink(self.list_file)
        return warnings


def _listed(lines: list[str]) -> list[tuple[str, list[str]]]:
    """The listing's aside directories, each with the entries under it."""
    out: list[tuple[str, list[str]]] = []
    for line in lines:
        if out and line.startswith(out[-1][0] + "/"):
            out[-1][1].append(line)
        elif not out or line != out[-1][0]:
            out.append((line, []))
    return out


def move_aside(order: list[str], made: set[str], parents: Parents,
                deferred: Deferred) -> set[str]:
    """Rename aside each top directory of the last install that holds nothing it
    did not make; returns the directories moved. One that cannot be (a file
    of someone else's inside, a link, a mount point, a name taken, a parent
    gone) is left to the entry-by-entry removal. ``made``: the set of ``order``."""
    holding = {os.path.dirname(p) for p in made}
    tops = sorted(p for p in made & holding if os.path.dirname(p) not in made)
    inside = _by_top(order, set(tops))
    mounts = fsremove.mount_points() if tops else set()
    moved: set[str] = set()
    for top in tops:
        try:
            fd = parents.trusted_fd(os.path.dirname(top))
        except OSError:
            continue  # the directory above is gone or unreadable: nothing to move
        name = os.path.basename(top)
        if fd is None or not name or _holds_mount(top, mounts) \
                or not _only_made(fd, name, top, made):
            continue
        aside = f".{name}.{os.urandom(4).hex()}{ASIDE_SUFFIX}"  # no name a bundle installs
        path = os.path.join(os.path.dirname(top), aside)
        deferred.add(path, [])  # listed before it exists: a run killed next removes it
        into = _make_aside(fd, aside)
        if into is None:
            continue  # the name is taken, or too long: not ours to replace
        try:
            deferred.add(path, [f"{path}/{name}{e[len(top):]}" for e in inside[top]])
            os.rename(name, name, src_dir_fd=fd, dst_dir_fd=into)
        except OSError:  # a mount point, another filesystem: removed entry by entry
            with contextlib.suppress(OSError):  # listed: the next run retries it
                os.rmdir(aside, dir_fd=fd)
            continue
        finally:
            os.close(into)
        moved.add(top)
    return moved


def _by_top(order: list[str], tops: set[str]) -> dict[str, list[str]]:
    """Each top directory's entries (itself first), in the cleanup file's order."""
    out: dict[str, list[str]] = {t: [] for t in tops}
    for entry in order:
        path = entry
        while path not in tops and path not in ("", "/"):
            path = os.path.dirname(path)
        if path in tops:
            out[path].append(entry)
    return out


def _holds_mount(top: str, mounts: set[str] | None) -> bool:
    """Whether a mount point is ``top`` or inside it (True when mounts are unknown):
    renaming the tree would carry the mount aside with it."""
    if mounts is None:
        return True
    real = os.path.join(os.path.realpath(os.path.dirname(top)), os.path.basename(top))
    return any(m == real or m.startswith(real + "/") for m in mounts)


def _make_aside(parent_fd: int, name: str) -> int | None:
    """A descriptor of the new private directory ``name``; None if it cannot be made.
    What is renamed goes into this very directory, whatever the name holds then."""
    import stat

    try:
        os.mkdir(name, 0o700, dir_fd=parent_fd)
        fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except OSError:
        return None
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o077 or os.listdir(fd):
        os.close(fd)
        return None
    return fd


def _only_made(parent_fd: int, name: str, path: str, made: set[str]) -> bool:
    """Whether the real directory ``name`` (under ``parent_fd``, on its filesystem)
    holds only entries of ``made``, at every depth; links are looked at, never
    entered; a mount point anywhere inside says no."""
    import stat

    try:
        st = os.lstat(name, dir_fd=parent_fd)
        if not stat.S_ISDIR(st.st_mode) or st.st_dev != os.fstat(parent_fd).st_dev:
            return False
        fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except OSError:
        return False
    try:
        with os.scandir(fd) as it:
            children = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
        for child, is_dir in children:
            full = f"{path}/{child}"
            if full not in made or (is_dir and not _only_made(fd, child, full, made)):
                return False
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _remove_aside(path: str, entries: list[str]) -> None:
    """Remove the listed ``entries`` (newest first) from a directory this tool
    renamed aside, then the directory: only if it is still a real directory of
    this user's reached without a link owned by someone else, and never through a
    link inside. A directory left with someone else's files in it raises."""
    import errno

    parent, name = os.path.split(path)
    try:
        if not path.endswith(ASIDE_SUFFIX) or not trusted_parent(path, set()):
            return
        pfd = os.open(parent or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # gone already, with its parent perhaps
    try:
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                return  # gone, or not a directory of ours: left alone
            raise
        try:
            if os.fstat(fd).st_uid != os.geteuid():
                return
            _remove_entries(fd, entries, len(path) + 1)
        finally:
            os.close(fd)
        os.rmdir(name, dir_fd=pfd)
    finally:
        os.close(pfd)


def _remove_entries(top: int, entries: list[str], cut: int) -> None:
    """Unlink or ``rmdir`` each of ``entries`` (parents first; each relative to ``top``
    once its first ``cut`` characters are dropped), newest first; a directory is
    opened component by component, never through a link, and one that cannot be
    opened is skipped with what it holds."""
    import stat

    held: tuple[str | None, int | None] = (None, None)
    try:
        for entry in reversed(entries):
            directory, _, name = entry[cut:].rpartition("/")
            if directory != held[0]:
                if held[1] is not None:
                    os.close(held[1])
                held = (None, None)
                held = (directory, _open_below(top, directory))
            fd = held[1]
            if fd is None or name in ("", ".", ".."):
                continue
            try:
                st = os.lstat(name, dir_fd=fd)
                if stat.S_ISDIR(st.st_mode):
                    os.rmdir(name, dir_fd=fd)
                else:
                    os.unlink(name, dir_fd=fd)
            except OSError:
                pass  # someone else's files in it: it stays, as with the agent
    finally:
        if held[1] is not None:
            os.close(held[1])


def _open_below(top: int, rel: str) -> int | None:
    """A descriptor of the directory ``rel`` under ``top``, no component a link."""
    fd = top
    for part in rel.split("/") if rel else []:
        if part in ("", ".", ".."):  # a hand-edited listing: never above the aside
            nxt = -1
        else:
            try:
                nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError:
                nxt = -1
        if fd != top:
            os.close(fd)
        if nxt < 0:
            return None
        fd = nxt
    return os.dup(top) if fd == top else fd
