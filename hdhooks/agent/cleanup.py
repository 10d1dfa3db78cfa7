"""Undoing the previous install of a group (the agent's ``<group>-cleanup`` file).

The file lists, oldest first, every path the last Install created, each
written before the path existed; undoing removes them newest first, never
through a link (see :func:`run_cleanup`). hdhooks adds marked lines,
``semanage\\0PATH``, for SELinux contexts to remove. ``<group>-cleanup-aside``
(hdhooks' own) lists the last install's directories renamed aside until
they are deleted (:class:`Deferred`).
"""

from __future__ import annotations

import os

from hdhooks import fstree
from hdhooks.agent import permissions as perms
from hdhooks.agent.layout import Layout

SEMANAGE_MARK = "semanage\0"
ASIDE_SUFFIX = ".hdhooks-old"


def read_cleanup(path: str) -> list[str]:
    """The cleanup file's entries; an unfinished last line (no newline) is ignored."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    lines.pop()  # the part after the last newline: empty, or an unfinished entry
    return [ln for ln in lines if ln.strip()]


def cleanup_would_remove(entries: list[str]) -> list[str]:
    """Paths that :func:`run_cleanup` would remove (for dry runs): files and links,
    and directories that would be empty once those are gone."""
    removed: set[str] = set()
    for entry in reversed(entries):
        if entry.startswith(SEMANAGE_MARK):
            continue
        path = entry.strip()
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
    deferred.finish()  # what a killed run renamed aside and did not delete
    entries = read_cleanup(layout.cleanup_file)
    made = {e.strip() for e in entries if not e.startswith(SEMANAGE_MARK)}
    parents = _Parents(made)
    try:
        moved = _move_aside(made, parents, deferred)
        for entry in reversed(entries):
            if entry.startswith(SEMANAGE_MARK):
                perms.remove_selinux_context(entry[len(SEMANAGE_MARK):].strip())
                continue
            if _under(entry.strip(), moved):
                continue
            try:
                parents.remove(entry.strip())
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
            self.fd = os.open(directory or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
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


class Deferred:
    """Directories of the last install renamed aside by :func:`run_cleanup`, to be
    deleted by :meth:`finish` once the new files are in place.

    Each is listed in ``<group>-cleanup-aside`` before it is renamed, and the
    file goes only once all are deleted, so a run killed at any moment leaves
    them for the next one to delete.
    """

    def __init__(self, list_file: str) -> None:
        self.list_file = list_file
        self.aside: list[str] = []

    def add(self, path: str) -> None:
        with open(self.list_file, "a", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(path + "\n")
        self.aside.append(path)

    def finish(self) -> list[str]:
        """Delete what was set aside (never following a link inside it), this run's
        and any listed by a killed one; returns warnings for what could not be."""
        warnings: list[str] = []
        for path in dict.fromkeys([*read_cleanup(self.list_file), *self.aside]):
            try:
                _remove_aside(path)
            except OSError as exc:
                warnings.append(f"could not delete {path}, the last install's files set "
                                f"aside: {exc.strerror or exc}")
        self.aside.clear()
        if os.path.lexists(self.list_file):
            os.unlink(self.list_file)
        return warnings


def _under(path: str, roots: set[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one."""
    while path and path != "/":
        if path in roots:
            return True
        path = os.path.dirname(path)
    return False


def _move_aside(made: set[str], parents: _Parents, deferred: Deferred) -> set[str]:
    """Rename aside each top directory of the last install that holds nothing it
    did not make; returns the directories moved. One that cannot be (a file
    of someone else's inside, a link, a mount point, a name taken) is left to
    the entry-by-entry removal."""
    moved: set[str] = set()
    holding = {os.path.dirname(p) for p in made}
    for top in sorted(p for p in made & holding if os.path.dirname(p) not in made):
        fd = parents.trusted_fd(os.path.dirname(top))
        name = os.path.basename(top)
        if fd is None or not name or not _only_made(fd, name, top, made):
            continue
        aside = f".{name}{ASIDE_SUFFIX}"
        if not _make_aside(fd, aside):
            continue  # the name is taken: not ours to replace
        deferred.add(os.path.join(os.path.dirname(top), aside))
        try:
            into = os.open(aside, _DIR_FLAGS, dir_fd=fd)
            try:
                os.rename(name, name, src_dir_fd=fd, dst_dir_fd=into)
            finally:
                os.close(into)
        except OSError:  # a mount point, another filesystem: removed entry by entry
            os.rmdir(aside, dir_fd=fd)
            continue
        moved.add(top)
    return moved


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _make_aside(parent_fd: int, name: str) -> bool:
    """A new private directory ``name``, or an empty one of this user's (made by a
    run killed before it recorded it)."""
    import stat

    try:
        os.mkdir(name, 0o700, dir_fd=parent_fd)
        return True
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        st = os.lstat(name, dir_fd=parent_fd)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            return False
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        try:
            return not os.listdir(fd)
        finally:
            os.close(fd)
    except OSError:
        return False


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


def _remove_aside(path: str) -> None:
    """Delete a directory this tool renamed aside, if it is still a real directory
    of this user's reached without a link owned by someone else."""
    import stat

    try:
        if not path.endswith(ASIDE_SUFFIX) or not trusted_parent(path, set()):
            return
        st = os.lstat(path)
    except FileNotFoundError:
        return  # gone already, with its parent perhaps
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid():
        fstree.remove_tree(path)
