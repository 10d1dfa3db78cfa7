"""Undoing the previous install of a group (the agent's ``<group>-cleanup`` file).

The file lists, oldest first, every path the last Install created, each
written before the path existed; undoing removes them newest first, never
through a link (see :func:`run_cleanup`). hdhooks adds marked lines,
``semanage\\0PATH``, for SELinux contexts to remove. ``<group>-cleanup-aside``
(hdhooks' own) lists the last install's directories renamed aside, as
``.<name>.<random>.hdhooks-old`` beside them, until they are deleted
(:class:`Deferred`).
"""

from __future__ import annotations

import contextlib
import os

from hdhooks import fstree
from hdhooks.agent import permissions as perms
from hdhooks.agent.layout import Layout

SEMANAGE_MARK = "semanage\0"
ASIDE_SUFFIX = ".hdhooks-old"


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


def cleanup_would_remove(entries: list[str]) -> list[str]:
    """Paths that :func:`run_cleanup` would remove (for dry runs): files and links,
    and directories that would be empty once those are gone."""
    removed: set[str] = set()
    for entry in reversed(entries):
        if entry.startswith(SEMANAGE_MARK):
            continue
        path = entry
        if os.path.islink(path) or (os.path.exists(path) and not os.path.isdir(path)):
            removed.add(path)
        elif os.path.isdir(path):
            children = {os.path.join(path, n) for n in os.listdir(path)}
            if children <= removed:
                removed.add(path)
    return sorted(removed)


def run_cleanup(layout: Layout) -> Deferred:
    """Undo the last install of this group, newest entry first.

    Nothing is removed through a link: an entry whose directories (those the
    install made, or any link not owned by root or this user) were replaced by
    a symbolic link is left alone, and the last component is removed with
    ``unlink``/``rmdir`` relative to its parent's descriptor. A directory is
    judged once, however many entries it holds.

    A directory the last install made whose whole content it also made (the
    usual case: the destination itself) is not emptied here but renamed aside
    in one step (:class:`Deferred`); the new files are then created before
    the old ones are deleted. The end state is the agent's; the removal no
    longer delays the copies (on ext4 without a journal, a file created just
    after many were deleted costs several times more).
    """
    deferred = Deferred(layout.aside_file)
    deferred.earlier = deferred.finish()  # what a killed run renamed aside and left
    entries = read_cleanup(layout.cleanup_file)
    order = list(dict.fromkeys(e for e in entries if not e.startswith(SEMANAGE_MARK)))
    made = set(order)
    parents = _Parents(made)
    try:
        moved = _move_aside(order, made, parents, deferred)
        for entry in reversed(entries):
            if entry.startswith(SEMANAGE_MARK):
                perms.remove_selinux_context(entry[len(SEMANAGE_MARK):])
                continue
            if _under(entry, moved):
                continue
            try:
                parents.remove(entry)
            except OSError:
                pass  # a directory someone else put files in stays, as with the agent
    finally:
        parents.close()
    if os.path.lexists(layout.cleanup_file):
        os.unlink(layout.cleanup_file)
    return deferred


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


class _Parents:
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
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = nxt
    return fd


class Deferred:
    """Directories of the last install renamed aside by :func:`run_cleanup`, to be
    emptied by :meth:`finish` once the new files are in place.

    ``<group>-cleanup-aside`` lists each one before it is made, then every entry
    of the last install it holds (parents first) before it is renamed; the file goes only once all
    are done, so a run killed at any moment leaves them for the next one. Only
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


def _under(path: str, roots: set[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one."""
    while path and path != "/":
        if path in roots:
            return True
        path = os.path.dirname(path)
    return False


def _move_aside(order: list[str], made: set[str], parents: _Parents,
                deferred: Deferred) -> set[str]:
    """Rename aside each top directory of the last install that holds nothing it
    did not make; returns the directories moved. One that cannot be (a file
    of someone else's inside, a link, a mount point, a name taken, a parent
    gone) is left to the entry-by-entry removal. ``made``: the set of ``order``."""
    holding = {os.path.dirname(p) for p in made}
    tops = sorted(p for p in made & holding if os.path.dirname(p) not in made)
    inside = _by_top(order, set(tops))
    mounts = fstree.mount_points() if tops else set()
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


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _make_aside(parent_fd: int, name: str) -> int | None:
    """A descriptor of the new private directory ``name``; None if it cannot be made.
    What is renamed goes into this very directory, whatever the name holds then."""
    import stat

    try:
        os.mkdir(name, 0o700, dir_fd=parent_fd)
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
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
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
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
            fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
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
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                nxt = -1
        if fd != top:
            os.close(fd)
        if nxt < 0:
            return None
        fd = nxt
    return os.dup(top) if fd == top else fd
