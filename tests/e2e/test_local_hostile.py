"""Hostile bundles through ``hdhooks local deploy``: one line, nothing outside changed."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from hdhooks import fsremove
from tests.integration.agent.bundles import deploy, make_bundle
from tests.support.trees import nest

APPSPEC = b"version: 0.0\nos: linux\n"
GROUP = "default-local-deployment-group"

Member = tuple[str, str, bytes | str]  # name, kind (file/dir/sym/hard/chr/fifo), data or target


def _tar(members: list[Member], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for name, kind, data in [("appspec.yml", "file", APPSPEC), *members]:
            info = tarfile.TarInfo(name)
            types = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
                     "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}
            if kind == "file":
                raw = data if isinstance(data, bytes) else data.encode()
                info.size = len(raw)
                tf.addfile(info, io.BytesIO(raw))
                continue
            info.type = types[kind]
            info.linkname = str(data) if kind in ("sym", "hard") else ""
            tf.addfile(info)
    return buf.getvalue()


def _zip(members: list[Member]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, kind, data in [("appspec.yml", "file", APPSPEC), *members]:
            info = zipfile.ZipInfo(name + ("/" if kind == "dir" else ""))
            info.external_attr = {"file": 0o100644, "dir": 0o40755, "sym": 0o120777,
                                  "fifo": 0o10644}[kind] << 16
            zf.writestr(info, b"" if kind == "dir" else data)
    return buf.getvalue()


def _zip_patch(raw: bytes, local_at: int, central_at: int, value: int) -> bytes:
    """The zip with one 2-byte header field of every entry set to ``value``."""
    out = bytearray(raw)
    for sig, at in ((b"PK\x03\x04", local_at), (b"PK\x01\x02", central_at)):
        i = out.find(sig)
        while i != -1:
            out[i + at:i + at + 2] = struct.pack("<H", value)
            i = out.find(sig, i + 4)
    return bytes(out)


def _zip_method(raw: bytes, method: int) -> bytes:
    return _zip_patch(raw, 8, 10, method)


def _zip_encrypted(raw: bytes) -> bytes:
    return _zip_patch(raw, 6, 8, 1)  # general purpose flag bit 0: encrypted


def _zip_shared(raw: bytes, copies: int) -> bytes:
    """The zip with its last central entry listed ``copies`` more times: all of them
    pointing at the same local header and data."""
    cd_at = raw.index(b"PK\x01\x02")
    end_at = raw.rindex(b"PK\x05\x06")
    last = raw[raw.rindex(b"PK\x01\x02"):end_at]
    cd = raw[cd_at:end_at] + last * copies
    count = struct.unpack_from("<H", raw, end_at + 10)[0] + copies
    return raw[:cd_at] + cd + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count,
                                          len(cd), cd_at, 0)


def _flip(raw: bytes, at: int) -> bytes:
    out = bytearray(raw)
    out[at] ^= 0xFF
    return bytes(out)


BIG = [("app/big.bin", "file", b"x" * 4096)]
CHAIN = [("sub", "dir", b""), ("sub/here", "sym", "."), ("esc", "sym", "sub/here/../..")]

# id, file name, builder (gets the sentinel dir), extra env, expected line
def _xz_dictionary(raw: bytes, code: int) -> bytes:
    """The .xz with its first block's LZMA2 dictionary size set to ``code`` (40: 4 GiB),
    the block header's CRC mended: what a stream asking for that much memory looks like."""
    size = (raw[12] + 1) * 4  # the block header, after the 12-byte stream header
    header = bytearray(raw[12:12 + size])
    at = header.index(b"\x21\x01")  # filter LZMA2, one byte of properties
    header[at + 2] = code
    header[-4:] = struct.pack("<I", zlib.crc32(bytes(header[:-4])))
    return raw[:12] + bytes(header) + raw[12 + size:]


