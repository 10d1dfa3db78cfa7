"""Removing trees: never through a link, never across a mount, never recursing.

A tree to remove (an old release, an old deployment, a staging directory) may
hold what a hook or a service made: links to ``/etc``, a bind mount of the
data disk, directories thousands of levels deep. Removal goes through
directory descriptors opened with ``O_NOFOLLOW``, stops at a directory on
another mount (its mount id, read from ``/proc/self/fdinfo``, tells a bind
mount of the same filesystem too), and holds one descriptor however deep the
tree. :func:`mount_points` lists every mount point, for callers that skip
them by path.
"""

from __future__ import annotations

import contextlib
import os
import stat

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str, *, ignore_errors: bool = False) -> None:
    """Remove ``path``: a link or file is unlinked, a directory removed with its
    content, never following a link inside.

    However deep the tree (a hook may have made it), this holds one directory
    descriptor and no recursion: it goes down by ``O_NOFOLLOW`` opens and back
    up by ``..``, checked to be the directory it came from, so a directory moved
    meanwhile stops the removal instead of leading it elsewhere. A directory on
    another mount (bind mounts included) is not entered: the removal stops with
    an error and what is mounted there is untouched.
    ``ignore_errors`` stops quietly at the first failure.
    """
    try:
        _remove(path)
    except OSError:
        if not ignore_errors:
            raise


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    parent = os.open(os.path.dirname(os.path.abspath(path)), _DIR)
    try:
        top = os.path.basename(os.path.abspath(path))
        fd = os.open(top, _DIR, dir_fd=parent)
        if _mount_id(fd) != _mount_id(parent):
            os.close(fd)
            raise OSError(f"{path}: a mount point; hdhooks does not remove what is "
                          "mounted there")
        _empty(fd, (st.st_dev, st.st_ino))
        os.rmdir(top, dir_fd=parent)
    finally:
        os.close(parent)


def _empty(fd: int, top: tuple[int, int]) -> None:
    """Empty the directory open as ``fd`` (whose identity is ``top``); closes ``fd``."""
    up: list[tuple[str, tuple[int, int]]] = []  # (name, identity of its parent)
    here = top
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != top:
            raise OSError("the directory was replaced before its removal")
        mount = _mount_id(fd)
        while True:
            child, unlinked = None, False
            with os.scandir(fd) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    with contextlib.suppress(FileNotFoundError):  # gone meanwhile
                        os.unlink(entry.name, dir_fd=fd)
                    unlinked = True
            if child is None and unlinked:
                continue  # read it again: a listing changed while read may skip entries
            if child is not None:
                sub = os.open(child, _DIR, dir_fd=fd)
                os.close(fd)
                fd = sub
                up.append((child, here))
                st = os.fstat(fd)
                if st.st_dev != here[0] or _mount_id(fd) != mount:
                    raise OSError(f"{child}: a mount point; hdhooks does not remove "
                                  "what is mounted there")
                here = (st.st_dev, st.st_ino)
                continue
            if not up:
                return
            name, here = up.pop()
            parent = os.open("..", _DIR, dir_fd=fd)
            os.close(fd)
            fd = parent
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != here:
                raise OSError(f"{name}: its parent directory was moved during the removal")
            os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)


def _mount_id(fd: int) -> int | None:
    """The mount ``fd`` lies on (a bind mount of the same filesystem has the same
    device number but its own mount id); None where /proc cannot tell."""
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as fh:
            for line in fh:
                if line.startswith(b"mnt_id:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def mount_points() -> set[str] | None:
    """Every mount point of this process's view (None if it cannot be read): a bind
    mount of the same filesystem has the same device number, so only this tells."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    return {_unescape(ln.split(" ")[4]) for ln in lines if ln.count(" ") >= 4}


def _unescape(field: str) -> str:
    """A mountinfo path: space, tab, newline and backslash are written ``\\ooo``."""
    parts = field.split("\\")
    out = [parts[0]]
    for part in parts[1:]:
        code = part[:3]
        if len(code) == 3 and set(code) <= set("01234567"):
            out.append(chr(int(code, 8)) + part[3:])
        else:
            out.append("\\" + part)
    return "".join(out)
