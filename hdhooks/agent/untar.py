"""The tar half of the bundle extractor (see :mod:`hdhooks.agent.archive`).

The whole archive is read once to check it: every member against the rules,
then the end-of-archive block and the compressed stream's trailer (CRC,
length). Writing reads it again from the start, member by member, in one
pass per file: create without following a link, copy, then owner, mode and
times on the open descriptor.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, BinaryIO, cast

from hdhooks.agent.archive import Checker, Member, Unpacker
from hdhooks.agent.members import Dirs, Owners, destination, pieces, write_file
from hdhooks.errors import InputError

if TYPE_CHECKING:
    import tarfile

_KINDS = {"file": "isreg", "dir": "isdir", "symlink": "issym", "hardlink": "islnk"}


def _open_stream(location: str) -> BinaryIO:
    """The archive's bytes, decompressed by its magic number (gzip, bzip2, xz or none)."""
    with open(location, "rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"\x1f\x8b"):
        import gzip

        return cast(BinaryIO, gzip.GzipFile(location, "rb"))
    if magic.startswith(b"BZh"):
        import bz2

        return cast(BinaryIO, bz2.BZ2File(location, "rb"))
    if magic.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, io.BufferedReader(_Xz(location), 1 << 16))
    return open(location, "rb")


XZ_MEMLIMIT = 128 << 20  # twice what xz -9 (a 64 MiB dictionary) needs to decode


class _Xz(io.RawIOBase):
    """An xz file decoded with a memory limit (``lzma.LZMAFile`` has none, and a
    stream may ask for a 4 GiB dictionary), concatenated streams and their null
    padding included; anything else after a stream is damage, as for ``xz -d``."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._fp = open(location, "rb")  # noqa: SIM115 (closed by close())
        self._start()

    def _start(self) -> None:
        import lzma

        self._fp.seek(0)
        self._dec = lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=XZ_MEMLIMIT)
        self._pos, self._left = 0, b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Forward by reading, backward by starting again (as LZMAFile does)."""
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("an xz stream can only seek from its start")
        if offset < self._pos:
            self._start()
        scratch = bytearray(1 << 16)
        while self._pos < offset and self.readinto(
                memoryview(scratch)[:min(len(scratch), offset - self._pos)]):
            pass
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        import lzma

        try:
            return self._readinto(buffer)
        except lzma.LZMAError as exc:
            if "memory" in str(exc).lower():
                raise InputError(f"{self.location}: its xz stream needs more than "
                                 f"{XZ_MEMLIMIT >> 20} MiB of memory to decode",
                                 hint="nothing was installed; compress it with a dictionary "
                                      "of at most 64 MiB (xz -9 or lower)") from None
            raise damaged(self.location, exc) from None

    def _readinto(self, buffer: bytearray | memoryview) -> int:
        import lzma

        while True:
            if self._dec.eof:
                rest = (self._dec.unused_data + self._left).lstrip(b"\0")
                self._left = b""
                while not rest and (more := self._fp.read(1 << 16)):
                    rest = more.lstrip(b"\0")
                if not rest:
                    return 0  # the end of the last stream
                self._dec = lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=XZ_MEMLIMIT)
                self._left = rest
            data = self._left or (self._fp.read(1 << 16) if self._dec.needs_input else b"")
            self._left = b""
            if not data and self._dec.needs_input:
                raise EOFError("unexpected end of data: the xz stream is cut short")
            out = self._dec.decompress(data, len(buffer))
            if out:
                buffer[:len(out)] = out
                self._pos += len(out)
                return len(out)

    def close(self) -> None:
        self._fp.close()
        super().close()


def damaged(location: str, exc: BaseException) -> InputError:
    if isinstance(exc, EOFError) or "unexpected end" in str(exc):
        why = "it ends before its end (truncated)"
    else:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return InputError(f"{location}: damaged archive: {why}",
                      hint="nothing was installed; rebuild or download the bundle again")


def open_checked(location: str, checker: Checker, appspec_names: tuple[str, ...]
                 ) -> TarUnpacker:
    """Open and check ``location``: every member, then the archive's end."""
    import tarfile

    stream = _open_stream(location)
    unpacker = TarUnpacker(location, stream, checker)
    try:
        try:
            tf = tarfile.open(fileobj=stream, mode="r:")  # noqa: SIM115 (closed below)
        except tarfile.TarError as exc:
            raise InputError(f"{location}: not a tar archive ({exc})") from None
        with tf:
            for info, _ in _checked(tf, checker):
                if info.name.rsplit("/", 1)[-1] in appspec_names:
                    unpacker.candidates[checker.name(info.name)] = info
            _check_end(location, stream, tf)
    except (EOFError, OSError, ValueError, tarfile.TarError) as exc:
        stream.close()
        if isinstance(exc, InputError):
            raise
        raise damaged(location, exc) from None
    except BaseException:
        stream.close()
        raise
    return unpacker


