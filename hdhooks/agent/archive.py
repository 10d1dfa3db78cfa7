"""The one extractor for bundle archives: tar (plain, gzip, bzip2, xz) and zip.

Every member is checked by hdhooks itself before anything is written (tarfile
and the zip reader only parse): its name (no NUL, not empty, not absolute, no
``..``, not longer than Linux can write), its type (files, directories,
symbolic and hard links only), its link target resolved against the
extraction root through the links the archive itself makes (never outside),
its path (never through a link an earlier member made), its size and the
member count (the directories its names imply included) against the limits.
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
from dataclasses import dataclass, field

from hdhooks.errors import InputError
from hdhooks.fstree import MAX_DEPTH

GIB = 1 << 30
_LINK_DEPTH = 40  # as the kernel's ELOOP limit
_PATH_MAX, _NAME_MAX = 4096, 255  # as Linux: longer could not be written
_ZIP_METHODS = (0, 8, 12, 14)  # stored, deflate, bzip2, lzma


@dataclass(frozen=True)
class Limits:
    """What one archive may hold; each can be set in the environment."""

    total_bytes: int = 10 * GIB
    member_bytes: int = 10 * GIB
    members: int = 1_000_000
    name_bytes: int = 128 << 20  # every path the check remembers: what its memory holds

    @classmethod
    def from_env(cls) -> Limits:
        """``HDHOOKS_BUNDLE_MAX_BYTES``, ``..._MAX_MEMBER_BYTES``, ``..._MAX_MEMBERS``,
        ``..._MAX_NAME_BYTES``."""
        d = cls()
        return cls(_env_int("HDHOOKS_BUNDLE_MAX_BYTES", d.total_bytes),
                   _env_int("HDHOOKS_BUNDLE_MAX_MEMBER_BYTES", d.member_bytes),
                   _env_int("HDHOOKS_BUNDLE_MAX_MEMBERS", d.members),
                   _env_int("HDHOOKS_BUNDLE_MAX_NAME_BYTES", d.name_bytes))


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"{name}={text!r} is not a positive whole number",
                         hint=f"unset it for the default ({default})")
    return int(text)


class Damaged(Exception):
    """The bytes of an archive (or of one member) do not add up; the text says how and
    where. The readers (:mod:`~hdhooks.agent.tarread`, :mod:`~hdhooks.agent.zipdir`)
    raise it; the extractor turns it into one line naming the archive."""


class Refused(InputError):
    """One member breaks one rule: the whole archive is refused."""

    def __init__(self, archive: str, member: str, rule: str) -> None:
        super().__init__(f"{archive}: member {member!r} refused: {rule}",
                         hint="nothing was installed; rebuild the bundle without it")
        self.archive, self.member, self.rule = archive, member, rule


@dataclass(frozen=True, slots=True)
class Member:
    """One checked member: where it goes and what it is."""

    rel: str  # normalised path under the root
    kind: str  # file, dir, symlink, hardlink
    target: str = ""  # symlink text, or the hard link's normalised member path
    replaces: bool = False  # an earlier member (or an implied directory) had this path


@dataclass
class Checker:
    """The rules, applied member by member in archive order."""

    archive: str
    limits: Limits
    kinds: dict[str, str] = field(default_factory=dict)  # rel -> file/dir/symlink/hardlink
    links: dict[str, str] = field(default_factory=dict)  # rel -> symlink text
    hardlinks: dict[str, str] = field(default_factory=dict)  # rel -> the file it links to
    total: int = 0
    count: int = 0
    name_bytes: int = 0  # of every path in ``kinds``
    tops: set[str] = field(default_factory=set)  # the first component of every member

    def refuse(self, name: str, rule: str) -> Refused:
        return Refused(self.archive, name, rule)

    def name(self, name: str) -> str:
        """The member's path under the root, or refused."""
        if "\0" in name:
            raise self.refuse(name, "its name contains a NUL byte")
        if "\n" in name:
            raise self.refuse(name, "its name contains a newline (Install records one path "
                                    "a line, for the next deployment to remove)")
        if name.startswith("/"):
            raise self.refuse(name, "its name is an absolute path")
        if len(name.encode("utf-8", "surrogatepass")) > _PATH_MAX:
            raise self.refuse(name, f"its name is longer than {_PATH_MAX} bytes")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.refuse(name, "its name contains '..' (it would be written outside)")
        if any(len(p.encode("utf-8", "surrogatepass")) > _NAME_MAX for p in parts):
            raise self.refuse(name, f"a part of its name is longer than {_NAME_MAX} bytes")
        if len(parts) > MAX_DEPTH + 1:
            raise self.refuse(name, f"it nests more than {MAX_DEPTH} directories deep")
        return "/".join(parts)

    def _count(self, name: str) -> None:
        """One more path the archive makes: a member, or a directory it implies."""
        self.count += 1
        if self.count > self.limits.members:
            raise self.refuse(name, f"the archive has more than {self.limits.members} members, "
                                    "the directories it implies included "
                                    "(HDHOOKS_BUNDLE_MAX_MEMBERS)")

    def add(self, name: str, kind: str, size: int = 0, target: str = "") -> Member | None:
        """Check one member; None for the root itself ("./"), which is not written."""
        self._count(name)
        rel = self.name(name)
        if not rel:
            if kind == "dir":
                return None
            raise self.refuse(name, "its name is empty")
        self.tops.add(rel.split("/", 1)[0])
        self._parents(name, rel)
        replaces = rel in self.kinds
        if self.kinds.get(rel) == "dir" and kind != "dir":
            raise self.refuse(name, "it replaces a directory an earlier member made")
        if kind == "file":
            self._size(name, size)
        elif kind == "symlink":
            self._symlink(name, rel, target)
        elif kind == "hardlink":
            target = self._hardlink(name, target)
        if not replaces:
            self._remember(name, rel)
        self.kinds[rel] = "file" if kind == "hardlink" else kind
        self.links.pop(rel, None)
        self.hardlinks.pop(rel, None)
        if kind == "symlink":
            self.links[rel] = target
        elif kind == "hardlink":  # a link to a link is one to the file it names
            self.hardlinks[rel] = self.hardlinks.get(target, target)
        return Member(rel, kind, target, replaces)

    def strip_prefix(self, appspec_names: tuple[str, ...]) -> str:
        """The lone top-level directory to strip ("" for none), as the agent strips it:
        when the appspec is not at the top and that directory holds it. A link must
        then stay inside that directory, which becomes the revision's root."""
        if any(n in self.kinds for n in appspec_names) or len(self.tops) != 1:
            return ""
        top = next(iter(self.tops))
        if self.kinds.get(top) != "dir" or not any(f"{top}/{n}" in self.kinds
                                                   for n in appspec_names):
            return ""
        for rel, target in self.links.items():
            where = self.resolve(rel.split("/")[:-1], target)
            if where is None or where[:1] != [top]:
                raise self.refuse(rel, f"its symbolic link target {target!r} points outside "
                                       f"{top!r}, the directory that becomes the revision")
        return top

    def _remember(self, name: str, rel: str) -> None:
        """Count a new path's name against the limit on what the check holds."""
        self.name_bytes += len(rel)
        if self.name_bytes > self.limits.name_bytes:
            raise self.refuse(name, f"the names of its members and the directories they "
                                    f"imply add up to more than {self.limits.name_bytes} "
                                    "bytes (HDHOOKS_BUNDLE_MAX_NAME_BYTES)")

    def _parents(self, name: str, rel: str) -> None:
        prefixes = []
        at = rel.find("/")
        while at >= 0:
            prefixes.append(rel[:at])
            at = rel.find("/", at + 1)
        for prefix in prefixes:
            kind = self.kinds.get(prefix)
            if kind == "symlink":
                raise self.refuse(name, f"it would be written through the symbolic link "
                                        f"{prefix!r} an earlier member made")
            if kind is not None and kind != "dir":
                raise self.refuse(name, f"its parent {prefix!r} is not a directory")
        for prefix in prefixes:
            if prefix not in self.kinds:  # each directory made counts as a member
                self._count(name)
                self._remember(name, prefix)
                self.kinds[prefix] = "dir"

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
        if len(target.encode("utf-8", "surrogatepass")) >= _PATH_MAX:
            raise self.refuse(name, f"its symbolic link target is {_PATH_MAX} bytes or longer "
                                    "(Linux keeps at most 4095)")
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


