"""The tar half of the bundle extractor (see :mod:`hdhooks.agent.archive`).

The whole archive is read once to check it: every member against the rules,
then the end-of-archive block and the compressed stream's trailer (CRC,
length). Writing reads it again from the start, member by member, in one
pass per file: create without following a link, copy, then owner, mode and
times on the open descriptor. Both passes read the headers with
:mod:`hdhooks.agent.tarread`, which holds nothing per member.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Iterator
from typing import BinaryIO, cast

from hdhooks.agent.archive import Checker, Damaged, Member, Unpacker
from hdhooks.agent.members import Dirs, Owners, destination, write_file
from hdhooks.agent.tarread import Header, NotTar, TarReader, Unsupported, read_data
from hdhooks.errors import InputError

_KINDS = {b"0": "file", b"\0": "file", b"7": "file", b"5": "dir", b"2": "symlink",
          b"1": "hardlink"}
# What the stream or the reader raise on a damaged archive (zlib: a corrupt deflate
# stream, which GzipFile does not wrap).
_ERRORS = (EOFError, OSError, ValueError, zlib.error, Damaged, Unsupported)


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
    stream = _open_stream(location)
    unpacker = TarUnpacker(location, stream, checker)
    try:
        for head, _ in _checked(TarReader(stream), checker):
            if head.name.rsplit("/", 1)[-1] in appspec_names:
                unpacker.candidates[checker.name(head.name)] = head
        _check_end(stream)
    except _ERRORS as exc:
        stream.close()
        raise _failure(location, exc) from None
    except BaseException:
        stream.close()
        raise
    return unpacker


def _failure(location: str, exc: BaseException) -> InputError:
    """The one line for an archive that does not read."""
    if isinstance(exc, NotTar):
        return InputError(f"{location}: not a tar archive ({exc})")
    if isinstance(exc, Unsupported):
        return InputError(f"{location}: refused: {exc}",
                          hint="nothing was installed; rebuild the bundle")
    return damaged(location, exc)


def _checked(reader: TarReader, checker: Checker) -> Iterator[tuple[Header, Member]]:
    """Each member with its checked form, holding none of them: memory stays flat in
    the number of members."""
    while (head := reader.next()) is not None:
        kind = _KINDS.get(head.type)
        if kind is None or head.sparse:
            what = "a device" if head.type in (b"3", b"4") else (
                "a FIFO" if head.type == b"6" else
                "a sparse file (tar --sparse), which hdhooks does not expand" if head.sparse
                else f"of type {head.type!r}")
            raise checker.refuse(head.name, f"it is {what}; only files, directories and "
                                            "links are allowed")
        member = checker.add(head.name, kind, head.size, head.linkname)
        if member is not None:
            yield head, member


def _check_end(stream: BinaryIO) -> None:
    """The reader stopped at the end-of-archive block (a stream that ends before it is
    truncated); a compressed stream must also end with a good trailer."""
    while stream.read(1 << 20):
        pass


class TarUnpacker(Unpacker):
    """Reads the archive again to write it, checking each member again as it goes
    (the same rules on the same bytes; a bundle changed since is still refused)."""

    def __init__(self, location: str, stream: BinaryIO, checker: Checker) -> None:
        self.location, self.stream, self.checker = location, stream, checker
        self.candidates: dict[str, Header] = {}  # appspec-named members

    def close(self) -> None:
        self.stream.close()

    def _reader(self) -> TarReader:
        self.stream.seek(0)
        return TarReader(self.stream)

    def read_file(self, rel: str, limit: int) -> bytes | None:
        try:
            return self._read_file(rel, limit)
        except _ERRORS as exc:
            raise _failure(self.location, exc) from None

    def _read_file(self, rel: str, limit: int) -> bytes | None:
        seen: set[str] = set()
        while rel in self.checker.hardlinks and rel not in seen:  # to the file it names
            seen.add(rel)
            rel = self.checker.hardlinks[rel]
        head = self.candidates.get(rel)
        if head is None or head.type == b"1":  # another name: one pass to its last member
            head = None
            for other, m in _checked(self._reader(), Checker(self.location,
                                                             self.checker.limits)):
                if m.rel == rel:
                    head = other
        if head is None or head.type == b"1":  # links that only lead to each other
            return None
        return read_data(self.stream, head, limit)

    def write(self, dest: str) -> None:
        try:
            self._write(self._reader(), dest)
        except _ERRORS as exc:
            if isinstance(exc, OSError) and exc.filename:
                raise  # the disk, not the archive: the caller names the file
            raise _failure(self.location, exc) from None

    def _write(self, reader: TarReader, dest: str) -> None:
        dirs, owners = Dirs(dest), Owners()
        self.checker = checker = Checker(self.location, self.checker.limits)
        for head, m in _checked(reader, checker):
            path = destination(dest, m.rel, self.strip)
            if path is None:
                continue
            dirs.parent(path)
            if m.kind == "dir":
                dirs.member(path, m.replaces, head)
                continue
            if m.replaces and os.path.lexists(path) and not os.path.isdir(path):
                os.unlink(path)  # a later member of the same name replaces the earlier one
            if m.kind == "symlink":
                os.symlink(m.target, path)
                if owners.root:
                    os.chown(path, *_ids(owners, head), follow_symlinks=False)
            elif m.kind == "hardlink":
                os.link(destination(dest, m.target, self.strip) or dest, path,
                        follow_symlinks=False)
            else:
                fd = write_file(path, reader.data(head), head.size)
                try:
                    _meta(fd, head, owners)
                finally:
                    os.close(fd)
        _check_end(self.stream)
        for path, held in reversed(dirs.pending):
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                _meta(fd, cast(Header, held), owners)
            finally:
                os.close(fd)


def _ids(owners: Owners, info: Header) -> tuple[int, int]:
    return owners.ids(info.uname, info.uid, info.gname, info.gid)


def _meta(fd: int, info: Header, owners: Owners) -> None:
    """As ``tar -xpsf``: owner by name (else id) as root, then mode, then time."""
    if owners.root:
        os.fchown(fd, *_ids(owners, info))
    os.fchmod(fd, info.mode & 0o7777)
    os.utime(fd, (info.mtime, info.mtime))