def _checked(tf: tarfile.TarFile, checker: Checker
             ) -> Iterator[tuple[tarfile.TarInfo, Member]]:
    """Each member with its checked form, holding none of them: memory stays flat in
    the number of members (tarfile would keep every header)."""
    while (info := tf.next()) is not None:
        tf.members.clear()  # type: ignore[attr-defined]
        kind = next((k for k, test in _KINDS.items() if getattr(info, test)()), None)
        if kind is None:
            what = "a device" if info.ischr() or info.isblk() else (
                "a FIFO" if info.isfifo() else f"of type {info.type!r}")
            raise checker.refuse(info.name, f"it is {what}; only files, directories and "
                                            "links are allowed")
        member = checker.add(info.name, kind, info.size, info.linkname)
        if member is not None:
            yield info, member


def _check_end(location: str, stream: IO[bytes], tf: tarfile.TarFile) -> None:
    """The end-of-archive block must be there (tarfile stops quietly at a cut), and a
    compressed stream must end with a good trailer."""
    stream.seek(tf.offset)
    block = stream.read(512)
    if len(block) < 512 or block.count(0) != 512:
        raise InputError(f"{location}: damaged archive: it ends before its end (truncated)",
                         hint="nothing was installed; rebuild or download the bundle again")
    while stream.read(1 << 20):
        pass


class TarUnpacker(Unpacker):
    """Reads the archive again to write it, checking each member again as it goes
    (the same rules on the same bytes; a bundle changed since is still refused)."""

    def __init__(self, location: str, stream: BinaryIO, checker: Checker) -> None:
        self.location, self.stream, self.checker = location, stream, checker
        self.candidates: dict[str, tarfile.TarInfo] = {}  # appspec-named members

    def close(self) -> None:
        self.stream.close()

    def _open(self) -> tarfile.TarFile:
        import tarfile

        self.stream.seek(0)
        return tarfile.open(fileobj=self.stream, mode="r:")

    def read_file(self, rel: str, limit: int) -> bytes | None:
        info = self.candidates.get(rel)
        with self._open() as tf:
            if info is None:  # a link to another name: find its last member
                for other, m in _checked(tf, Checker(self.location, self.checker.limits)):
                    if m.rel == rel:
                        info = other
            if info is not None and info.islnk():
                return self.read_file("/".join(p for p in info.linkname.split("/")
                                               if p not in ("", ".")), limit)
            src = tf.extractfile(info) if info is not None else None
            return src.read(limit) if src is not None else None

    def write(self, dest: str) -> None:
        import tarfile

        try:
            with self._open() as tf:
                self._write(tf, dest)
        except (EOFError, OSError, ValueError, tarfile.TarError) as exc:
            if isinstance(exc, InputError):
                raise
            if isinstance(exc, OSError) and exc.filename:
                raise  # the disk, not the archive: the caller names the file
            raise damaged(self.location, exc) from None

    def _write(self, tf: tarfile.TarFile, dest: str) -> None:
        dirs, owners = Dirs(dest), Owners()
        self.checker = checker = Checker(self.location, self.checker.limits)
        for info, m in _checked(tf, checker):
            path = destination(dest, m.rel, self.strip)
            if path is None:
                continue
            dirs.parent(path)
            if m.kind == "dir":
                dirs.member(path, m.replaces, info)
                continue
            if m.replaces and os.path.lexists(path) and not os.path.isdir(path):
                os.unlink(path)  # a later member of the same name replaces the earlier one
            if m.kind == "symlink":
                os.symlink(m.target, path)
                if owners.root:
                    os.chown(path, *_ids(owners, info), follow_symlinks=False)
            elif m.kind == "hardlink":
                os.link(destination(dest, m.target, self.strip) or dest, path,
                        follow_symlinks=False)
            else:
                self._file(tf, info, path, owners)
        _check_end(self.location, self.stream, tf)
        for path, held in reversed(dirs.pending):
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                _meta(fd, cast("tarfile.TarInfo", held), owners)
            finally:
                os.close(fd)

    def _file(self, tf: tarfile.TarFile, info: tarfile.TarInfo, path: str,
              owners: Owners) -> None:
        src = tf.extractfile(info)
        if src is None:
            raise InputError(f"member {info.name!r} cannot be read")
        with src:
            fd = write_file(path, pieces(src), info.size)
        try:
            _meta(fd, info, owners)
        finally:
            os.close(fd)


def _ids(owners: Owners, info: tarfile.TarInfo) -> tuple[int, int]:
    return owners.ids(info.uname, info.uid, info.gname, info.gid)


def _meta(fd: int, info: tarfile.TarInfo, owners: Owners) -> None:
    """As ``tar -xpsf``: owner by name (else id) as root, then mode, then time."""
    if owners.root:
        os.fchown(fd, *_ids(owners, info))
    os.fchmod(fd, info.mode & 0o7777)
    os.utime(fd, (info.mtime, info.mtime))
