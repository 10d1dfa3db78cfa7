"""Zip archives read from their central directory, one entry at a time.

:mod:`zipfile` keeps an object per entry for as long as the archive is open
(about 600 bytes each: 30 MB at 50,000 entries) and does a few dozen Python
calls per entry to open it. This reader streams the central directory in
1 MiB reads, holds nothing per entry, and reads each entry's local header
and data with one ``pread``. It understands what bundles use: stored,
deflate, bzip2 and lzma entries, Zip64 sizes, offsets and counts, data
descriptors, and leading bytes before the archive (as zipfile and unzip do).

Everything that does not add up is :class:`Damaged`: a central directory
that does not parse to its declared size, entries whose headers and data
take more room than the archive has (overlapping entries would each read
the same bytes again), a local header that does not match its central
entry (signature, name), data outside the archive or reaching into the
central directory, an LZMA dictionary over 64 MiB, fewer or more bytes than declared
once decompressed, or a CRC that differs. Names are decoded as zipfile
decodes them (UTF-8 when the entry says so, else cp437), and never cut at
a NUL byte: the caller refuses such a name.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from hdhooks.agent.archive import Damaged

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory, 22 bytes
_EOCD64_LOCATOR = struct.Struct("<4sLQL")  # 20 bytes, just before the end record
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # Zip64 end of central directory, 56 bytes
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # one central directory entry, 46 bytes
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # one local header, 30 bytes
_MAX_COMMENT = 0xFFFF
_CHUNK = 1 << 20
_U32, _U16 = 0xFFFFFFFF, 0xFFFF
_LZMA_DICT_MAX = 64 << 20


@dataclass(frozen=True, slots=True)
class Entry:
    """One central directory entry, as far as extraction needs it."""

    name: str
    raw_name: bytes
    flags: int
    method: int
    crc: int
    compressed: int
    size: int
    attr: int  # external attributes: the Unix mode in the high 16 bits
    dos_time: int  # DOS date << 16 | DOS time
    offset: int  # of the local header, leading bytes included

    @property
    def mode(self) -> int:
        return self.attr >> 16

    def is_dir(self) -> bool:
        return self.name.endswith("/")


class _Decompressor(Protocol):
    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...

    @property
    def eof(self) -> bool: ...


class ZipDir:
    """An open zip archive: its central directory found, nothing else read yet."""

    def __init__(self, location: str) -> None:
        self.fd = os.open(location, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._find_end()
        except BaseException:
            os.close(self.fd)
            raise

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _find_end(self) -> None:
        length = os.fstat(self.fd).st_size
        tail_at = max(0, length - _EOCD.size - _MAX_COMMENT)
        tail = os.pread(self.fd, length - tail_at, tail_at)
        at = tail.rfind(b"PK\x05\x06")
        while at >= 0 and not _ends_file(tail, at):
            at = tail.rfind(b"PK\x05\x06", 0, at)  # a signature inside the comment
        if at < 0:
            raise Damaged("no end of central directory record (not a zip, or truncated)")
        _, disk, cd_disk, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
        end_at = tail_at + at
        record_at = end_at  # where the (Zip64) end record begins: the directory ends there
        if end_at >= _EOCD64_LOCATOR.size:
            loc = os.pread(self.fd, _EOCD64_LOCATOR.size, end_at - _EOCD64_LOCATOR.size)
            if loc[:4] == b"PK\x06\x07":
                _, disk64, _, disks = _EOCD64_LOCATOR.unpack(loc)
                record_at = end_at - _EOCD64_LOCATOR.size - _EOCD64.size
                rec = os.pread(self.fd, _EOCD64.size, record_at) if record_at >= 0 else b""
                if len(rec) != _EOCD64.size or rec[:4] != b"PK\x06\x06":
                    raise Damaged("its Zip64 end of central directory record is missing")
                (_, _, _, _, disk, cd_disk, _, count, cd_size,
                 cd_offset) = _EOCD64.unpack(rec)
                if disk64 != 0 or disks > 1:
                    disk = 1
        if disk != 0 or cd_disk != 0:
            raise Damaged("it spans several disks")
        self.count = count
        self.cd_size = cd_size
        self.cd_start = record_at - cd_size  # where the directory really is
        self.concat = self.cd_start - cd_offset  # bytes before the archive (self-extractors)
        if self.cd_start < 0 or self.concat < 0:
            raise Damaged("its central directory lies outside the file")

    def entries(self) -> Iterator[Entry]:
        """Every entry in central directory order, read in 1 MiB pieces. Entries that
        share their bytes (each would read them again) do not fit in the archive."""
        buf, pos, read_at, left = b"", 0, self.cd_start, self.cd_size
        room = self.cd_start - self.concat  # what the local headers and data lie in
        while left or pos < len(buf):
            if len(buf) - pos < _CENTRAL.size and left:
                buf, pos, read_at, left = self._more(buf, pos, read_at, left)
            if len(buf) - pos < _CENTRAL.size:
                raise Damaged("its central directory ends inside an entry")
            (sig, _, _, _, _, flags, method, t, d, crc, compressed, size, n_name, n_extra,
             n_comment, _, _, attr, offset) = _CENTRAL.unpack_from(buf, pos)
            if sig != b"PK\x01\x02":
                raise Damaged("its central directory holds something that is not an entry")
            whole = _CENTRAL.size + n_name + n_extra + n_comment
            while len(buf) - pos < whole and left:
                buf, pos, read_at, left = self._more(buf, pos, read_at, left)
            if len(buf) - pos < whole:
                raise Damaged("its central directory ends inside an entry")
            raw = buf[pos + _CENTRAL.size:pos + _CENTRAL.size + n_name]
            if n_extra and _U32 in (compressed, size, offset):
                extra = buf[pos + _CENTRAL.size + n_name:pos + _CENTRAL.size + n_name + n_extra]
                size, compressed, offset = _zip64(extra, size, compressed, offset)
            pos += whole
            try:
                name = raw.decode("utf-8" if flags & 0x800 else "cp437")
            except UnicodeDecodeError:
                raise Damaged(f"an entry's name {raw!r} is not the UTF-8 it claims") from None
            room -= _LOCAL.size + n_name + compressed
            if room < 0:
                raise Damaged(f"its entries up to {name!r} take more room than the archive "
                              "has (they overlap, or claim data it does not hold)")
            yield Entry(name, raw, flags, method, crc, compressed, size, attr,
                        d << 16 | t, offset + self.concat)

    def _more(self, buf: bytes, pos: int, read_at: int, left: int
              ) -> tuple[bytes, int, int, int]:
        piece = os.pread(self.fd, min(left, _CHUNK), read_at)
        if not piece:
            raise Damaged("its central directory ends before its declared size")
        return buf[pos:] + piece, 0, read_at + len(piece), left - len(piece)

    def data(self, entry: Entry, limit: int = -1) -> Iterator[bytes]:
        """The entry's content, decompressed, in pieces of at most 1 MiB. All of it
        (``limit`` -1, or at least its size) is checked against its size and CRC; a first
        part is not."""
        if entry.offset >= self.cd_start:
            raise Damaged("its local header would be in or past the central directory")
        head = os.pread(self.fd, _LOCAL.size + len(entry.raw_name) + 64
                        + min(entry.compressed, _CHUNK), entry.offset)
        if len(head) < _LOCAL.size:
            raise Damaged("its local header is cut short")
        sig, _, _, flags, _, _, _, _, _, _, n_name, n_extra = _LOCAL.unpack_from(head)
        if sig != b"PK\x03\x04":
            raise Damaged("no local header where the central directory says")
        if head[_LOCAL.size:_LOCAL.size + n_name] != entry.raw_name:
            raise Damaged("its local header names another file")
        if flags & 0x1:
            raise Damaged("its local header says it is encrypted")
        skip = _LOCAL.size + n_name + n_extra
        if entry.offset + skip + entry.compressed > self.cd_start:
            raise Damaged("its data runs into the central directory")
        first = head[skip:skip + entry.compressed]
        pieces = self._pieces(first, entry.offset + skip, entry.compressed)
        yield from _content(entry, pieces, limit)

    def _pieces(self, first: bytes, at: int, length: int) -> Iterator[bytes]:
        """The ``length`` bytes at ``at``, the first of them already read."""
        if first:
            yield first
        at, left = at + len(first), length - len(first)
        while left:
            piece = os.pread(self.fd, min(left, _CHUNK), at)
            if not piece:
                raise Damaged("the file ends before its data does")
            yield piece
            at, left = at + len(piece), left - len(piece)


def _content(entry: Entry, pieces: Iterator[bytes], limit: int) -> Iterator[bytes]:
    """Decompress ``pieces`` (never more than 1 MiB out at a time, whatever the ratio),
    counting and checking as it goes."""
    if entry.method == 0 and entry.compressed != entry.size:
        raise Damaged(f"it is stored with {entry.compressed} bytes for {entry.size}")
    dec, pieces = _decompressor(entry.method, pieces, entry.size)
    crc = done = 0
    for out in _outputs(dec, pieces):
        done += len(out)
        if done > entry.size:
            raise Damaged("more data than its header says")
        if 0 <= limit < entry.size and done >= limit:
            yield out[:len(out) - (done - limit)]
            return
        crc = zlib.crc32(out, crc)
        yield out
    if dec is not None and not dec.eof and not (entry.method == 14 and not entry.flags & 2):
        raise Damaged("its compressed data ends early")  # (LZMA may have no end marker)
    if done != entry.size:
        raise Damaged(f"{done} bytes where its header says {entry.size}")
    if crc != entry.crc:
        raise Damaged("bad CRC")


def _outputs(dec: _Decompressor | None, pieces: Iterator[bytes]) -> Iterator[bytes]:
    if dec is None:
        yield from pieces
        return
    tail = hasattr(dec, "unconsumed_tail")  # zlib hands back what it did not take
    for piece in pieces:
        data = piece
        while True:
            out = dec.decompress(data, _CHUNK)
            if out:
                yield out
            if tail:
                data = dec.unconsumed_tail  # type: ignore[attr-defined]
                if not data:
                    break
            elif dec.eof or dec.needs_input:  # type: ignore[attr-defined]
                break
            else:
                data = b""
        if dec.eof:
            return
    if tail and not dec.eof:
        out = dec.flush()  # type: ignore[attr-defined]
        if out:
            yield out


def _zip64(extra: bytes, size: int, compressed: int, offset: int) -> tuple[int, int, int]:
    """The 64-bit values of the Zip64 extra field for those that overflowed."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, at)
        body = extra[at + 4:at + 4 + length]
        at += 4 + length
        if kind != 1:
            continue
        fields, used = [size, compressed, offset], 0
        for i, value in enumerate(fields):
            if value == _U32:
                if used + 8 > len(body):
                    raise Damaged("its Zip64 extra field is too short")
                fields[i] = struct.unpack_from("<Q", body, used)[0]
                used += 8
        return fields[0], fields[1], fields[2]
    raise Damaged("a size or offset overflows and there is no Zip64 field")


