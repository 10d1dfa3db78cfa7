"""Tar bundles as GNU tar and Python's tarfile write them, and as a damaged or hostile
one arrives: hdhooks' own header reader member by member against tarfile, and the
one line a refused archive gives."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from hdhooks.agent import archive, untar
from hdhooks.agent.tarread import EXT_MAX, TarReader
from hdhooks.errors import InputError

BIG = bytes(range(256)) * 12_288  # 3 MiB: more than one 1 MiB read and write
FIELDS = ("name", "type", "size", "mode", "uid", "gid", "uname", "gname", "mtime", "linkname")
USTAR_NAME = "p" * 90 + "/" + "q" * 90 + "/file.txt"  # 190: needs the ustar prefix
LONG_NAME = "/".join(["r" * 90] * 3) + "/file.txt"  # 282: GNU long name or pax path
LONG_TARGET = "t" * 150  # a symbolic link target longer than the 100-byte field
FAR_FUTURE = 2**33 + 7  # past what 11 octal digits hold
BIG_ID = 2**21 + 5  # past what 7 octal digits hold
END = bytes(1024)
needs_tar = pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")


# ---- equivalence with tarfile -------------------------------------------------------

def _same_as_tarfile(location: Path) -> list[str]:
    """Every member as the reader and tarfile see it, field by field and byte by byte;
    the names."""
    names = []
    with tarfile.open(location) as tf, untar._open_stream(str(location)) as stream:
        reader = TarReader(stream)
        for info in tf:
            head = reader.next()
            assert head is not None, f"the reader stops before {info.name!r}"
            assert [getattr(head, f) for f in FIELDS] == [getattr(info, f) for f in FIELDS]
            if info.isreg():
                src = tf.extractfile(info)
                assert src is not None
                assert b"".join(reader.data(head)) == src.read(), info.name
            names.append(head.name)
        assert reader.next() is None and reader.ended
    return names


def _tree(where: Path, fmt: str) -> Path:
    """What a bundle holds, as far as ``fmt`` can store it."""
    src = where / "src"
    (src / "dir" / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("hello\n")
    (src / "empty").write_bytes(b"")
    (src / "big.bin").write_bytes(BIG)
    (src / "dir" / "sub" / "x.sh").write_text("#!/bin/sh\n")
    os.chmod(src / "dir" / "sub" / "x.sh", 0o4750)
    (src / "caf\u00e9.txt").write_text("unicode\n")
    fd = os.open(os.fsencode(src) + b"/raw\xff.txt", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"not utf-8\n")
    os.close(fd)
    (src / "sym").symlink_to("a.txt")
    os.link(src / "a.txt", src / "hard")
    if fmt != "v7":
        (src / USTAR_NAME).parent.mkdir(parents=True)
        (src / USTAR_NAME).write_text("prefix\n")
    if fmt in ("gnu", "posix"):
        (src / LONG_NAME).parent.mkdir(parents=True)
        (src / LONG_NAME).write_text("long\n")
        (src / "longlink").symlink_to(LONG_TARGET)
        os.link(src / LONG_NAME, src / "zz-hard")
        (src / "future").write_text("later\n")
        os.utime(src / "future", (FAR_FUTURE, FAR_FUTURE))
    return src


@needs_tar
@pytest.mark.parametrize("fmt", ["v7", "ustar", "gnu", "posix"])
@pytest.mark.parametrize("compress", ["", "z"], ids=["tar", "tgz"])
def test_gnu_tar_archives_read_as_tarfile_reads_them(tmp_path: Path, fmt: str,
                                                     compress: str) -> None:
    src = _tree(tmp_path, fmt)
    out = tmp_path / "b.tar"
    owner = ([f"--owner=big:{BIG_ID}", f"--group=big:{BIG_ID + 1}"] if fmt in ("gnu", "posix")
             else ["--owner=u:1000", "--group=g:1000"])
    subprocess.run(["tar", f"--format={fmt}", f"-c{compress}f", str(out), "--sort=name",
                    *owner, "-C", str(src), "."], check=True)
    names = _same_as_tarfile(out)
    assert {"./a.txt", "./big.bin", "./caf\u00e9.txt", "./raw\udcff.txt", "./sym",
            "./hard"} <= set(names)
    if fmt != "v7":
        assert f"./{USTAR_NAME}" in names
    if fmt in ("gnu", "posix"):
        assert {f"./{LONG_NAME}", "./longlink", "./zz-hard", "./future"} <= set(names)


@needs_tar
def test_a_gnu_tar_bundle_unpacks_as_tar_would(tmp_path: Path) -> None:
    """Content, links, modes (setuid kept) and times (a pax fraction kept)."""
    src = _tree(tmp_path, "posix")
    os.utime(src / "a.txt", ns=(1_700_000_000_123_456_789,) * 2)
    out = tmp_path / "b.tgz"
    subprocess.run(["tar", "--format=posix", "-czf", str(out), "-C", str(src), "."], check=True)
    dest = tmp_path / "out"
    dest.mkdir()
    archive.extract(str(out), "tgz", str(dest))
    for rel in ("a.txt", "empty", "big.bin", "dir/sub/x.sh", "caf\u00e9.txt", "raw\udcff.txt",
                USTAR_NAME, LONG_NAME, "future"):
        mine, theirs = os.lstat(dest / rel), os.lstat(src / rel)
        assert (dest / rel).read_bytes() == (src / rel).read_bytes(), rel
        assert mine.st_mode == theirs.st_mode, rel
        assert abs(mine.st_mtime_ns - theirs.st_mtime_ns) < 1000, rel
    assert os.readlink(dest / "sym") == "a.txt"
    assert os.readlink(dest / "longlink") == LONG_TARGET
    assert os.stat(dest / "hard").st_ino == os.stat(dest / "a.txt").st_ino
    assert os.stat(dest / "zz-hard").st_ino == os.stat(dest / LONG_NAME).st_ino


def _info(name: str, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o640, 1000, 1001, "u", "g"
    info.mtime = 1_700_000_000
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def _tarfile_members(fmt: int) -> list[tuple[tarfile.TarInfo, bytes]]:
    members = [
        (_info("a.txt"), b"hello\n"),
        (_info("empty"), b""),
        (_info("big.bin"), BIG),
        (_info("dir/", tarfile.DIRTYPE, mode=0o750), b""),
        (_info("olddir/", tarfile.AREGTYPE), b""),  # v7: a file named with a slash
        (_info("contig", tarfile.CONTTYPE), b"contiguous\n"),
        (_info("caf\u00e9.txt"), b"unicode\n"),
        (_info("raw\udcff.txt"), b"not utf-8\n"),
        (_info("sym", tarfile.SYMTYPE, linkname="a.txt"), b""),
        (_info("hard", tarfile.LNKTYPE, linkname="a.txt"), b""),
        (_info("setuid", mode=0o4755), b"#!/bin/sh\n"),
        (_info(USTAR_NAME), b"prefix\n"),
    ]
    if fmt != tarfile.USTAR_FORMAT:
        members += [
            (_info(LONG_NAME), b"long\n"),
            (_info("x" * 120 + "/", tarfile.DIRTYPE), b""),
            (_info("longlink", tarfile.SYMTYPE, linkname=LONG_TARGET), b""),
            (_info("zz-hard", tarfile.LNKTYPE, linkname=LONG_NAME), b""),
            (_info("big-ids", uid=BIG_ID, gid=BIG_ID + 1), b"ids\n"),
            (_info("future", mtime=FAR_FUTURE), b"later\n"),
            (_info("fraction", mtime=1_700_000_000.25), b"fraction\n"),
        ]
    return members


def _tarfile_archive(out: Path, fmt: int, mode: str = "w",
                     pax_headers: dict[str, str] | None = None) -> Path:
    with tarfile.open(out, mode, format=fmt,  # type: ignore[call-overload]
                      pax_headers=pax_headers) as tf:
        for info, data in _tarfile_members(fmt):
            info.size = len(data) if info.type in tarfile.REGULAR_TYPES else 0
            tf.addfile(info, io.BytesIO(data))
    return out


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
                         ids=["ustar", "gnu", "pax"])
@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_tarfile_archives_read_as_tarfile_reads_them(tmp_path: Path, fmt: int,
                                                     mode: str) -> None:
    names = _same_as_tarfile(_tarfile_archive(tmp_path / "b.tar", fmt, mode))
    assert {"dir", "olddir", "contig", "raw\udcff.txt", USTAR_NAME} <= set(names)
    if fmt != tarfile.USTAR_FORMAT:
        assert {LONG_NAME, "x" * 120, "big-ids", "future", "fraction"} <= set(names)


def test_a_global_pax_header_applies_to_every_member_after_it(tmp_path: Path) -> None:
    """As tarfile applies it: owner names, ids and time (a member's own pax records
    still win); a comment (git archive writes one) changes nothing."""
    out = _tarfile_archive(tmp_path / "b.tar", tarfile.PAX_FORMAT,
                           pax_headers={"comment": "c0ffee", "uname": "everyone",
                                        "mtime": "1600000000.5"})
    _same_as_tarfile(out)
    with open(out, "rb") as fh:
        heads = list(TarReader(fh))
    assert {h.uname for h in heads} == {"everyone"}
    assert {h.mtime for h in heads if h.name not in ("fraction", "future")} == \
        {1_600_000_000.5}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_archive_reads_as_tarfile_reads_it(tmp_path: Path) -> None:
    """git archive starts with a global pax header holding the commit id."""
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    (repo / "app" / "run.sh").write_text("#!/bin/sh\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "one"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    out = tmp_path / "b.tar"
    subprocess.run(["git", "-C", str(repo), "archive", "-o", str(out), "HEAD"], check=True)
    assert "appspec.yml" in _same_as_tarfile(out)


def test_the_appspec_is_read_through_a_hard_link_and_within_the_limit(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        spec = b"version: 0.0\nos: linux\n"
        tf.addfile(_info("top/real.yml", size=len(spec)), io.BytesIO(spec))
        tf.addfile(_info("top/appspec.yml", tarfile.LNKTYPE, linkname="top/real.yml"))
    location = tmp_path / "b.tgz"
    location.write_bytes(buf.getvalue())
    with archive.check(str(location), "tgz", ("appspec.yml",)) as unpacker:
        assert unpacker.strip == "top"
        assert unpacker.read("top/appspec.yml", 1 << 20) == spec
        assert unpacker.read("top/appspec.yml", 7) == spec[:7]
        assert unpacker.read("top/missing.yml", 10) is None


def test_the_appspec_is_read_through_a_long_chain_of_hard_links(tmp_path: Path) -> None:
    """Each link names the one before (no tar writes that, anyone can): one pass, not
    one per link, and no recursion."""
    spec = b"version: 0.0\nos: linux\n"
    members = [("f0", b"0", spec)] + [(f"f{i}", b"1", b"") for i in range(1, 3001)]
    raw = b"".join(_header(n.encode(), k, len(d), {157: f"f{i - 1}".encode()} if i else None)
                   + _pad(d) for i, (n, k, d) in enumerate(members))
    raw += _header(b"appspec.yml", b"1", 0, {157: b"f3000"}) + END
    location = tmp_path / "b.tgz"
    location.write_bytes(gzip.compress(raw, 1))
    with archive.check(str(location), "tgz", ("appspec.yml",)) as unpacker:
        assert unpacker.read("appspec.yml", 1 << 20) == spec
    dest = tmp_path / "out"
    dest.mkdir()
    archive.extract(str(location), "tgz", str(dest), ("appspec.yml",))
    assert (dest / "appspec.yml").stat().st_ino == (dest / "f0").stat().st_ino
    assert (dest / "f0").stat().st_nlink == 3002


def test_one_end_block_and_trailing_bytes_are_accepted_as_today(tmp_path: Path) -> None:
    """tarfile (and GNU tar) stop at the first zero block; what follows is read (a
    compressed stream's trailer is checked) but not unpacked."""
    raw = _ustar([("a.txt", b"0", b"hello\n")])[:-512] + b"hidden after the end" * 30
    location = tmp_path / "b.tgz"
    location.write_bytes(gzip.compress(raw))
    dest = tmp_path / "out"
    dest.mkdir()
    archive.extract(str(location), "tgz", str(dest))
    assert [p.name for p in dest.iterdir()] == ["a.txt"]


def test_a_checksum_summed_over_signed_bytes_is_accepted(tmp_path: Path) -> None:
    """Some old tars summed the header as signed chars; tarfile and GNU tar accept it."""
    block = bytearray(_header("caf\u00e9".encode(), b"0", 3))
    block[148:156] = b" " * 8
    signed = sum(b - 256 if b >= 128 else b for b in block)
    block[148:156] = b"%06o\0 " % signed
    location = tmp_path / "b.tar"
    location.write_bytes(bytes(block) + _pad(b"abc") + END)
    dest = tmp_path / "out"
    dest.mkdir()
    archive.extract(str(location), "tar", str(dest))
    assert (dest / "caf\u00e9").read_bytes() == b"abc"


# ---- damaged and hostile archives ---------------------------------------------------

def _header(name: bytes, kind: bytes = b"0", size: int = 0,
            fields: dict[int, bytes] | None = None) -> bytes:
    """One ustar header block, ``fields`` set raw at their offsets, checksum mended."""
    buf = bytearray(512)
    buf[0:len(name)] = name
    buf[100:148] = b"0000644\0" b"0001750\0" b"0001750\0" + (
        b"%011o\0" % size if size < 8**11 else b"\x80" + size.to_bytes(11, "big")
    ) + b"14000000000\0"
    buf[156:157] = kind
    buf[257:297] = b"ustar\x0000" + b"user".ljust(32, b"\0")
    for at, value in (fields or {}).items():
        buf[at:at + len(value)] = value
    buf[148:156] = b" " * 8
    buf[148:156] = b"%06o\0 " % sum(buf)
    return bytes(buf)


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 512)


