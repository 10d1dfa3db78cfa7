"""The one extractor for bundle archives: tar (plain, gzip, bzip2, xz) and zip.

Every member is checked by hdhooks itself before anything is written (tarfile
and zipfile only parse): its name (no NUL, not empty, not absolute, no
``..``), its type (files, directories, symbolic and hard links only), its
link target resolved against the extraction root through the links the
archive itself makes (never outside), its path (never through a link an
earlier member made), its size and the member count against the limits.
A compressed tar is read to its end and its trailer checked (CRC, length)
before the first file is written; a zip member's CRC is checked as it is
written into the private staging directory, which the caller removes when
the archive is refused. One refused member refuses the whole archive, with
one line naming the member and the rule.

Modes (setuid/setgid kept), times and, as root, owners are restored as
``tar -xpsf`` and ``unzip`` restore them.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, BinaryIO, cast

from hdhooks.errors import InputError

if TYPE_CHECKING:
    import tarfile

GIB = 1 << 30
_LINK_DEPTH = 40  # as the kernel's ELOOP limit
_ZIP_METHODS = (0, 8, 12, 14)  # stored, deflate, bzip2, lzma


@dataclass(frozen=True)
class Limits:
    """What one archive may hold; each can be set in the environment."""

    total_bytes: int = 10 * GIB
    member_bytes: int = 10 * GIB
    members: int = 1_000_000

    @classmethod
    def from_env(cls) -> Limits:
        """``HDHOOKS_BUNDLE_MAX_BYTES``, ``..._MAX_MEMBER_BYTES``, ``..._MAX_MEMBERS``."""
        d = cls()
        return cls(_env_int("HDHOOKS_BUNDLE_MAX_BYTES", d.total_bytes),
                   _env_int("HDHOOKS_BUNDLE_MAX_MEMBER_BYTES", d.member_bytes),
                   _env_int("HDHOOKS_BUNDLE_MAX_MEMBERS", d.members))


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"{name}={text!r} is not a positive whole number",
                         hint=f"unset it for the default ({default})")
    return int(text)


class Refused(InputError):
    """One member breaks one rule: the whole archive is refused."""

    def __init__(self, archive: str, member: str, rule: str) -> None:
        super().__init__(f"{archive}: member {member!r} refused: {rule}",
                         hint="nothing was installed; rebuild the bundle without it")
        self.archive, self.member, self.rule = archive, member, rule


@dataclass(frozen=True)
class Member:
    """One checked member: where it goes and what it is."""

    rel: str  # normalised path under the root
    kind: str  # file, dir, symlink, hardlink
    target: str = ""  # symlink text, or the hard link's normalised member path


@dataclass
class Checker:
    """The rules, applied member by member in archive order."""

    archive: str
    limits: Limits
    kinds: dict[str, str] = field(default_factory=dict)  # rel -> file/dir/symlink/hardlink
    links: dict[str, str] = field(default_factory=dict)  # rel -> symlink text
    total: int = 0
    count: int = 0

    def refuse(self, name: str, rule: str) -> Refused:
        return Refused(self.archive, name, rule)

    def name(self, name: str) -> str:
        """The member's path under the root, or refused."""
        if "\0" in name:
            raise self.refuse(name, "its name contains a NUL byte")
        if name.startswith("/"):
            raise self.refuse(name, "its name is an absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.refuse(name, "its name contains '..' (it would be written outside)")
        return "/".join(parts)

    def add(self, name: str, kind: str, size: int = 0, target: str = "") -> Member | None:
        """Check one member; None for the root itself ("./"), which is not written."""
        self.count += 1
        if self.count > self.limits.members:
            raise self.refuse(name, f"the archive has more than {self.limits.members} members "
                                    "(HDHOOKS_BUNDLE_MAX_MEMBERS)")
        rel = self.name(name)
        if not rel:
            if kind == "dir":
                return None
            raise self.refuse(name, "its name is empty")
        self._parents(name, rel)
        if self.kinds.get(rel) == "dir" and kind != "dir":
            raise self.refuse(name, "it replaces a directory an earlier member made")
        if kind == "file":
            self._size(name, size)
        elif kind == "symlink":
            self._symlink(name, rel, target)
        elif kind == "hardlink":
            target = self._hardlink(name, target)
        self.kinds[rel] = "file" if kind == "hardlink" else kind
        self.links.pop(rel, None)
        if kind == "symlink":
            self.links[rel] = target
        return Member(rel, kind, target)

    def _parents(self, name: str, rel: str) -> None:
        parts = rel.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            kind = self.kinds.get(prefix)
            if kind == "symlink":
                raise self.refuse(name, f"it would be written through the symbolic link "
                                        f"{prefix!r} an earlier member made")
            if kind is not None and kind != "dir":
                raise self.refuse(name, f"its parent {prefix!r} is not a directory")
        for i in range(1, len(parts)):
            self.kinds.setdefault("/".join(parts[:i]), "dir")

    def _size(self, name: str, size: int) -> None:
        if size > self.limits.member_bytes:
            raise self.refuse(name, f"{size} bytes, more than the {self.limits.member_bytes} "
                                    "allowed per member (HDHOOKS_BUNDLE_MAX_MEMBER_BYTES)")
        self.total += size
        if self.total > self.limits.total_bytes:
            raise self.refuse(name, f"the members add up to more than "
                                    f"{self.limits.total_bytes} bytes (HDHOOKS_BUNDLE_MAX_BYTES)")

    def _symlink(self, name: str, rel: str, target: str) -> None:
        if not target or "\0" in target:
            raise self.refuse(name, "its symbolic link target is empty or contains a NUL byte")
        if target.startswith("/"):
            raise self.refuse(name, f"its symbolic link target {target!r} is an absolute path")
        start = rel.split("/")[:-1]
        if self.resolve(start, target) is None:
            raise self.refuse(name, f"its symbolic link target {target!r} points outside "
                                    "the revision")

    def _hardlink(self, name: str, target: str) -> str:
        if target.startswith("/") or ".." in target.split("/") or "\0" in target:
            raise self.refuse(name, f"its hard link target {target!r} is outside the revision")
        rel = "/".join(p for p in target.split("/") if p not in ("", "."))
        if self.kinds.get(rel) != "file" or any(
            self.kinds.get("/".join(rel.split("/")[:i])) == "symlink"
            for i in range(1, rel.count("/") + 1)
        ):
            raise self.refuse(name, f"its hard link target {target!r} is not a file an "
                                    "earlier member made")
        return rel

    def resolve(self, start: list[str], target: str, depth: int = 0) -> list[str] | None:
        """Where ``target`` (relative to the directory ``start``) leads, following the
        archive's own links; None when it leaves the root or loops."""
        if depth > _LINK_DEPTH:
            return None
        here = list(start)
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not here:
                    return None
                here.pop()
                continue
            here.append(part)
            link = self.links.get("/".join(here))
            if link is not None:
                if link.startswith("/"):
                    return None
                resolved = self.resolve(here[:-1], link, depth + 1)
                if resolved is None:
                    return None
                here = resolved
        return here


def extract(location: str, kind: str, dest: str, limits: Limits | None = None) -> None:
    """Check then unpack ``location`` into the existing empty directory ``dest``."""
    limits = limits or Limits.from_env()
    if kind == "zip":
        from hdhooks.agent import unzip

        unzip.extract(location, dest, Checker(location, limits))
    else:
        _extract_tar(location, dest, Checker(location, limits))


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
        import lzma

        return cast(BinaryIO, lzma.LZMAFile(location, "rb"))
    return open(location, "rb")


def _extract_tar(location: str, dest: str, checker: Checker) -> None:
    import tarfile

    stream = _open_stream(location)
    try:
        try:
            tf = tarfile.open(fileobj=stream, mode="r:")  # noqa: SIM115 (closed below)
        except tarfile.TarError as exc:
            raise InputError(f"{location}: not a tar archive ({exc})") from None
        with tf:
            members = _check_tar(tf, checker)
            _check_end(location, stream, tf)
            _write_tar(tf, members, dest)
    except (EOFError, OSError, ValueError, tarfile.TarError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{location}: damaged archive: {_why(exc)}",
                         hint="nothing was installed; rebuild or download the bundle again") \
            from None
    finally:
        stream.close()


def _why(exc: BaseException) -> str:
    if isinstance(exc, EOFError) or "unexpected end" in str(exc):
        return "it ends before its end (truncated)"
    text = getattr(exc, "strerror", None) or str(exc)
    return text or type(exc).__name__


_TAR_KINDS = {"file": "isreg", "dir": "isdir", "symlink": "issym", "hardlink": "islnk"}


def _check_tar(tf: tarfile.TarFile, checker: Checker) -> list[tuple[tarfile.TarInfo, Member]]:
    out = []
    for info in tf:
        kind = next((k for k, test in _TAR_KINDS.items() if getattr(info, test)()), None)
        if kind is None:
            what = "a device" if info.ischr() or info.isblk() else (
                "a FIFO" if info.isfifo() else f"of type {info.type!r}")
            raise checker.refuse(info.name, f"it is {what}; only files, directories and "
                                            "links are allowed")
        member = checker.add(info.name, kind, info.size, info.linkname)
        if member is not None:
            out.append((info, member))
    return out


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


def _write_tar(tf: tarfile.TarFile, members: list[tuple[tarfile.TarInfo, Member]],
               dest: str) -> None:
    dirs: list[tuple[tarfile.TarInfo, str]] = []
    for info, m in members:
        path = os.path.join(dest, m.rel)
        _make_parents(dest, m.rel)
        if m.kind == "dir":
            if not os.path.isdir(path) or os.path.islink(path):
                _clear(path)
                os.mkdir(path, 0o700)
            dirs.append((info, path))
            continue
        _clear(path)
        if m.kind == "symlink":
            os.symlink(m.target, path)
            _owner(info, path)
        elif m.kind == "hardlink":
            os.link(os.path.join(dest, m.target), path, follow_symlinks=False)
        else:
            src = tf.extractfile(info)
            if src is None:
                raise InputError(f"member {info.name!r} cannot be read")
            with src:
                write_file(path, src, info.size)
            _owner(info, path)
            os.chmod(path, info.mode & 0o7777)
            os.utime(path, (info.mtime, info.mtime))
    for info, path in reversed(dirs):
        _owner(info, path)
        os.chmod(path, info.mode & 0o7777)
        os.utime(path, (info.mtime, info.mtime))


def _owner(info: tarfile.TarInfo, path: str) -> None:
    """As root, the member's owner by name (else by id), as ``tar -p`` does."""
    if os.geteuid() != 0:
        return
    import grp
    import pwd

    try:
        uid = pwd.getpwnam(info.uname).pw_uid if info.uname else info.uid
    except KeyError:
        uid = info.uid
    try:
        gid = grp.getgrnam(info.gname).gr_gid if info.gname else info.gid
    except KeyError:
        gid = info.gid
    os.chown(path, uid, gid, follow_symlinks=False)


def _make_parents(dest: str, rel: str) -> None:
    """Directories the archive implies but does not list (the checks ruled out links)."""
    parent = os.path.dirname(rel)
    if parent and not os.path.isdir(os.path.join(dest, parent)):
        os.makedirs(os.path.join(dest, parent), 0o755, exist_ok=True)


def _clear(path: str) -> None:
    """A later member of the same name replaces the earlier one (never writes through it)."""
    if os.path.lexists(path) and not (os.path.isdir(path) and not os.path.islink(path)):
        os.unlink(path)


def write_file(path: str, src: IO[bytes], limit: int, mode: int = 0o600) -> None:
    """Write a new file at ``path`` (never through a link) from ``src``, at most ``limit`` bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 mode)
    written = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise ValueError("more data than its header says")
            out.write(chunk)


def is_special(mode: int) -> bool:
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