CASES: list[tuple[str, str, Callable[[Path], bytes], dict[str, str], str]] = [
    ("absolute-name", "b.tar", lambda s: _tar([(f"{s}/keep", "file", "pwned")]), {},
     "its name is an absolute path"),
    ("dotdot-name", "b.tar", lambda s: _tar([("a/../../keep", "file", "pwned")]), {},
     "its name contains '..'"),
    ("symlink-out", "b.tar", lambda s: _tar([("l", "sym", "../../../../../../" + str(s))]), {},
     "points outside the revision"),
    ("symlink-absolute", "b.tar", lambda s: _tar([("l", "sym", str(s))]), {},
     "is an absolute path"),
    ("write-through-link", "b.tar",
     lambda s: _tar([("d", "dir", b""), ("l", "sym", "d"), ("l/x", "file", "pwned")]), {},
     "written through the symbolic link 'l'"),
    ("hardlink-to-host-file", "b.tar",
     lambda s: _tar([("keep", "hard", f"{s}/keep"), ("keep", "file", "pwned")]), {},
     "hard link target"),
    ("hardlink-dotdot", "b.tar", lambda s: _tar([("h", "hard", "../keep")]), {},
     "hard link target '../keep' is outside the revision"),
    ("link-chain", "b.tar", lambda s: _tar(CHAIN), {}, "member 'esc' refused"),
    ("device", "b.tar", lambda s: _tar([("dev", "chr", b"")]), {}, "it is a device"),
    ("fifo", "b.tar", lambda s: _tar([("pipe", "fifo", b"")]), {}, "it is a FIFO"),
    ("member-size", "b.tar", lambda s: _tar(BIG), {"HDHOOKS_BUNDLE_MAX_MEMBER_BYTES": "1000"},
     "allowed per member"),
    ("total-size", "b.tgz", lambda s: _tar(BIG * 1, "w:gz"), {"HDHOOKS_BUNDLE_MAX_BYTES": "2000"},
     "add up to more than 2000 bytes"),
    ("member-count", "b.tar", lambda s: _tar(BIG), {"HDHOOKS_BUNDLE_MAX_MEMBERS": "1"},
     "more than 1 members"),
    ("tgz-bad-crc", "b.tgz", lambda s: _flip(_tar(BIG, "w:gz"), -6), {}, "damaged archive"),
    ("tgz-truncated", "b.tgz", lambda s: _tar(BIG, "w:gz")[:-40], {}, "damaged archive"),
    ("tbz-truncated", "b.tar.bz2", lambda s: _tar(BIG, "w:bz2")[:-20], {}, "damaged archive"),
    ("txz-truncated", "b.tar.xz", lambda s: _tar(BIG, "w:xz")[:-20], {}, "damaged archive"),
    ("txz-corrupt", "b.tar.xz", lambda s: _flip(_tar(BIG, "w:xz"), 200), {}, "damaged archive"),
    ("txz-dictionary-4gib", "b.tar.xz", lambda s: _xz_dictionary(_tar(BIG, "w:xz"), 40), {},
     "its xz stream needs more than 128 MiB of memory to decode"),
    ("tar-truncated", "b.tar", lambda s: _tar(BIG)[:2048], {}, "truncated"),
    ("zip-bad-crc", "b.zip",
     lambda s: _zip(BIG).replace(b"x" * 4096, b"x" * 4095 + b"y"), {},
     "member 'app/big.bin' refused: its data is damaged"),
    ("zip-encrypted", "b.zip", lambda s: _zip_encrypted(_zip(BIG)), {}, "it is encrypted"),
    ("zip-unknown-method", "b.zip", lambda s: _zip_method(_zip(BIG), 99), {},
     "compression method 99"),
    ("zip-bad-header", "b.zip", lambda s: b"PK\x03\x04" + b"\0" * 200, {},
     "not a readable zip archive"),
    ("zip-symlink-out", "b.zip", lambda s: _zip([("l", "sym", "../../../../" + str(s))]), {},
     "points outside the revision"),
    ("zip-write-through-link", "b.zip",
     lambda s: _zip([("d", "dir", b""), ("l", "sym", "d"), ("l/x", "file", b"pwned")]), {},
     "written through the symbolic link 'l'"),
    ("zip-fifo", "b.zip", lambda s: _zip([("p", "fifo", b"")]), {}, "device or FIFO"),
    ("newline-name", "b.tar", lambda s: _tar([(f"x\n{s}/keep", "file", b"x")]), {},
     "its name contains a newline"),
    ("zip-newline-name", "b.zip", lambda s: _zip([("x\ny", "file", b"x")]), {},
     "its name contains a newline"),
    ("zip-end-signature-only", "b.zip", lambda s: b"#!/bin/sh\nPK\x05\x06\0", {},
     "not a readable zip archive"),
    ("zip-overlapping-entries", "b.zip", lambda s: _zip_shared(_zip(BIG), 50), {},
     "take more room than the archive has"),
    ("zip-long-name-part", "b.zip", lambda s: _zip([("d/" + "x" * 300, "file", b"x")]), {},
     "a part of its name is longer than 255 bytes"),
]


