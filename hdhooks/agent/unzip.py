"""The zip half of the bundle extractor (see :mod:`hdhooks.agent.archive`).

Every entry is checked before the first is written: encrypted entries,
compression methods other than stored/deflate/bzip2/lzma, devices and
FIFOs, names and link targets as for tar, sizes as the central directory
declares them. Each entry's CRC is checked as it is written into the
private staging directory (zipfile raises at the end of a bad entry), and
never more bytes than declared are written.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, cast

from hdhooks.agent.archive import (
    _ZIP_METHODS,
    Checker,
    Dirs,
    Member,
    Unpacker,
    destination,
    is_special,
    write_file,
)
from hdhooks.errors import InputError

if TYPE_CHECKING:
    import zipfile

_LINK_MAX = 4096  # a symlink entry's content is its target: a path, never large


def open_checked(location: str, checker: Checker) -> ZipUnpacker:
    """Open ``location`` and check every entry from the central directory."""
    import zipfile

    try:
        zf = zipfile.ZipFile(location)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(f"{location}: not a readable zip archive ({exc})",
                         hint="nothing was installed; rebuild or download the bundle again") \
            from None
    try:
        for info in zf.infolist():
            _check(zf, info, checker)
    except BaseException:
        zf.close()
        raise
    return ZipUnpacker(zf, checker)


class ZipUnpacker(Unpacker):
    """Writes the entries in order, checking each again as it goes (zipfile keeps
    the central directory; nothing more is held per entry)."""

    def __init__(self, zf: zipfile.ZipFile, checker: Checker) -> None:
        self.zf, self.checker = zf, checker

    def close(self) -> None:
        self.zf.close()

    def read_file(self, rel: str, limit: int) -> bytes | None:
        found = [i for i in self.zf.infolist() if self.checker.name(i.filename) == rel]
        if not found:
            return None
        try:
            with self.zf.open(found[-1]) as src:
                return src.read(limit)
        except Exception as exc:  # zlib/bz2/lzma errors have no common base
            raise self.checker.refuse(found[-1].filename,
                                      f"its data is damaged ({_why(exc)})") from None

    def write(self, dest: str) -> None:
        dirs = Dirs(dest, 0o777)  # as unzip: the umask's mode unless the entry has one
        self.checker = checker = Checker(self.checker.archive, self.checker.limits)
        for info in self.zf.infolist():
            member = _check(self.zf, info, checker)
            path = destination(dest, member.rel, self.strip) if member else None
            if member is None or path is None:
                continue
            try:
                _write(self.zf, info, member, path, dirs)
            except InputError:
                raise
            except OSError as exc:
                if exc.filename:
                    raise  # the disk, not the archive
                raise checker.refuse(info.filename, f"its data is damaged ({_why(exc)})") \
                    from None
            except Exception as exc:  # zlib/bz2/lzma errors have no common base
                raise checker.refuse(info.filename, f"its data is damaged ({_why(exc)})") \
                    from None
        for path, held in reversed(dirs.pending):
            _meta(path, cast("zipfile.ZipInfo", held))


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.replace("\n", " ")


def _check(zf: zipfile.ZipFile, info: zipfile.ZipInfo, checker: Checker) -> Member | None:
    name = info.filename
    if info.flag_bits & 0x1:
        raise checker.refuse(name, "it is encrypted; hdhooks does not decrypt bundles")
    if info.compress_type not in _ZIP_METHODS:
        raise checker.refuse(name, f"it uses compression method {info.compress_type}, "
                                   "not stored, deflate, bzip2 or lzma")
    mode = info.external_attr >> 16
    if is_special(mode):
        raise checker.refuse(name, "it is a device or FIFO; only files, directories and "
                                   "links are allowed")
    if info.is_dir():
        return checker.add(name, "dir")
    if stat.S_ISLNK(mode):
        if info.file_size > _LINK_MAX:
            raise checker.refuse(name, "its symbolic link target is longer than 4096 bytes")
        try:
            target = zf.read(info).decode("utf-8")
        except UnicodeDecodeError:
            raise checker.refuse(name, "its symbolic link target is not UTF-8") from None
        except Exception as exc:
            raise checker.refuse(name, f"its data is damaged ({_why(exc)})") from None
        return checker.add(name, "symlink", target=target)
    return checker.add(name, "file", info.file_size)


def _write(zf: zipfile.ZipFile, info: zipfile.ZipInfo, m: Member, path: str,
           dirs: Dirs) -> None:
    dirs.parent(path)
    if m.kind == "dir":
        dirs.member(path, m.replaces, info)
        return
    if m.replaces and os.path.lexists(path) and not os.path.isdir(path):
        os.unlink(path)  # a later entry of the same name replaces it, never writes through it
    if m.kind == "symlink":
        os.symlink(m.target, path)
        return
    with zf.open(info) as src:
        fd = write_file(path, src, info.file_size, 0o666)
    try:
        _meta(fd, info)
    finally:
        os.close(fd)


def _meta(where: int | str, info: zipfile.ZipInfo) -> None:
    """Mode and time as unzip restores them (mode only when the zip recorded one)."""
    import time

    mode = info.external_attr >> 16
    if mode & 0o7777:
        os.chmod(where, mode & 0o7777)
    stamp = time.mktime((*info.date_time, 0, 0, -1))
    os.utime(where, (stamp, stamp))
