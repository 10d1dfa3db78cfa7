"""Zip bundles as real tools write them, and as a damaged or hostile one arrives."""

from __future__ import annotations

import io
import os
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from hdhooks import fsremove
from hdhooks.agent import archive
from hdhooks.errors import InputError

BIG = bytes(range(256)) * 12_000  # 3 MiB: more than one 1 MiB read and write
STAMP = (2024, 5, 17, 13, 45, 30)


def _zip(entries: list[tuple[str, bytes, int]]) -> bytes:
    """name, content, compression method; mode 0640 and one time for all."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, method in entries:
            info = zipfile.ZipInfo(name, STAMP)
            info.compress_type = method
            info.external_attr = (0o100640 if not name.endswith("/") else 0o40750) << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _extract(tmp_path: Path, raw: bytes) -> Path:
    location = tmp_path / "b.zip"
    location.write_bytes(raw)
    dest = tmp_path / "out"
    dest.mkdir()
    archive.extract(str(location), "zip", str(dest))
    return dest


def _refused(tmp_path: Path, raw: bytes) -> str:
    with pytest.raises(InputError) as caught:
        _extract(tmp_path, raw)
    return caught.value.one_line()


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                                    zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA],
                         ids=["stored", "deflate", "bzip2", "lzma"])
def test_each_method_unpacks_content_mode_and_time(tmp_path: Path, method: int) -> None:
    dest = _extract(tmp_path, _zip([("d/", b"", method), ("d/big.bin", BIG, method),
                                    ("d/empty", b"", method), ("small.txt", b"hello\n", method)]))
    assert (dest / "d" / "big.bin").read_bytes() == BIG
    assert (dest / "d" / "empty").read_bytes() == b""
    assert (dest / "small.txt").read_bytes() == b"hello\n"
    assert os.stat(dest / "small.txt").st_mode & 0o7777 == 0o640
    assert os.stat(dest / "d").st_mode & 0o7777 == 0o750
    expected = time.mktime((*STAMP, 0, 0, -1))
    assert os.stat(dest / "d" / "big.bin").st_mtime == expected
    assert os.stat(dest / "d").st_mtime == expected


def _zip64(entries: list[tuple[str, bytes]]) -> bytes:
    """Deflated entries whose central sizes and offsets are all in Zip64 extra fields,
    behind a Zip64 end record, as zip writes them past 4 GiB or 65,535 entries."""
    out, central = bytearray(), bytearray()
    for name, data in entries:
        raw = name.encode()
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = comp.compress(data) + comp.flush()
        crc = zlib.crc32(data)
        at = len(out)
        out += struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 45, 0, 0, 8, 0, 0x5821, crc,
                           len(packed), len(data), len(raw), 0) + raw + packed
        extra = struct.pack("<2H3Q", 1, 24, len(data), len(packed), at)
        central += struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 45, 3, 45, 0, 0, 8, 0,
                               0x5821, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(raw), len(extra),
                               0, 0, 0, 0o100644 << 16, 0xFFFFFFFF) + raw + extra
    cd_at, n = len(out), len(entries)
    out += central
    record_at = len(out)
    out += struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(central),
                       cd_at)
    out += struct.pack("<4sLQL", b"PK\x06\x07", 0, record_at, 1)
    out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                       0xFFFFFFFF, 0)
    return bytes(out)


def test_zip64_sizes_offsets_and_end_record(tmp_path: Path) -> None:
    dest = _extract(tmp_path, _zip64([("a/one.txt", b"one\n" * 1000), ("two.bin", BIG)]))
    assert (dest / "a" / "one.txt").read_bytes() == b"one\n" * 1000
    assert (dest / "two.bin").read_bytes() == BIG


def test_leading_bytes_before_the_archive_are_skipped(tmp_path: Path) -> None:
    """A self-extracting stub in front, offsets not adjusted: unzip and zipfile read it."""
    dest = _extract(tmp_path, b"#!/bin/sh\nexit 0\n" * 50 + _zip([("x", b"x\n", 8)]))
    assert (dest / "x").read_bytes() == b"x\n"


def _central(raw: bytes) -> int:
    return raw.rindex(b"PK\x01\x02")


def _set(raw: bytes, at: int, fmt: str, value: int) -> bytes:
    return raw[:at] + struct.pack(fmt, value) + raw[at + struct.calcsize(fmt):]


def _shared(raw: bytes, copies: int) -> bytes:
    """The zip with its last central entry listed ``copies`` more times, all pointing at
    the same local header and data: each copy would decompress those bytes again."""
    cd_at, end_at = raw.index(b"PK\x01\x02"), raw.rindex(b"PK\x05\x06")
    cd = raw[cd_at:end_at] + raw[_central(raw):end_at] * copies
    count = struct.unpack_from("<H", raw, end_at + 10)[0] + copies
    return raw[:cd_at] + cd + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count,
                                          len(cd), cd_at, 0)


def _lzma_zip(data: bytes, dict_size: int) -> bytes:
    """One LZMA entry (end marker flagged) whose header claims ``dict_size``."""
    import lzma

    props = {"id": lzma.FILTER_LZMA1, "preset": 0, "dict_size": 1 << 20}
    comp = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[props])
    packed = (struct.pack("<2BH", 9, 4, 5) + lzma._encode_filter_properties(props)[:1]
              + struct.pack("<L", dict_size) + comp.compress(data) + comp.flush())
    crc = zlib.crc32(data)
    local = struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 63, 0, 2, 14, 0, 0x5821, crc,
                        len(packed), len(data), 1, 0) + b"z" + packed
    central = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 63, 3, 63, 0, 2, 14, 0, 0x5821,
                          crc, len(packed), len(data), 1, 0, 0, 0, 0, 0o100644 << 16, 0) + b"z"
    return local + central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central),
                                         len(local), 0)


def _bomb() -> bytes:
    """200 MiB of zeros (200 KB deflated) whose central entry says 1 KiB."""
    raw = _zip([("zeros", bytes(200 << 20), 8)])
    return _set(raw, _central(raw) + 24, "<L", 1024)


DAMAGED: list[tuple[str, Callable[[], bytes], str]] = [
    ("truncated", lambda: _zip([("a", BIG, 8)])[:-40], "not a readable zip archive"),
    ("cut-in-data", lambda: (lambda r: r[:4000] + r[_central(r):])(_zip([("a", BIG, 0)])),
     "not a readable zip archive"),
    ("bad-crc", lambda: (lambda r: _set(r, _central(r) + 16, "<L", 1234))(
        _zip([("a", BIG, 8)])), "member 'a' refused: its data is damaged (bad CRC)"),
    ("more-than-declared", _bomb, "more data than its header says"),
    ("less-than-declared", lambda: (lambda r: _set(r, _central(r) + 24, "<L", len(BIG) + 1))(
        _zip([("a", BIG, 8)])), "where its header says"),
    ("stored-size-mismatch", lambda: (lambda r: _set(r, _central(r) + 24, "<L", 5))(
        _zip([("a", b"abc", 0)])), "it is stored with 3 bytes for 5"),
    ("local-name-differs", lambda: _zip([("a", b"x", 8)]).replace(b"a", b"b", 1),
     "its local header names another file"),
    ("offset-elsewhere", lambda: (lambda r: _set(r, _central(r) + 42, "<L", 7))(
        _zip([("a", b"x", 8)])), "no local header where the central directory says"),
    ("nul-in-name", lambda: _zip([("okX/../../../etc/passwd", b"x", 8)]).replace(b"okX", b"ok\0"),
     "its name contains a NUL byte"),
    ("bad-utf8-name", lambda: (lambda r: r.replace(b"n\xc3\xa9", b"n\xff\xfe"))(
        _zip([("n\u00e9", b"x", 8)])), "not the UTF-8 it claims"),
    ("end-signature-cut", lambda: b"#!/bin/sh\nPK\x05\x06\0\0", "no end of central directory"),
    ("entries-share-data", lambda: _shared(_zip([("a", BIG, 8)]), 1000),
     "not a readable zip archive (its entries up to 'a' take more room than the archive has"),
    ("offset-past-the-archive", lambda: (lambda r: _set(r, _central(r) + 42, "<L", 1 << 31))(
        _zip([("a", b"x", 8)])), "its local header would be in or past the central directory"),
    ("lzma-dictionary-4gib", lambda: _lzma_zip(bytes(65 << 20), 0xFFFFFFFF),
     "its LZMA dictionary is 68157440 bytes, more than the 67108864"),
    ("name-longer-than-path-max", lambda: _zip([("a/" * 2100 + "f", b"x", 8)]),
     "its name is longer than 4096 bytes"),
    ("name-part-longer-than-name-max", lambda: _zip([("d/" + "x" * 256, b"x", 8)]),
     "a part of its name is longer than 255 bytes"),
]


@pytest.mark.parametrize(("make", "expected"), [d[1:] for d in DAMAGED],
                         ids=[d[0] for d in DAMAGED])
def test_damaged_archives_are_refused_in_one_line(tmp_path: Path,
                                                  make: Callable[[], bytes],
                                                  expected: str) -> None:
    line = _refused(tmp_path, make())
    assert expected in line
    assert "\n" not in line


def test_a_comment_holding_an_end_signature_still_reads(tmp_path: Path) -> None:
    """The comment ends in the first bytes of an end record: the real one is found."""
    raw = _zip([("a", b"hello\n", 8)])
    raw = raw[:-2] + struct.pack("<H", 6) + b"PK\x05\x06ab"
    assert (_extract(tmp_path, raw) / "a").read_bytes() == b"hello\n"


def test_an_lzma_dictionary_larger_than_the_content_decodes_the_same(tmp_path: Path) -> None:
    """A 4 GiB dictionary for 3 MiB: decoded with one of the content's size."""
    assert (_extract(tmp_path, _lzma_zip(BIG, 0xFFFFFFFF)) / "z").read_bytes() == BIG