def _sentinel(tmp: Path) -> Path:
    s = tmp / "sentinel"
    s.mkdir()
    (s / "keep").write_text("original")
    return s


def _snapshot(where: Path) -> dict[str, tuple[int, int, bytes]]:
    out = {}
    for p in [where, *sorted(where.rglob("*"))]:
        st = os.lstat(p)
        out[str(p)] = (st.st_mode, st.st_uid, p.read_bytes() if p.is_file() else b"")
    return out


@pytest.mark.parametrize("dry_run", [False, True], ids=["deploy", "dry-run"])
@pytest.mark.parametrize(("name", "filename", "build", "env", "line"), CASES,
                         ids=[c[0] for c in CASES])
def test_hostile_archive_is_refused(hdhooks_bin: str, tmp_path: Path, name: str, filename: str,
                                    build: Callable[[Path], bytes], env: dict[str, str],
                                    line: str, dry_run: bool) -> None:
    sentinel = _sentinel(tmp_path)
    before = _snapshot(sentinel)
    bundle = tmp_path / filename
    bundle.write_bytes(build(sentinel))
    root = tmp_path / "root"
    r = deploy(hdhooks_bin, "-l", bundle, "--root", root, *(["--dry-run"] if dry_run else []),
               env=env)
    assert r.returncode == 2, r.stdout + r.stderr
    errors = [ln for ln in r.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and line in errors[0], r.stderr
    assert "Traceback" not in r.stderr
    assert _snapshot(sentinel) == before
    group = root / GROUP
    assert not group.exists() or not [p for p in group.iterdir() if p.name != ".staging"]


@pytest.mark.parametrize(("filename", "mode"), [("b.tar", "w"), ("b.tgz", "w:gz"),
                                               ("b.tar.bz2", "w:bz2"), ("b.tar.xz", "w:xz")])
def test_every_tar_compression_deploys(hdhooks_bin: str, tmp_path: Path, filename: str,
                                       mode: str) -> None:
    bundle = tmp_path / filename
    bundle.write_bytes(_tar([("app/x.txt", "file", "hello"), ("app/l", "sym", "x.txt")], mode))
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert r.returncode == 0, r.stderr


def test_top_directory_holding_the_strip_name(hdhooks_bin: str, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    spec = f"version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: {dest}\n"
    bundle = tmp_path / "b.tar"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (("top/appspec.yml", spec.encode()), ("top/.hdhooks-strip", b"s")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    bundle.write_bytes(buf.getvalue())
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert r.returncode == 0, r.stderr
    assert (dest / ".hdhooks-strip").read_text() == "s"


def test_root_inside_a_directory_bundle_is_refused(hdhooks_bin: str, tmp_path: Path) -> None:
    src = make_bundle(tmp_path / "b", "version: 0.0\nos: linux\n")
    r = deploy(hdhooks_bin, "-l", src, "--root", src / "root")
    assert r.returncode == 2
    assert f"deployment root {src / 'root'} is inside the bundle directory" in r.stderr
    assert len(r.stderr) < 400
    assert not (src / "root").exists()


def test_empty_root_is_refused(hdhooks_bin: str, tmp_path: Path) -> None:
    src = make_bundle(tmp_path / "b", "version: 0.0\nos: linux\n")
    r = deploy(hdhooks_bin, "-l", src, "--root", "")
    assert r.returncode == 2
    assert "--root is empty (give a path, or leave --root out for the default)" in r.stderr


def test_files_source_through_a_link_out_of_the_bundle(hdhooks_bin: str, tmp_path: Path) -> None:
    sentinel = _sentinel(tmp_path)
    dest = tmp_path / "dest"
    src = make_bundle(tmp_path / "b", "version: 0.0\nos: linux\nfiles:\n"
                      f"  - source: out/keep\n    destination: {dest}\n")
    (src / "out").symlink_to(sentinel)
    r = deploy(hdhooks_bin, "-l", src, "--root", tmp_path / "root")
    assert r.returncode == 2, r.stderr
    assert "source 'out/keep' points outside the bundle; sources are relative to the bundle root" \
        in r.stderr
    assert not (dest / "keep").exists()


def test_permissions_never_follow_a_link(hdhooks_bin: str, tmp_path: Path) -> None:
    sentinel = _sentinel(tmp_path)
    before = _snapshot(sentinel)
    dest = tmp_path / "dest"
    src = make_bundle(tmp_path / "b", "version: 0.0\nos: linux\nfiles:\n"
                      f"  - source: app\n    destination: {dest}\npermissions:\n"
                      f"  - object: {dest}\n    mode: 600\n    owner: nobody\n",
                      files={"app/a.txt": "a"})
    (src / "app" / "lnk").symlink_to(sentinel / "keep")
    r = deploy(hdhooks_bin, "-l", src, "--root", tmp_path / "root")
    assert r.returncode == 0, r.stderr
    assert (dest / "lnk").is_symlink()
    assert _snapshot(sentinel) == before


def test_cleanup_does_not_delete_through_a_planted_link(hdhooks_bin: str, tmp_path: Path) -> None:
    sentinel = _sentinel(tmp_path)
    before = _snapshot(sentinel)
    dest = tmp_path / "dest"
    src = make_bundle(tmp_path / "b", "version: 0.0\nos: linux\nfiles:\n"
                      f"  - source: app\n    destination: {dest}\n",
                      files={"app/sub/keep": "mine"})
    root = tmp_path / "root"
    assert deploy(hdhooks_bin, "-l", src, "--root", root).returncode == 0
    (dest / "sub" / "keep").unlink()
    (dest / "sub").rmdir()
    (dest / "sub").symlink_to(sentinel)  # what a service user owning dest could do
    r = deploy(hdhooks_bin, "-l", src, "--root", root)
    assert r.returncode == 0, r.stderr
    assert _snapshot(sentinel) == before
    assert (dest / "sub" / "keep").read_text() == "mine" and not (dest / "sub").is_symlink()


def test_leftovers_of_a_killed_download_are_cleaned(hdhooks_bin: str, tmp_path: Path) -> None:
    src = make_bundle(tmp_path / "b", "version: 0.0\nos: linux\n", files={"a.txt": "a"})
    root = tmp_path / "root"
    dead = root / GROUP / "d-DEAD00000-local"
    (dead / "deployment-archive.partial").mkdir(parents=True)
    (dead / "deployment-archive.partial" / "half").write_text("x")
    (root / "ongoing-deployment").mkdir()
    marker = root / "ongoing-deployment" / "d-DEAD00000-local"
    marker.write_text(str(dead))
    other = root / "ongoing-deployment" / "d-OTHER0000-local"
    other.write_text(str(root / "another-group" / "d-OTHER0000-local"))
    r = deploy(hdhooks_bin, "-l", src, "--root", root)
    assert r.returncode == 0, r.stderr
    assert not (dead / "deployment-archive.partial").exists()
    assert not marker.exists()
    assert other.exists()  # another group's marker is not this run's to judge


def test_sigkill_during_download_then_a_new_deployment_works(hdhooks_bin: str,
                                                             tmp_path: Path) -> None:
    src = make_bundle(tmp_path / "b", "version: 0.0\nos: linux\n")
    many = src / "many"
    many.mkdir()
    for i in range(20000):
        (many / f"f{i}").write_bytes(b"x")
    root = tmp_path / "root"
    child = subprocess.Popen([hdhooks_bin, "local", "deploy", "-l", str(src), "--root", str(root)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    group = root / GROUP
    deadline = time.monotonic() + 60
    partial: list[Path] = []
    while not partial and time.monotonic() < deadline and child.poll() is None:
        partial = list(group.glob("*/deployment-archive.partial")) if group.is_dir() else []
        time.sleep(0.001)
    child.kill()
    child.wait(timeout=30)
    assert partial, "the copy finished before it could be interrupted"
    assert partial[0].exists() and list((root / "ongoing-deployment").iterdir())
    r = deploy(hdhooks_bin, "-l", src, "--root", root, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not partial[0].exists()
    assert not list((root / "ongoing-deployment").iterdir())


def test_a_tree_nested_too_deep_is_one_line(hdhooks_bin: str, tmp_path: Path) -> None:
    """Directories 1,100 deep are refused with one line, not a traceback."""
    dest = tmp_path / "dest"
    bundle = make_bundle(tmp_path / "b", "version: 0.0\nos: linux\nfiles:\n"
                         f"  - source: app\n    destination: {dest}\n")
    (bundle / "app").mkdir()
    nest(bundle / "app", 1100)
    try:
        r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "directories nest more than 256 levels deep" in r.stderr
        assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
        assert not dest.exists()
    finally:  # shutil.rmtree (pytest's clean-up of old runs) recurses too deep here
        fsremove.remove_tree(str(bundle))