def _ends_file(tail: bytes, at: int) -> bool:
    """Whether an end record whole at ``at`` has a comment that ends ``tail``."""
    return (len(tail) - at >= _EOCD.size
            and at + _EOCD.size + _EOCD.unpack_from(tail, at)[-1] == len(tail))


def _decompressor(method: int, pieces: Iterator[bytes], size: int
                  ) -> tuple[_Decompressor | None, Iterator[bytes]]:
    """The decompressor for ``method`` and the compressed bytes it is to take, for
    ``size`` bytes of content."""
    if method == 0:
        return None, pieces
    if method == 8:
        return zlib.decompressobj(-15), pieces
    if method == 12:
        import bz2

        return bz2.BZ2Decompressor(), pieces
    if method == 14:
        return _lzma(pieces, size)
    raise Damaged(f"compression method {method}")


def _lzma(pieces: Iterator[bytes], size: int) -> tuple[_Decompressor, Iterator[bytes]]:
    """Zip's LZMA: version (2 bytes), properties size (2), properties (5), raw LZMA1.
    The decoder holds its whole dictionary: never more than the content (matches
    reach back no further, so it decodes the same), at most 64 MiB (xz -9's)."""
    import itertools
    import lzma

    head = b""
    for piece in pieces:
        head += piece
        if len(head) >= 9:
            break
    if len(head) < 9 or head[2:4] != b"\x05\x00":
        raise Damaged("its LZMA header is not 5 bytes of properties")
    packed, dict_size = head[4], struct.unpack_from("<L", head, 5)[0]
    if packed >= 9 * 5 * 5:
        raise Damaged("its LZMA properties are out of range")
    dict_size = min(dict_size, max(size, 4096))
    if dict_size > _LZMA_DICT_MAX:
        raise Damaged(f"its LZMA dictionary is {dict_size} bytes, more than the "
                      f"{_LZMA_DICT_MAX} hdhooks holds in memory")
    dec = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[{
        "id": lzma.FILTER_LZMA1, "lc": packed % 9, "lp": packed // 9 % 5,
        "pb": packed // 45, "dict_size": dict_size}])
    return dec, itertools.chain([head[9:]], pieces)