def _ustar(members: list[tuple[str, bytes, bytes]]) -> bytes:
    """name, type, data: each member's header and padded data, then the end."""
    out = b""
    for name, kind, data in members:
        out += _header(name.encode(), kind, len(data)) + _pad(data)
    return out + END


def _pax(records: bytes, then: bytes = b"") -> bytes:
    return _header(b"PaxHeaders/x", b"x", len(records)) + _pad(records) + then


def _record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    length = len(body) + len(str(len(body)))
    length = len(body) + len(str(length))
    return str(length).encode() + body


APPSPEC = ("appspec.yml", b"0", b"version: 0.0\nos: linux\n")
GOOD = _ustar([APPSPEC, ("app/big.bin", b"0", BIG[:5000])])


def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x20]) + raw[at + 1:]


def _member_then_end(header: bytes, data: bytes = b"") -> bytes:
    return header + _pad(data) + END


def _sparse_by_gnu_tar(fmt: str) -> Callable[[Path], bytes]:
    def build(tmp: Path) -> bytes:
        src = tmp / "sparse-src"
        src.mkdir()
        with open(src / "holes", "wb") as fh:
            fh.seek(1 << 20)
            fh.write(b"end")
        out = tmp / "sparse.tar"
        subprocess.run(["tar", f"--format={fmt}", "-S", "-cf", str(out), "-C", str(src),
                        "holes"], check=True)
        return out.read_bytes()
    return build


