"""The zip half of the bundle extractor (see :mod:`hdhooks.agent.archive`).

Every entry is checked before the first is written: encrypted entries,
compression methods other than stored/deflate/bzip2/lzma, devices and
FIFOs, names and link targets as for tar, sizes as the central directory
declares them. Each entry's size and CRC are checked as it is written into
the private staging directory (:mod:`hdhooks.agent.zipdir` raises at the end
of a bad entry), and never more bytes than declared are written. Nothing is
held per entry: the central directory is read again for the write.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Iterator

from hdhooks.agent.archive import _ZIP_METHODS, Checker, Damaged, Member, Unpacker
from hdhooks.agent.members import Dirs, destination, is_special, write_file
from hdhooks.agent.zipdir import Entry, ZipDir
from hdhooks.errors import InputError

_LINK_MAX = 4096  # a symlink entry's content is its target: a path, never large
_HINT = "nothing was installed; rebuild or download the bundle again"


def open_checked(location: str, checker: Checker) -> ZipUnpacker:
    """Open ``location`` and check every entry from the central directory."""
    try:
        zd = ZipDir(location)
    except (Damaged, OSError) as exc:
        raise InputError(f"{location}: not a readable zip archive ({_why(exc)})",
                         hint=_HINT) from None
    unpacker = ZipUnpacker(zd, checker)
    try:
        for entry in unpacker.entries():
            _check(zd, entry, checker)
    except BaseException:
        zd.close()
        raise
    return unpacker


class ZipUnpacker(Unpacker):
    """Writes the entries in central directory order, checking each again as it goes."""

    def __init__(self, zd: ZipDir, checker: Checker) -> None:
        self.zd, self.checker = zd, checker

    def close(self) -> None:
        self.zd.close()

    def entries(self) -> Iterator[Entry]:
        return _entries(self.zd, self.checker.archive)

    def read_file(self, rel: str, limit: int) -> bytes | None:
        found = None
        for entry in self.entries():
            if self.checker.name(entry.name) == rel:
                found = entry  # the last of that name, as it is written
        if found is None:
            return None
        try:
            return b"".join(self.zd.data(found, limit))
        except Exception as exc:  # zlib/bz2/lzma errors have no common base
            raise self.checker.refuse(found.name, f"its data is damaged ({_why(exc)})") \
                from None

    def write(self, dest: str) -> None:
        dirs = Dirs(dest, 0o777)  # as unzip: the umask's mode unless the entry has one
        self.checker = checker = Checker(self.checker.archive, self.checker.limits)
        for entry in self.entries():
            member = _check(self.zd, entry, checker)
            path = destination(dest, member.rel, self.strip) if member else None
            if member is None or path is None:
                continue
            try:
                _write(self.zd, entry, member, path, dirs)
            except InputError:
                raise
            except OSError as exc:
                if exc.filename:
                    raise  # the disk, not the archive
                raise checker.refuse(entry.name, f"its data is damaged ({_why(exc)})") \
                    from None
            except Exception as exc:  # zlib/bz2/lzma errors have no common base
                raise checker.refuse(entry.name, f"its data is damaged ({_why(exc)})") \
                    from None
        for path, held in reversed(dirs.pending):
            assert isinstance(held, Entry)
            _meta(path, held)


def _entries(zd: ZipDir, archive: str) -> Iterator[Entry]:
    """The central directory's entries; one that does not add up is one line naming
    the archive."""
    try:
        yield from zd.entries()
    except (Damaged, OSError) as exc:
        raise InputError(f"{archive}: not a readable zip archive ({_why(exc)})",
                         hint=_HINT) from None


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.replace("\n", " ")


def _check(zd: ZipDir, entry: Entry, checker: Checker) -> Member | None:
    name = entry.name
    if entry.flags & 0x41:  # bit 0: encrypted; bit 6: strong encryption
        raise checker.refuse(name, "it is encrypted; hdhooks does not decrypt bundles")
    if entry.flags & 0x20:
        raise checker.refuse(name, "it holds patch data (general purpose flag bit 5), "
                                   "which hdhooks does not apply")
    if entry.method not in _ZIP_METHODS:
        raise checker.refuse(name, f"it uses compression method {entry.method}, "
                                   "not stored, deflate, bzip2 or lzma")
    mode = entry.mode
    if is_special(mode):
        raise checker.refuse(name, "it is a device or FIFO; only files, directories and "
                                   "links are allowed")
    if entry.is_dir():
        return checker.add(name, "dir")
    if stat.S_ISLNK(mode):
        if entry.size > _LINK_MAX:
            raise checker.refuse(name, "its symbolic link target is longer than 4096 bytes")
        try:
            target = b"".join(zd.data(entry)).decode("utf-8")
        except UnicodeDecodeError:
            raise checker.refuse(name, "its symbolic link target is not UTF-8") from None
        except Exception as exc:
            raise checker.refuse(name, f"its data is damaged ({_why(exc)})") from None
        return checker.add(name, "symlink", target=target)
    return checker.add(name, "file", entry.size)


def _write(zd: ZipDir, entry: Entry, m: Member, path: str, dirs: Dirs) -> None:
    dirs.parent(path)
    if m.kind == "dir":
        dirs.member(path, m.replaces, entry)
        return
    if m.replaces and os.path.lexists(path) and not os.path.isdir(path):
        os.unlink(path)  # a later entry of the same name replaces it, never writes through it
    if m.kind == "symlink":
        os.symlink(m.target, path)
        return
    fd = write_file(path, zd.data(entry), entry.size, 0o666)
    try:
        _meta(fd, entry)
    finally:
        os.close(fd)


def _meta(where: int | str, entry: Entry) -> None:
    """Mode and time as unzip restores them (mode only when the zip recorded one)."""
    mode = entry.mode
    if mode & 0o7777:
        os.chmod(where, mode & 0o7777)
    stamp = _local_time(entry.dos_time)
    os.utime(where, (stamp, stamp))


@functools.lru_cache(maxsize=1024)
def _local_time(dos_time: int) -> float:
    """A DOS time (local, as zip records it) as seconds; most entries share a few."""
    import time

    d, t = dos_time >> 16, dos_time & 0xFFFF
    return time.mktime(((d >> 9) + 1980, (d >> 5) & 0xF, d & 0x1F,
                        t >> 11, (t >> 5) & 0x3F, (t & 0x1F) * 2, 0, 0, -1))
