"""Tar archives read header by header, for the extractor (:mod:`hdhooks.agent.untar`).

:mod:`tarfile` spends some forty Python calls on each member's header (and
hdhooks reads every header twice: once to check, once to write); it keeps
every header it has read, reads GNU long names and pax headers of any size
whole into memory, follows chains of them by recursion, and takes what does
not parse in a pax header for 0. This reader parses a header with one
``struct`` unpack, holds nothing but the member it has just read, and is
strict. It reads what bundles are built as: v7, ustar (with its 155-byte
prefix), GNU (``././@LongLink`` long names and link names, base-256
numbers) and pax (per-member ``x`` headers, global ``g`` headers), and
yields each member as tarfile would see it: the same name, type, size,
mode, ids, owner names, time and link name. Names are decoded as tarfile
decodes them on Linux (UTF-8, surrogateescape for other bytes) and never
cut at a NUL inside a pax value: the caller refuses such a name.

Everything that does not add up is :class:`Damaged` (:class:`Truncated` when
the stream ends early): a header whose checksum (unsigned or signed sum, as
tarfile accepts) is wrong, a numeric field that is not octal or base-256, a
negative size, an id or time no system could set, a pax record whose length
is not a number, is zero, runs past the header or does not end in a
newline, two long names (or two pax headers) for one member, or one followed
by the end of the archive. Before the first member is read, damage is
:class:`NotTar`. A long name, long link name or pax header over
:data:`EXT_MAX` bytes is :class:`Unsupported` (tarfile reads any size), and
so is a global pax header that would give every member one path, link or
size. The archive ends at its first all-zero block (as tarfile and GNU tar
read it); a stream that ends before that block is :class:`Truncated`.

Types are tarfile's: ``0``, ``\\0`` and ``7`` (contiguous) are files, except
that ``\\0`` with a name ending in ``/`` is a directory (v7); the size of a
link, directory, device or FIFO is not followed by data. GNU sparse files
(type ``S``, or ``GNU.sparse`` pax records) are marked :attr:`Header.sparse`
for the caller to refuse: their data is a map and pieces, not the file, and
the reader goes no further than such a member.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from hdhooks.agent.archive import Damaged

BLOCK = 512
EXT_MAX = 1 << 20  # a long name, long link name or pax header: read into memory whole
_CHUNK = 1 << 20  # data is read and handed on in pieces of at most this
_SKIP_READ = 64 << 10  # data skipped by reading it with the next header, up to this
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s8x32s32s8s8s155s12x")
_ZEROS = bytes(BLOCK)
_HIGH = bytes(range(0x80, 0x100))
_OCTAL_TEXT = b"01234567 \0"
_ZERO_FIELDS = frozenset((b"0000000\0", bytes(8), b"000000 \0", b"0000000 "))  # devices
_EVEN_BYTES = int.from_bytes(b"\xff\0" * (BLOCK // 2), "little")
_ID_MAX = (1 << 32) - 2  # uid_t and gid_t; (uid_t)-1 means "leave it"
_TIME_MAX = 1 << 62  # within time_t, whatever the fraction
_DIR, _LONG_NAME, _LONG_LINK, _PAX, _GLOBAL = b"5", b"L", b"K", b"x", b"g"
_EXTENSIONS = {_LONG_NAME: "GNU long name header (type 'L')",
               _LONG_LINK: "GNU long link name header (type 'K')",
               _PAX: "pax header (type 'x')", b"X": "pax header (type 'X')",
               _GLOBAL: "global pax header (type 'g')"}
# Types tarfile reads no data after (their size field notwithstanding): links, devices,
# FIFOs, directories. Files, sparse files and types tarfile does not know have data.
_NO_DATA = frozenset((b"1", b"2", b"3", b"4", _DIR, b"6"))
_GLOBAL_FIELDS = (b"uid", b"gid", b"uname", b"gname", b"mtime")  # what a 'g' header may set


class Truncated(Damaged, EOFError):
    """The stream ends before the archive does."""


class NotTar(Damaged):
    """Damage before the first member: this is not a tar archive."""


class Unsupported(Exception):
    """A well-formed archive asks for more than the reader takes on."""


@dataclass(slots=True)
class Header:
    """One member, its extension headers (long names, pax records) applied."""

    name: str
    type: bytes  # the type flag byte, as tarfile's ``TarInfo.type``
    size: int
    mode: int
    uid: int
    gid: int
    uname: str
    gname: str
    mtime: float  # an int but from a pax header, which may have a fraction (as tarfile)
    linkname: str
    offset: int  # where its data starts in the (decompressed) stream
    sparse: bool = False  # a GNU sparse file, which the reader does not expand


class TarReader:
    """One pass over a tar stream from its start: :meth:`next` member, then (if it
    is wanted) that member's :meth:`data`; the data not read is skipped."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.pos = 0  # bytes of the stream read (or seeked over)
        self.members = 0  # members returned so far
        self.ended = False  # the end-of-archive block was read
        self._current: Header | None = None
        self._data_end = 0  # where the current member's data ends
        self._next_at = 0  # where the next header starts
        self._globals: dict[bytes, bytes] = {}  # 'g' records, for every member after
        raw = getattr(stream, "raw", None)
        self._seekable = isinstance(stream, io.BufferedReader) and isinstance(raw, io.FileIO)

    def __iter__(self) -> Iterator[Header]:
        while (head := self.next()) is not None:
            yield head

    def next(self) -> Header | None:
        """The next member; None at the end-of-archive block."""
        if self.ended:
            return None
        if self._current is not None and self._current.sparse:
            raise Damaged(f"the sparse member at byte {self._current.offset - BLOCK} is not "
                          "read past")
        try:
            return self._next()
        except NotTar:
            raise
        except Damaged as exc:
            if self.members or isinstance(exc, Truncated):
                raise
            raise NotTar(str(exc)) from None

    def _next(self) -> Header | None:
        skip = self._next_at - self.pos
        self._current = None
        pending: list[tuple[bytes, bytes | dict[bytes, bytes]]] = []  # in archive order
        while True:
            at = self.pos + skip
            buf = self._block(skip)
            skip = 0
            if buf == _ZEROS:
                if pending:
                    raise Damaged(f"the {_EXTENSIONS[pending[-1][0]]} before byte {at} is "
                                  "followed by the end of the archive, not by a member")
                self.ended = True
                return None
            head = _parse(buf, at)
            head.offset = self.pos
            kind = head.type
            if kind not in _EXTENSIONS:
                break
            what = _EXTENSIONS[kind]
            if head.size < 0:
                raise Damaged(f"the {what} at byte {at} has a negative size")
            if head.size > EXT_MAX:
                raise Unsupported(f"its {what} at byte {at} is {head.size} bytes, more than "
                                  f"the {EXT_MAX} hdhooks reads (no name or link needs that)")
            raw = self._read(head.size, BLOCK * -(-head.size // BLOCK))
            if kind == _GLOBAL:
                if pending:
                    raise Damaged(f"a {what} at byte {at} comes between a member's "
                                  "extension headers and the member")
                self._global(_records(raw, at), at)
                continue
            if kind == b"X":
                kind = _PAX
            if any(k == kind for k, _ in pending):
                raise Damaged(f"a second {what} at byte {at} for one member")
            pending.append((kind, _records(raw, at) if kind == _PAX
                            else raw.partition(b"\0")[0]))
        if self._globals:
            _apply(head, self._globals, at)
            if head.type == _DIR:
                head.name = head.name.rstrip("/")
        for kind, value in reversed(pending):  # the first one wins, as in tarfile
            if isinstance(value, dict):
                _apply(head, value, at)
            elif kind == _LONG_NAME:
                head.name = _decode(value)
                if head.type == _DIR:
                    head.name = head.name.removesuffix("/")
            else:
                head.linkname = _decode(value)
        if head.type == b"S":
            head.sparse = True
        _check(head, at)
        self._current = head
        self.members += 1
        if head.type in _NO_DATA:
            self._data_end = self._next_at = head.offset
        else:
            self._data_end = head.offset + head.size
            self._next_at = head.offset + BLOCK * -(-head.size // BLOCK)
        return head

    def data(self, head: Header) -> Iterator[bytes]:
        """The content of ``head``, the member :meth:`next` just returned, in pieces of
        at most 1 MiB: exactly its size, or :class:`Truncated`."""
        if head is not self._current or head.sparse:
            raise ValueError("data() reads the member next() just returned")
        while self.pos < self._data_end:
            left = self._data_end - self.pos
            if left <= _CHUNK:  # the last piece, and its padding in the same read
                piece = self._read(left, self._next_at - self.pos)
                yield piece
                return
            piece = self.stream.read(_CHUNK)
            if not piece:
                raise Truncated("the stream ends inside a member's data")
            self.pos += len(piece)
            yield piece

    def _block(self, skip: int) -> bytes:
        """The 512-byte block after the next ``skip`` bytes (the data not read of the
        member before, read in the same call when it is small)."""
        if skip > _SKIP_READ or (skip and self._seekable):
            self._skip(skip)
        elif skip:
            return self._read(skip + BLOCK, skip + BLOCK)[skip:]
        buf = self._fill(BLOCK)
        if len(buf) < BLOCK:
            if self.pos == len(buf):
                raise NotTar("truncated header" if buf else "empty file")
            raise Truncated("the stream ends inside a header")
        return buf

    def _read(self, size: int, whole: int) -> bytes:
        """``whole`` bytes (``size`` and its padding); the first ``size`` of them."""
        buf = self._fill(whole)
        if len(buf) < whole:
            raise Truncated("the stream ends inside a member")
        return buf if size == whole else buf[:size]

    def _fill(self, count: int) -> bytes:
        """The next ``count`` bytes, fewer only where the stream ends."""
        buf = self.stream.read(count)
        while 0 < len(buf) < count and (more := self.stream.read(count - len(buf))):
            buf += more
        self.pos += len(buf)
        return buf

    def _skip(self, count: int) -> None:
        if self._seekable:  # a plain file: a cut is found at the next header
            self.stream.seek(count, io.SEEK_CUR)
            self.pos += count
            return
        while count:
            piece = self.stream.read(min(count, _CHUNK))
            if not piece:
                raise Truncated("the stream ends inside a member's data")
            self.pos += len(piece)
            count -= len(piece)

    def _global(self, records: dict[bytes, bytes], at: int) -> None:
        """A 'g' header: its owner and time records apply to every member after it,
        as tarfile applies them; one setting a path, link or size for all is refused."""
        for key in records:
            if key in (b"path", b"linkpath", b"size") or key.startswith(b"GNU.sparse."):
                raise Unsupported(f"its global pax header (type 'g') at byte {at} sets "
                                  f"{_decode(key)!r} for every member after it, which "
                                  "hdhooks does not apply")
        self._globals.update((k, v) for k, v in records.items() if k in _GLOBAL_FIELDS)
        _apply(_scratch(), self._globals, at)  # refuse what does not parse, once


def read_data(stream: BinaryIO, head: Header, limit: int) -> bytes:
    """At most ``limit`` bytes of ``head``'s content, found again in ``stream``
    (for a member an earlier pass returned)."""
    stream.seek(head.offset)
    want = head.size if limit < 0 else min(limit, head.size)
    data = stream.read(want)
    if len(data) < want:
        raise Truncated("the stream ends inside a member's data")
    return data


def _parse(buf: bytes, at: int) -> Header:
    """One header block, as tarfile's ``TarInfo.frombuf`` reads it."""
    (name, mode, uid, gid, size, mtime, chksum, kind, link, uname, gname, major, minor,
     prefix) = _HEADER.unpack(buf)
    fields = (chksum, mode, uid, gid, size, mtime)
    values = None
    if (not (buf[100:156] + buf[329:345]).translate(None, _OCTAL_TEXT)
            and major in _ZERO_FIELDS and minor in _ZERO_FIELDS):
        try:  # octal digits, spaces and NULs only: what tar writers write
            values = [int(f.partition(b"\0")[0] or b"0", 8) for f in fields]
        except ValueError:  # a space inside the digits, a field of spaces
            pass
    try:
        stored = values[0] if values else _number(chksum, at)
    except Damaged:
        stored = -1
    unsigned = 256 + _byte_sum(buf) - sum(chksum)  # the checksum field counts as spaces
    if stored != unsigned and stored != unsigned - 256 * _high_bytes(buf, chksum):
        raise Damaged(f"the header at byte {at} has a bad checksum")
    if values is None:  # each field as tarfile reads it: base-256, blanks, damage
        values = [stored, *(_number(f, at) for f in fields[1:])]
        _number(major, at), _number(minor, at)  # a device's numbers: checked, not kept
    text = _decode(name.partition(b"\0")[0])
    if kind == b"\0" and text.endswith("/"):
        kind = _DIR  # v7: a directory is a file whose name ends in a slash
    if kind == _DIR:
        text = text.rstrip("/")
    if prefix[0] and kind not in (_LONG_NAME, _LONG_LINK, b"S"):
        text = _decode(prefix.partition(b"\0")[0]) + "/" + text  # ustar
    return Header(text, kind, values[4], values[1], values[2], values[3],
                  _decode(uname.partition(b"\0")[0]), _decode(gname.partition(b"\0")[0]),
                  values[5], _decode(link.partition(b"\0")[0]), 0)


def _byte_sum(buf: bytes) -> int:
    """``sum(buf)`` for a 512-byte block, in half the time: its even and its odd bytes
    as the 16-bit digits of two numbers, each digit at most 255 and 256 of them, so
    that their sum (less than 65535) is each number's remainder by 65535."""
    number = int.from_bytes(buf, "little")
    return (number & _EVEN_BYTES) % 0xFFFF + ((number >> 8) & _EVEN_BYTES) % 0xFFFF


def _high_bytes(buf: bytes, chksum: bytes) -> int:
    """Bytes of 0x80 or more outside the checksum field: a signed sum counts each
    of them 256 less."""
    return (BLOCK - len(buf.translate(None, _HIGH))) - (8 - len(chksum.translate(None, _HIGH)))


def _number(field: bytes, at: int) -> int:
    """A numeric field: octal digits (spaces around, a NUL after, as tarfile reads
    them) or GNU's base-256 (a first byte of 0x80, or 0xff for a negative number)."""
    if field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        if field[0] == 0x80:
            return value
        if field[0] == 0xFF:
            return value - (1 << (8 * (len(field) - 1)))
    else:
        text = field.partition(b"\0")[0].strip()
        if not text:
            return 0
        if text.isdigit() and b"8" not in text and b"9" not in text:
            return int(text, 8)
    raise Damaged(f"the header at byte {at} has a numeric field that is not a number")


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _records(raw: bytes, at: int) -> dict[bytes, bytes]:
    """A pax header's ``LENGTH KEYWORD=VALUE\\n`` records (a later one of a keyword wins)."""
    records: dict[bytes, bytes] = {}
    pos, end = 0, len(raw)
    while pos < end:
        space = raw.find(b" ", pos, min(end, pos + 8))  # 1 MiB is 7 digits
        digits = raw[pos:space] if space > pos else b""
        length = int(digits) if digits.isdigit() else 0
        stop = pos + length
        equals = raw.find(b"=", space + 1, stop - 1) if length > 0 and stop <= end else -1
        if equals <= space + 1 or raw[stop - 1] != 0x0A:
            raise Damaged(f"the pax header at byte {at} has a malformed record at its "
                          f"byte {pos}")
        records[raw[space + 1:equals]] = raw[equals + 1:stop - 1]
        pos = stop
    return records


def _apply(head: Header, records: dict[bytes, bytes], at: int) -> None:
    """Pax records over the header's fields, as tarfile's ``_apply_pax_info``; a number
    that does not parse is damage (tarfile takes it for 0)."""
    for key, value in records.items():
        if key == b"path":
            head.name = _decode(value).rstrip("/")
        elif key == b"linkpath":
            head.linkname = _decode(value)
        elif key in (b"size", b"uid", b"gid"):
            if not value.isdigit() or len(value) > 20:
                raise Damaged(f"the pax header before byte {at} has a {_decode(key)} that is "
                              "not a whole number")
            setattr(head, key.decode(), int(value))
        elif key in (b"uname", b"gname"):
            if b"\0" in value:
                raise Damaged(f"the pax header before byte {at} has a {_decode(key)} with a "
                              "NUL byte in it")
            setattr(head, key.decode(), _decode(value))
        elif key == b"mtime":
            head.mtime = _time(value, at)
        elif key.startswith(b"GNU.sparse."):
            head.sparse = True
            if key == b"GNU.sparse.name":
                head.name = _decode(value)


def _time(value: bytes, at: int) -> float:
    """A pax time: seconds, maybe negative, maybe with a fraction (tarfile's float)."""
    whole, dot, fraction = value.removeprefix(b"-").partition(b".")
    if not whole.isdigit() or len(whole) > 20 or (dot and not fraction.isdigit()):
        raise Damaged(f"the pax header before byte {at} has an mtime that is not a number")
    return float(value)


def _check(head: Header, at: int) -> None:
    """What no system could write back: a negative size, an id beyond uid_t, a time
    beyond time_t."""
    if head.size < 0:
        raise Damaged(f"the header at byte {at} has a negative size")
    if not (0 <= head.uid <= _ID_MAX and 0 <= head.gid <= _ID_MAX):
        raise Damaged(f"the header at byte {at} has a uid or gid out of range")
    if not -_TIME_MAX < head.mtime < _TIME_MAX:
        raise Damaged(f"the header at byte {at} has an mtime out of range")


def _scratch() -> Header:
    return Header("", b"0", 0, 0, 0, 0, "", "", 0, "", 0)
