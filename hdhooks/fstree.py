"""Walking, copying, removing and re-moding file trees without following links.

Revisions, deployment archives and releases are trees that other users may
have written into: a service user can replace a directory of the previous
install with a link to ``/etc``. Every function here works on the link itself
and never on what it points to: directories are opened relative to their
parent's descriptor with ``O_NOFOLLOW``, files are opened with
``O_NOFOLLOW``, owners are set with ``lchown``. One pass per file, no fsync per
file (a tree is made visible by one rename, which the caller makes durable).
FIFOs, sockets and devices are refused: reading one blocks or never ends.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from hdhooks.errors import CheckFailed

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


class SpecialFile(CheckFailed):
    """A FIFO, socket or device where a tree may hold only files, directories and links."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: is a FIFO, socket or device; a revision may hold only "
                         "files, directories and symbolic links",
                         hint="remove it from the bundle")
        self.path = path


def walk(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry under ``root`` as (relative path, lstat), parents before children.

    ``root`` itself must be a real directory; links inside are reported, never
    entered.
    """
    fd = os.open(root, _DIR_FLAGS)
    try:
        yield from _walk_fd(fd, "")
    finally:
        os.close(fd)


def _walk_fd(fd: int, prefix: str) -> Iterator[tuple[str, os.stat_result]]:
    with os.scandir(fd) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        rel = prefix + entry.name
        st = entry.stat(follow_symlinks=False)
        yield rel, st
        if stat.S_ISDIR(st.st_mode):
            sub = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
            try:
                yield from _walk_fd(sub, rel + "/")
            finally:
                os.close(sub)


def copy_file(src: str, dst: str, st: os.stat_result | None = None, *,
              owners: bool = False) -> None:
    """Copy one regular file or link ``src`` to the new name ``dst`` (which must not exist).

    Mode (setuid/setgid included) and times are kept, and owners too when
    ``owners`` is set and this process is root. A link is recreated as a link.
    """
    st = st or os.lstat(src)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
        if owners and os.geteuid() == 0:
            os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
        return
    if not stat.S_ISREG(st.st_mode):
        raise SpecialFile(src)
    fin = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                       0o600)
        try:
            _copy_bytes(fin, fout)
            set_meta(fout, st, owners=owners)
        except OSError as exc:  # name the file: "No space left on device: <dst>"
            raise OSError(exc.errno, exc.strerror, exc.filename or dst) from None
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def _copy_bytes(fin: int, fout: int) -> None:
    while True:
        try:
            sent = os.sendfile(fout, fin, None, _CHUNK)
        except OSError as exc:
            import errno

            if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise
            sent = -1
        if sent == 0:
            return
        if sent < 0:  # sendfile unsupported here: plain reads and writes
            while chunk := os.read(fin, _CHUNK):
                os.write(fout, chunk)
            return


def set_meta(fd: int, st: os.stat_result, *, owners: bool) -> None:
    """Owner (root only, first: chown clears setuid), then mode, then times, on an open fd."""
    if owners and os.geteuid() == 0:
        os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def copy_tree(src: str, dst: str, *, owners: bool = False) -> int:
    """Copy the directory ``src`` to the new directory ``dst``; returns entries copied.

    Links are copied as links and never entered; special files are refused
    (:class:`SpecialFile`). Directory modes and times are set once their
    content is in place.
    """
    top = os.lstat(src)
    if not stat.S_ISDIR(top.st_mode):
        raise CheckFailed(f"{src}: is not a directory (a link is not followed)")
    os.mkdir(dst, 0o700)
    dirs: list[tuple[str, os.stat_result]] = [("", top)]
    count = 0
    for rel, st in walk(src):
        target = os.path.join(dst, rel)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(target, 0o700)
            dirs.append((rel, st))
        else:
            copy_file(os.path.join(src, rel), target, st, owners=owners)
        count += 1
    for rel, st in reversed(dirs):
        fd = os.open(os.path.join(dst, rel) if rel else dst, _DIR_FLAGS)
        try:
            set_meta(fd, st, owners=owners)
        finally:
            os.close(fd)
    return count


def remove_tree(path: str) -> None:
    """Remove ``path``: a link or file is unlinked, a directory removed with its
    content, never following a link inside (``shutil.rmtree`` works on dir fds)."""
    import shutil

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def chmod(path: str, mode: int) -> bool:
    """``chmod`` that does not follow a link; False (nothing done) when ``path`` is one."""
    fd = _open_nofollow(path)
    if fd is None:
        return False
    try:
        os.chmod(f"/proc/self/fd/{fd}", mode)
    finally:
        os.close(fd)
    return True


def lchown(path: str, uid: int, gid: int) -> None:
    """``chown`` of the entry itself: a link gets the owner, its target does not."""
    os.chown(path, uid, gid, follow_symlinks=False)


def is_link(path: str) -> bool:
    return os.path.islink(path)


def _open_nofollow(path: str) -> int | None:
    """An fd on ``path`` itself (file, directory, FIFO: never blocking), None for a link."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        import errno

        if exc.errno == errno.ELOOP:
            return None
        if exc.errno != errno.EACCES or stat.S_ISLNK(os.lstat(path).st_mode):
            raise
    return os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