class Unpacker:
    """One archive, every member checked, nothing written yet.

    :func:`check` builds it before the first side effect (a refused archive
    stops the deployment before any event runs); :meth:`write` unpacks it
    later, inside DownloadBundle, as the agent does. ``strip`` is the lone
    top-level directory whose content becomes the revision's root.
    """

    strip: str = ""
    checker: Checker  # the check's rules and final state: kinds and links of every path

    def read(self, rel: str, limit: int) -> bytes | None:
        """At most ``limit`` bytes of the file ``rel`` (the last member of that name,
        the archive's own links followed); None when there is no such file."""
        for _ in range(_LINK_DEPTH):
            kind = self.checker.kinds.get(rel)
            if kind != "symlink":
                return self.read_file(rel, limit) if kind == "file" else None
            where = self.checker.resolve(rel.split("/")[:-1], self.checker.links[rel])
            if where is None:
                return None
            rel = "/".join(where)
        return None

    def read_file(self, rel: str, limit: int) -> bytes | None:
        raise NotImplementedError

    def write(self, dest: str) -> None:
        """Unpack into the existing empty directory ``dest``."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Unpacker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def check(location: str, kind: str, appspec_names: tuple[str, ...],
          limits: Limits | None = None) -> Unpacker:
    """Check every member of ``location`` (tar or zip); the caller closes the result."""
    limits = limits or Limits.from_env()
    checker = Checker(location, limits)
    if kind == "zip":
        from hdhooks.agent import unzip

        unpacker: Unpacker = unzip.open_checked(location, checker)
    else:
        from hdhooks.agent import untar

        unpacker = untar.open_checked(location, checker, appspec_names)
    try:
        unpacker.strip = checker.strip_prefix(appspec_names)
    except BaseException:
        unpacker.close()
        raise
    return unpacker


def extract(location: str, kind: str, dest: str, appspec_names: tuple[str, ...] = (),
            limits: Limits | None = None) -> None:
    """Check then unpack ``location`` into the existing empty directory ``dest``."""
    with check(location, kind, appspec_names, limits) as unpacker:
        unpacker.write(dest)
