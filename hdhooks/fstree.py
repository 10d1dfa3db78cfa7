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
    copy_entry(None, src, None, dst, st, owners=owners and os.geteuid() == 0)


def copy_entry(src_dir: int | None, src: str, dst_dir: int | None, dst: str,
               st: os.stat_result, *, owners: bool, meta: Meta | None = None) -> None:
    """Copy the file or link ``src`` (relative to the directory fd ``src_dir``, or a
    path when None) to the new name ``dst`` (relative to ``dst_dir``).

    One pass: open both ends without following a link, copy the bytes in the
    kernel, then owner (``owners``: the caller checked it runs as root), mode
    and times on the open descriptor. ``meta`` overrides mode and owner (the
    appspec ``permissions`` of an installed file), applied as the agent applies
    them after a copy: mode first, then owner.
    """
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src, dir_fd=src_dir), dst, dir_fd=dst_dir)
        if owners:
            os.chown(dst, st.st_uid, st.st_gid, dir_fd=dst_dir, follow_symlinks=False)
        if meta is not None and meta.owner_set:
            os.chown(dst, meta.uid, meta.gid, dir_fd=dst_dir, follow_symlinks=False)
        return
    if not stat.S_ISREG(st.st_mode):
        raise SpecialFile(src)
    fin = os.open(src, _FILE_FLAGS, dir_fd=src_dir)
    try:
        fout = os.open(dst, _NEW_FLAGS, 0o600, dir_fd=dst_dir)
        try:
            copy_bytes(fin, fout, st.st_size)
            if meta is None:
                _set_meta(fout, st, owners)
            else:  # the source's mode and owner only where the entry leaves them
                meta.apply(fout, st, owners)
        except OSError as exc:  # name the file: "No space left on device: <dst>"
            raise OSError(exc.errno, exc.strerror, exc.filename or dst) from None
        finally:
            os.close(fout)
    finally:
        os.close(fin)


class Meta:
    """Mode and owner that replace a copied file's own (``-1``: leave it)."""

    __slots__ = ("gid", "mode", "uid")

    def __init__(self, mode: int | None = None, uid: int = -1, gid: int = -1) -> None:
        self.mode, self.uid, self.gid = mode, uid, gid

    @property
    def owner_set(self) -> bool:
        return self.uid != -1 or self.gid != -1

    def apply(self, fd: int, st: os.stat_result, owners: bool) -> None:
        """The copy's metadata: as the source's then changed by the entry (one call
        each): owner, mode, times; the entry's owner last, since chown clears setuid
        after chmod, as it does for the agent."""
        both = self.uid != -1 and self.gid != -1
        if owners and not both:
            os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, stat.S_IMODE(st.st_mode) if self.mode is None else self.mode)
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
        if self.owner_set:
            os.fchown(fd, self.uid, self.gid)


_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_KERNEL_COPY = [hasattr(os, "copy_file_range"), True]  # copy_file_range, sendfile usable


def copy_bytes(fin: int, fout: int, size: int) -> None:
    """Copy ``fin`` to ``fout`` in the kernel (``copy_file_range``, else ``sendfile``,
    else reads and writes); stops at end of file. ``size`` (what lstat said) lets a
    small file take one call, with no second call to see the end."""
    import errno

    done = 0
    while _KERNEL_COPY[0] or _KERNEL_COPY[1]:
        want = max(size - done, _CHUNK)
        try:
            if _KERNEL_COPY[0]:
                sent = os.copy_file_range(fin, fout, want)
            else:
                sent = os.sendfile(fout, fin, None, want)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV,
                                 errno.EBADF) or done:
                raise
            _KERNEL_COPY[0 if _KERNEL_COPY[0] else 1] = False  # this kernel cannot: next way
            continue
        done += sent
        if sent == 0 or (done >= size and sent < want):
            return
    while chunk := os.read(fin, _CHUNK):
        os.write(fout, chunk)


def set_meta(fd: int, st: os.stat_result, *, owners: bool) -> None:
    """Owner (``owners``: root only, first: chown clears setuid), mode, times, on an fd."""
    _set_meta(fd, st, owners and os.geteuid() == 0)


def _set_meta(fd: int, st: os.stat_result, owners: bool) -> None:
    if owners:
        os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def copy_tree(src: str, dst: str, *, owners: bool = False) -> int:
    """Copy the directory ``src`` to the new directory ``dst``; returns entries copied.

    Links are copied as links and never entered; special files are refused
    (:class:`SpecialFile`). Every directory is opened once, relative to its
    parent's descriptor, and its entries are copied relative to it: no path is
    looked up twice. Directory modes and times are set once their content is
    in place.
    """
    top = os.lstat(src)
    if not stat.S_ISDIR(top.st_mode):
        raise CheckFailed(f"{src}: is not a directory (a link is not followed)")
    os.mkdir(dst, 0o700)
    sfd = os.open(src, _DIR_FLAGS)
    try:
        dfd = os.open(dst, _DIR_FLAGS)
        try:
            return _copy_dir(sfd, dfd, top, owners and os.geteuid() == 0, src)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)


def _copy_dir(sfd: int, dfd: int, st: os.stat_result, owners: bool, where: str) -> int:
    count = 0
    with os.scandir(sfd) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        est = entry.stat(follow_symlinks=False)
        count += 1
        if not stat.S_ISDIR(est.st_mode):
            if not (stat.S_ISREG(est.st_mode) or stat.S_ISLNK(est.st_mode)):
                raise SpecialFile(os.path.join(where, entry.name))
            copy_entry(sfd, entry.name, dfd, entry.name, est, owners=owners)
            continue
        os.mkdir(entry.name, 0o700, dir_fd=dfd)
        sub = os.open(entry.name, _DIR_FLAGS, dir_fd=sfd)
        try:
            dsub = os.open(entry.name, _DIR_FLAGS, dir_fd=dfd)
            try:
                count += _copy_dir(sub, dsub, est, owners, os.path.join(where, entry.name))
            finally:
                os.close(dsub)
        finally:
            os.close(sub)
    _set_meta(dfd, st, owners)
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
