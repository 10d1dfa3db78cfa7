"""Walking, copying and re-moding file trees without following links.

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

import errno
import os
import stat
from collections.abc import Callable, Iterator

from hdhooks.errors import CheckFailed

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20
# Directory levels a tree may nest: far beyond any build's output, and low
# enough that a walk or copy holds few descriptors and frames per level.
MAX_DEPTH = 256


class SpecialFile(CheckFailed):
    """A FIFO, socket or device where a tree may hold only files, directories and links."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: is a FIFO, socket or device; a revision may hold only "
                         "files, directories and symbolic links",
                         hint="remove it from the bundle")
        self.path = path


class TooDeep(CheckFailed):
    """Directories nested more than :data:`MAX_DEPTH` levels."""

    def __init__(self, path: str) -> None:
        shown = path if len(path) <= 160 else path[:160] + "..."
        super().__init__(f"{shown}: directories nest more than {MAX_DEPTH} levels deep",
                         hint="flatten the tree; no build output nests this deep")
        self.path = path


def walk(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry under ``root`` as (relative path, lstat), parents before children.

    ``root`` itself must be a real directory; links inside are reported, never
    entered.
    """
    fd = os.open(root, _DIR_FLAGS)
    try:
        yield from _walk_fd(fd, "", 0, root)
    finally:
        os.close(fd)


def _walk_fd(fd: int, prefix: str, depth: int,
             root: str) -> Iterator[tuple[str, os.stat_result]]:
    if depth > MAX_DEPTH:
        raise TooDeep(os.path.join(root, prefix))
    with os.scandir(fd) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        rel = prefix + entry.name
        st = entry.stat(follow_symlinks=False)
        yield rel, st
        if stat.S_ISDIR(st.st_mode):
            sub = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
            try:
                yield from _walk_fd(sub, rel + "/", depth + 1, root)
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
               st: os.stat_result, *, owners: bool, meta: Meta | None = None,
               clone: bool = False) -> bool:
    """Copy the file or link ``src`` (relative to the directory fd ``src_dir``, or a
    path when None) to the new name ``dst`` (relative to ``dst_dir``).

    One pass: open both ends without following a link, copy the bytes in the
    kernel, then owner (``owners``: the caller checked it runs as root), mode
    and times on the open descriptor. ``meta`` overrides mode and owner (the
    appspec ``permissions`` of an installed file), applied as the agent applies
    them after a copy: mode first, then owner. ``clone``: try a reflink first
    (shared blocks, copied on write) for a file of :data:`SHARE_FROM` bytes or
    more. Returns whether it was cloned.
    """
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src, dir_fd=src_dir), dst, dir_fd=dst_dir)
        if owners:
            os.chown(dst, st.st_uid, st.st_gid, dir_fd=dst_dir, follow_symlinks=False)
        if meta is not None and meta.owner_set:
            os.chown(dst, meta.uid, meta.gid, dir_fd=dst_dir, follow_symlinks=False)
        return False
    if not stat.S_ISREG(st.st_mode):
        raise SpecialFile(src)
    fin = os.open(src, _FILE_FLAGS, dir_fd=src_dir)
    try:
        fout = os.open(dst, _NEW_FLAGS, 0o600, dir_fd=dst_dir)
        try:
            cloned = clone and st.st_size >= SHARE_FROM and _clone(fin, fout)
            if not cloned:
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
    return cloned


_CLONE = [True]  # FICLONE works here (cleared at the first filesystem that refuses)


def _clone(fin: int, fout: int) -> bool:
    """A reflink of ``fin`` into the empty ``fout`` where the filesystem shares blocks
    (btrfs, XFS): instant, and a later write to either copies the block."""
    if not _CLONE[0]:
        return False
    import fcntl

    try:
        fcntl.ioctl(fout, 0x40049409, fin)  # FICLONE
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY,
                             errno.ENOSYS, errno.EPERM):
            raise
        _CLONE[0] = False
        return False
    return True


class Meta:
    """Mode and owner that replace a copied entry's own (-1 / None: keep the source's).

    ``after``: the appspec ``permissions`` way, applied after the copy's own
    metadata, owner last (chown clears setuid after chmod, as for the agent).
    Otherwise the copy simply gets these values instead of the source's.
    """

    __slots__ = ("after", "gid", "mode", "uid")

    def __init__(self, mode: int | None = None, uid: int = -1, gid: int = -1, *,
                 after: bool = True) -> None:
        self.mode, self.uid, self.gid, self.after = mode, uid, gid, after

    @property
    def owner_set(self) -> bool:
        return self.uid != -1 or self.gid != -1

    def apply(self, fd: int, st: os.stat_result, owners: bool) -> None:
        """Owner, mode and times of the copy on its descriptor, one call each."""
        uid = st.st_uid if self.uid == -1 else self.uid
        gid = st.st_gid if self.gid == -1 else self.gid
        if not self.after and (owners or self.owner_set):
            os.fchown(fd, uid if owners else self.uid, gid if owners else self.gid)
        elif owners and not (self.uid != -1 and self.gid != -1):
            os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, stat.S_IMODE(st.st_mode) if self.mode is None else self.mode)
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
        if self.after and self.owner_set:
            os.fchown(fd, self.uid, self.gid)


_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Files from this size on may share blocks with their source (a reflink, or
# copy_file_range, which reflinks where the filesystem can); smaller ones are copied.
# On XFS sharing first writes the source's dirty pages out and waits for them: for
# files just unpacked that costs several times the copy (50,000 small files: 11.2 s
# against 3.4 s), and sharing a block or two saves little room.
SHARE_FROM = 1 << 20
# The kernel's ways of copying, each cleared at the first kernel or filesystem that
# refuses it (the next way then takes over).
_KERNEL_COPY = {"copy_file_range": hasattr(os, "copy_file_range"), "sendfile": True}
_FALLBACK_ERRNOS = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV, errno.EBADF)


def copy_bytes(fin: int, fout: int, size: int) -> None:
    """Copy ``fin`` to ``fout`` in the kernel; stops at end of file.

    A file of :data:`SHARE_FROM` bytes or more goes by ``copy_file_range`` (shared
    blocks where the filesystem allows), a smaller one by ``sendfile``; reads and
    writes where neither works. ``size`` (what lstat said) lets a small file take
    one call, with no second call to see the end.
    """
    ways = ("copy_file_range", "sendfile") if size >= SHARE_FROM else ("sendfile",)
    done = 0
    for way in ways:
        while _KERNEL_COPY[way]:
            want = max(size - done, _CHUNK)
            try:
                if way == "sendfile":
                    sent = os.sendfile(fout, fin, None, want)
                else:
                    sent = os.copy_file_range(fin, fout, want)
            except OSError as exc:
                if exc.errno not in _FALLBACK_ERRNOS or done:
                    raise
                _KERNEL_COPY[way] = False  # this kernel or filesystem cannot: next way
                break
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


class Copied:
    """What a tree copy did: entries seen, and files hard-linked or reflinked."""

    def __init__(self) -> None:
        self.entries = self.linked = self.cloned = 0

    def how(self) -> str:
        """One phrase for an output line: "copied", "hard-linked 3 file(s), copied the rest"."""
        files = [f"hard-linked {self.linked} file(s)" if self.linked else "",
                 f"reflinked {self.cloned} file(s)" if self.cloned else ""]
        done = [f for f in files if f]
        return ", ".join([*done, "copied the rest"]) if done else "copied"


class _Tree:
    """The options of one :func:`copy_tree` and its counters."""

    def __init__(self, owners: bool, adjust: Callable[[os.stat_result], Meta | None] | None,
                 link: Callable[[os.stat_result], bool] | None, clone: bool) -> None:
        self.owners, self.adjust, self.link, self.clone = owners, adjust, link, clone
        self.done = Copied()

    def file(self, sfd: int, dfd: int, name: str, st: os.stat_result) -> None:
        if self.link is not None and stat.S_ISREG(st.st_mode) and self.link(st):
            try:
                os.link(name, name, src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False)
                self.done.linked += 1
                return
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
                self.link = None  # another filesystem, or links refused: copy from now on
        meta = self.adjust(st) if self.adjust is not None else None
        if copy_entry(sfd, name, dfd, name, st, owners=self.owners, meta=meta,
                      clone=self.clone):
            self.done.cloned += 1

    def dir_meta(self, dfd: int, st: os.stat_result) -> None:
        meta = self.adjust(st) if self.adjust is not None else None
        if meta is None:
            _set_meta(dfd, st, self.owners)
        else:
            meta.apply(dfd, st, self.owners)


def copy_tree(src: str, dst: str, *, owners: bool = False,
              adjust: Callable[[os.stat_result], Meta | None] | None = None,
              link: Callable[[os.stat_result], bool] | None = None,
              clone: bool = False) -> Copied:
    """Copy the directory ``src`` to the new directory ``dst``.

    Links are copied as links and never entered; special files are refused
    (:class:`SpecialFile`). Every directory is opened once, relative to its
    parent's descriptor, and its entries are copied relative to it: no path is
    looked up twice. Directory modes and times are set once their content is
    in place. ``adjust(st)`` may give an entry other metadata than its
    source's; ``link(st)`` says a regular file may be hard-linked instead of
    copied (on the same filesystem); ``clone`` tries reflinks.
    """
    top = os.lstat(src)
    if not stat.S_ISDIR(top.st_mode):
        raise CheckFailed(f"{src}: is not a directory (a link is not followed)")
    tree = _Tree(owners and os.geteuid() == 0, adjust, link, clone)
    os.mkdir(dst, 0o700)
    sfd = os.open(src, _DIR_FLAGS)
    try:
        dfd = os.open(dst, _DIR_FLAGS)
        try:
            _copy_dir(sfd, dfd, top, tree, src, 0)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
    return tree.done


def _copy_dir(sfd: int, dfd: int, st: os.stat_result, tree: _Tree, where: str,
              depth: int) -> None:
    if depth > MAX_DEPTH:
        raise TooDeep(where)
    with os.scandir(sfd) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        est = entry.stat(follow_symlinks=False)
        tree.done.entries += 1
        if not stat.S_ISDIR(est.st_mode):
            if not (stat.S_ISREG(est.st_mode) or stat.S_ISLNK(est.st_mode)):
                raise SpecialFile(os.path.join(where, entry.name))
            tree.file(sfd, dfd, entry.name, est)
            continue
        os.mkdir(entry.name, 0o700, dir_fd=dfd)
        sub = os.open(entry.name, _DIR_FLAGS, dir_fd=sfd)
        try:
            dsub = os.open(entry.name, _DIR_FLAGS, dir_fd=dfd)
            try:
                _copy_dir(sub, dsub, est, tree, os.path.join(where, entry.name), depth + 1)
            finally:
                os.close(dsub)
        finally:
            os.close(sub)
    tree.dir_meta(dfd, st)


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
        if exc.errno == errno.ELOOP:
            return None
        if exc.errno != errno.EACCES or stat.S_ISLNK(os.lstat(path).st_mode):
            raise
    return os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