def test_implied_directories_count_against_the_member_limit(tmp_path: Path) -> None:
    """One entry 20 directories deep makes 21 paths: more than a limit of 10."""
    location = tmp_path / "b.zip"
    location.write_bytes(_zip([("d/" * 20 + "f", b"x", 8)]))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InputError) as caught:
        archive.extract(str(location), "zip", str(dest), limits=archive.Limits(members=10))
    assert "more than 10 members, the directories it implies included" in \
        caught.value.one_line()
    assert not list(dest.iterdir())


def test_an_appspec_read_whole_is_checked_against_its_crc(tmp_path: Path) -> None:
    """The appspec is read (within the read limit) before anything is unpacked: a damaged
    one is refused then, not planned from."""
    raw = _zip([("appspec.yml", b"version: 0.0\nos: linux\n", 0)])
    location = tmp_path / "b.zip"
    location.write_bytes(raw.replace(b"os: linux", b"os: linuX", 1))
    with archive.check(str(location), "zip", ("appspec.yml",)) as unpacker, \
            pytest.raises(InputError) as caught:
        unpacker.read("appspec.yml", 1 << 20)
    assert "member 'appspec.yml' refused: its data is damaged (bad CRC)" in \
        caught.value.one_line()


def test_a_tree_256_directories_deep_unpacks_and_a_deeper_one_is_refused(
        tmp_path: Path) -> None:
    """Implied directories are made one level at a time; past 256 levels (as the
    release copy and the next deployment's cleanup allow) the archive is refused."""
    deep = "a/" * 256 + "leaf.txt"
    dest = _extract(tmp_path, _zip([(deep, b"deep\n", 8)]))
    assert (dest / deep).read_bytes() == b"deep\n"
    fsremove.remove_tree(str(dest))
    message = _refused(tmp_path, _zip([("a/" * 1500 + "leaf.txt", b"x", 8)]))
    assert "refused: it nests more than 256 directories deep" in message
    assert list((tmp_path / "out").iterdir()) == []


def test_what_the_check_holds_of_names_is_bounded(tmp_path: Path) -> None:
    """Deep names imply a path per level, each remembered whole: their bytes have a
    limit, so a small archive cannot make the check hold gigabytes."""
    names = [f"{i}/" + ("d" * 14 + "/") * 250 + "f" for i in range(5)]  # ~470 kB implied each
    location = tmp_path / "b.zip"
    location.write_bytes(_zip([(n, b"x", 8) for n in names]))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InputError) as caught:
        archive.extract(str(location), "zip", str(dest),
                        limits=archive.Limits(name_bytes=2_000_000))
    assert ("names of its members and the directories they imply add up to more than "
            "2000000 bytes (HDHOOKS_BUNDLE_MAX_NAME_BYTES)") in caught.value.one_line()
    assert not list(dest.iterdir())