def _corrupt_deflate(tmp: Path) -> bytes:
    raw = bytearray(gzip.compress(_ustar([APPSPEC, ("big.bin", b"0", BIG)])))
    raw[len(raw) // 2] ^= 0xFF
    return bytes(raw)


Case = tuple[str, str, Callable[[Path], bytes], str]
HOSTILE: list[Case] = [
    ("empty-file", "b.tar", lambda t: b"", "b.tar: not a tar archive (empty file)"),
    ("short-file", "b.tar", lambda t: b"hello", "not a tar archive (truncated header)"),
    ("not-tar", "b.tgz", lambda t: gzip.compress(b"just text\n" * 200),
     "not a tar archive (the header at byte 0 has a bad checksum)"),
    ("bad-checksum-first", "b.tar", lambda t: _flip(GOOD, 3),
     "not a tar archive (the header at byte 0 has a bad checksum)"),
    ("bad-checksum-later", "b.tar", lambda t: _flip(GOOD, 1024 + 3),
     "damaged archive: the header at byte 1024 has a bad checksum"),
    ("truncated-header", "b.tar", lambda t: GOOD[:1024 + 100],
     "damaged archive: it ends before its end (truncated)"),
    ("truncated-data", "b.tar", lambda t: GOOD[:1024 + 512 + 2000],
     "damaged archive: it ends before its end (truncated)"),
    ("truncated-tgz-data", "b.tgz", lambda t: gzip.compress(GOOD[:1024 + 512 + 2000]),
     "damaged archive: it ends before its end (truncated)"),
    ("missing-end-block", "b.tar", lambda t: GOOD[:-1024],
     "damaged archive: it ends before its end (truncated)"),
    ("huge-long-name", "b.tar", lambda t: _header(b"././@LongLink", b"L", 1 << 40),
     f"refused: its GNU long name header (type 'L') at byte 0 is {1 << 40} bytes, more "
     f"than the {EXT_MAX} hdhooks reads"),
    ("long-link-over-the-cap", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _header(b"././@LongLink", b"K", EXT_MAX + 1)
     + _pad(b"k" * (EXT_MAX + 1)) + _ustar([("l", b"2", b"")]),
     f"is {EXT_MAX + 1} bytes, more than the {EXT_MAX} hdhooks reads"),
    ("pax-over-the-cap", "b.tar", lambda t: _header(b"PaxHeaders/x", b"x", EXT_MAX + 512),
     f"refused: its pax header (type 'x') at byte 0 is {EXT_MAX + 512} bytes"),
    ("long-name-then-end", "b.tar",
     lambda t: _member_then_end(_header(b"././@LongLink", b"L", 6), b"name\0"),
     "is followed by the end of the archive, not by a member"),
    ("pax-then-end", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _pax(_record(b"path", b"x"), END),
     "damaged archive: the pax header (type 'x') before byte 2048 is followed by the end"),
    ("pax-then-eof", "b.tar", lambda t: _ustar([APPSPEC])[:-1024] + _pax(_record(b"path", b"x")),
     "damaged archive: it ends before its end (truncated)"),
    ("two-long-names", "b.tar",
     lambda t: _header(b"././@LongLink", b"L", 2) + _pad(b"a\0")
     + _header(b"././@LongLink", b"L", 2) + _pad(b"b\0") + _ustar([("c", b"0", b"")]),
     "not a tar archive (a second GNU long name header (type 'L') at byte 1024 for one "
     "member)"),
    ("pax-length-runs-past", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _pax(b"99 path=x\n", _ustar([("f", b"0", b"")])),
     "damaged archive: the pax header at byte 1024 has a malformed record at its byte 0"),
    ("pax-length-zero", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _pax(b"0 path=x\n", _ustar([("f", b"0", b"")])),
     "has a malformed record"),
    ("pax-length-garbage", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _pax(b"1x path=x\n", _ustar([("f", b"0", b"")])),
     "has a malformed record"),
    ("pax-no-newline", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _pax(b"11 path=xy!", _ustar([("f", b"0", b"")])),
     "has a malformed record"),
    ("pax-no-keyword", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _pax(b"6 =xy\n", _ustar([("f", b"0", b"")])),
     "has a malformed record"),
    ("pax-nul-in-path", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024]
     + _pax(_record(b"path", b"ok\0/../../../../escape"), _ustar([("f", b"0", b"pwned")])),
     "member 'ok\\x00/../../../../escape' refused: its name contains a NUL byte"),
    ("pax-size-garbage", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _pax(_record(b"size", b"12abc"),
                                                _ustar([("f", b"0", b"")])),
     "has a size that is not a whole number"),
    ("pax-mtime-infinite", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _pax(_record(b"mtime", b"inf"),
                                                _ustar([("f", b"0", b"")])),
     "has an mtime that is not a number"),
    ("pax-uname-nul", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _pax(_record(b"uname", b"ro\0ot"),
                                                _ustar([("f", b"0", b"")])),
     "damaged archive: the pax header before byte 2048 has a uname with a NUL byte"),
    ("symlink-target-too-long", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _pax(_record(b"linkpath", b"a/" * 2048),
                                                _ustar([("l", b"2", b"")])),
     "member 'l' refused: its symbolic link target is 4096 bytes or longer"),
    ("negative-size", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _member_then_end(
         _header(b"f", b"0", 0, {124: b"\xff" * 12})),
     "damaged archive: the header at byte 1024 has a negative size"),
    ("garbage-size", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _member_then_end(
         _header(b"f", b"0", 0, {124: b"12x4567890a\0"})),
     "damaged archive: the header at byte 1024 has a numeric field that is not a number"),
    ("uid-out-of-range", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _member_then_end(
         _header(b"f", b"0", 0, {108: b"\x80" + (1 << 40).to_bytes(7, "big")})),
     "has a uid or gid out of range"),
    ("char-device", "b.tar", lambda t: _ustar([APPSPEC, ("dev", b"3", b"")]),
     "member 'dev' refused: it is a device; only files, directories and links are allowed"),
    ("block-device", "b.tar", lambda t: _ustar([APPSPEC, ("dev", b"4", b"")]),
     "member 'dev' refused: it is a device"),
    ("fifo", "b.tar", lambda t: _ustar([APPSPEC, ("pipe", b"6", b"")]),
     "member 'pipe' refused: it is a FIFO"),
    ("volume-header", "b.tar", lambda t: _ustar([("label", b"V", b"")]),
     "member 'label' refused: it is of type b'V'"),
    ("multivolume", "b.tar", lambda t: _ustar([APPSPEC, ("part", b"M", b"x" * 100)]),
     "member 'part' refused: it is of type b'M'"),
    ("gnu-sparse-type", "b.tar", lambda t: _ustar([APPSPEC, ("holes", b"S", b"")]),
     "member 'holes' refused: it is a sparse file (tar --sparse)"),
    ("pax-sparse", "b.tar",
     lambda t: _ustar([APPSPEC])[:-1024] + _pax(
         _record(b"GNU.sparse.major", b"1") + _record(b"GNU.sparse.minor", b"0")
         + _record(b"GNU.sparse.name", b"holes"), _ustar([("GNUSparseFile.0/holes", b"0",
                                                             b"1\n0\n3\n")])),
     "member 'holes' refused: it is a sparse file (tar --sparse)"),
    ("global-path", "b.tar",
     lambda t: _header(b"PaxHeaders/g", b"g", 10) + _pad(b"10 path=x\n") + GOOD,
     "refused: its global pax header (type 'g') at byte 0 sets 'path' for every member"),
    ("global-between", "b.tar",
     lambda t: _header(b"././@LongLink", b"L", 2) + _pad(b"a\0")
     + _header(b"PaxHeaders/g", b"g", 11) + _pad(_record(b"uid", b"100")) + GOOD,
     "comes between a member's extension headers and the member"),
    ("tgz-corrupt-deflate", "b.tgz", _corrupt_deflate, "damaged archive: "),
]
if shutil.which("tar"):
    HOSTILE += [
        ("gnu-tar-sparse", "b.tar", _sparse_by_gnu_tar("gnu"),
         "member 'holes' refused: it is a sparse file"),
        ("gnu-tar-pax-sparse", "b.tar", _sparse_by_gnu_tar("posix"),
         "member 'holes' refused: it is a sparse file"),
    ]


def _snapshot(where: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() if p.is_file() else b"" for p in sorted(where.rglob("*"))}


@pytest.mark.parametrize(("filename", "build", "expected"), [c[1:] for c in HOSTILE],
                         ids=[c[0] for c in HOSTILE])
def test_hostile_archives_are_refused_in_one_line(tmp_path: Path, filename: str,
                                                  build: Callable[[Path], bytes],
                                                  expected: str) -> None:
    box = tmp_path / "box"  # the bundle, the destination, and what is around them
    (box / "sentinel").mkdir(parents=True)
    (box / "sentinel" / "keep").write_text("original")
    location = box / filename
    location.write_bytes(build(tmp_path))
    dest = box / "out"
    dest.mkdir()
    before = _snapshot(box)
    with pytest.raises(InputError) as caught:
        archive.extract(str(location), "tar", str(dest), ("appspec.yml",))
    line = caught.value.one_line()
    assert expected in line
    assert "\n" not in line and line.startswith(f"{location}: ")
    assert _snapshot(box) == before
