"""Install instructions: what the Install step will do, computed before it does it.

The same walk as the agent's installer: every ``files`` entry becomes mkdir
and copy instructions (missing parent directories one level at a time, a
directory source copied entry by entry, dotfiles included), then every
``permissions`` entry becomes chmod / setfacl / semanage / chown instructions
for the objects this Install creates. Existing targets are judged by
``file_exists_behavior``; duplicates are refused with the agent's messages.

The walk only *reads* the filesystem, through :class:`FsView`, so a dry run
can ask it what would happen after the previous install is cleaned up.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from hdhooks.agent import permissions as perms
from hdhooks.appspec.model import AppSpec, Permission
from hdhooks.errors import CheckFailed, InputError


@dataclass(frozen=True, slots=True)
class Instruction:
    """One step of Install. ``kind``: copy, mkdir, chmod, setfacl, semanage, chown."""

    kind: str
    path: str  # the destination / directory / object
    source: str = ""
    mode: str = ""
    owner: str | None = None
    group: str | None = None
    acl: tuple[str, ...] = ()
    context: tuple[str | None, str, str | None] | None = None  # user, type, range

    def as_json(self) -> dict[str, object]:
        """The agent's ``<group>-install.json`` entry."""
        if self.kind == "copy":
            return {"type": "copy", "source": self.source, "destination": self.path}
        if self.kind == "mkdir":
            return {"type": "mkdir", "directory": self.path}
        if self.kind == "chmod":
            return {"type": "chmod", "mode": self.mode, "file": self.path}
        if self.kind == "chown":
            return {"type": "chown", "owner": self.owner, "group": self.group, "file": self.path}
        if self.kind == "setfacl":
            return {"type": "setfacl", "acl": list(self.acl), "file": self.path}
        user, type_, range_ = self.context or (None, "", None)
        return {"type": "semanage", "file": self.path,
                "context": {"user": user, "role": None, "type": type_, "range": range_}}


def _abs(path: str) -> str:
    """``os.path.abspath``, returning ``path`` itself when it already is one: the
    walk joins names to absolute directories, and a path is then held once."""
    if path.startswith("/") and not path.endswith("/") and "//" not in path \
            and "/./" not in path and "/../" not in path and not path.endswith(("/.", "/..")):
        return path
    return os.path.abspath(path)


class FsView:
    """The filesystem as Install sees it: optionally minus what cleanup removes."""

    def __init__(self, removed: Iterable[str] = ()) -> None:
        self.removed = frozenset(os.path.abspath(p) for p in removed)

    def exists(self, path: str) -> bool:
        return _abs(path) not in self.removed and os.path.lexists(path)

    def isdir(self, path: str) -> bool:
        return _abs(path) not in self.removed and os.path.isdir(path)


def _recordable(path: str) -> str:
    """``path``, if the cleanup file can hold it: one path a line, so a newline in a
    name would add a line naming another file, for the next cleanup to delete."""
    if "\n" in path:
        raise CheckFailed(
            f"Install refuses {path!r}: a name with a newline cannot be recorded in the "
            "cleanup file",
            hint="rename it in the bundle or the AppSpec file",
        )
    return path


@dataclass
class Instructions:
    """The generated instructions, plus what a dry run wants to show."""

    items: list[Instruction] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # DISALLOW: existing targets
    retained: list[str] = field(default_factory=list)  # RETAIN: existing targets kept
    overwritten: list[str] = field(default_factory=list)  # OVERWRITE: existing targets
    _copies: dict[str, str] = field(default_factory=dict)
    _mkdirs: dict[str, None] = field(default_factory=dict)
    _perm_targets: set[str] = field(default_factory=set)

    def copy(self, source: str, destination: str) -> None:
        dest = _recordable(_abs(destination))
        if dest in self._copies:
            raise CheckFailed(
                "The deployment failed because the application specification file specifies two "
                f"source files named {source} and {self._copies[dest]} for the same destination "
                f"({dest}). Remove one of the source file paths from the AppSpec file, and then "
                "try again."
            )
        if dest in self._mkdirs:
            raise CheckFailed(
                "The deployment failed because the application specification file calls for "
                f"installing the file {source}, but a file with that name already exists at the "
                f"location ({dest}). Update your AppSpec file or directory structure, and then "
                "try again."
            )
        self.items.append(Instruction("copy", dest, source=source))
        self._copies[dest] = source

    def mkdir(self, destination: str) -> None:
        dest = _recordable(_abs(destination))
        if dest in self._copies:
            raise CheckFailed(
                "The deployment failed because the application specification file includes an "
                f"mkdir command more than once for the same destination path ({dest}) from "
                f"({self._copies[dest]}). Update the files section of the AppSpec file, and then "
                "try again."
            )
        if dest not in self._mkdirs:
            self.items.append(Instruction("mkdir", dest))
            self._mkdirs[dest] = None

    def set_permissions(self, obj: str, perm: Permission) -> None:
        target = _abs(obj)
        if target in self._perm_targets:
            raise CheckFailed(
                f"The deployment failed because the permissions setting for ({target}) is "
                "specified more than once in the application specification file. Update the "
                "files section of the AppSpec file, and then try again."
            )
        self._perm_targets.add(target)
        if perm.mode is not None:
            self.items.append(Instruction("chmod", target, mode=perm.mode))
        if perm.acls:
            self.items.append(Instruction("setfacl", target, acl=perm.acls))
        if perm.context is not None:
            c = perm.context
            self.items.append(Instruction("semanage", target, context=(c.user, c.type, c.range)))
        if perm.owner is not None or perm.group is not None:
            self.items.append(Instruction("chown", target, owner=perm.owner, group=perm.group))

    def copying(self, path: str) -> bool:
        return _abs(path) in self._copies

    def making_dir(self, path: str) -> bool:
        return _abs(path) in self._mkdirs

    def find_matches(self, perm: Permission) -> list[str]:
        match = perms.matcher(perm)
        found: list[str] = []
        if "file" in perm.types:
            found += [p for p in self._copies if match(p)]
        if "directory" in perm.types:
            found += [p for p in self._mkdirs if match(p)]
        return found

    def to_json(self) -> str:
        import json

        return json.dumps({"instructions": [i.as_json() for i in self.items]})

    def write_json(self, path: str) -> None:
        """:meth:`to_json` into ``path`` (atomically, 0644), one instruction at a time:
        the document is never whole in memory."""
        import json

        from hdhooks.fsutil import PendingFile

        with PendingFile(path, mode=0o644) as out:
            out.write('{"instructions": [')
            for n, item in enumerate(self.items):
                out.write((", " if n else "") + json.dumps(item.as_json()))
            out.write("]}")
            out.commit()


def generate(
    spec: AppSpec, archive: str, behavior: str, fs: FsView | None = None
) -> Instructions:
    """The instructions for installing ``spec``'s files from ``archive``.

    ``behavior`` is DISALLOW, OVERWRITE or RETAIN. DISALLOW conflicts are
    collected (all of them) in ``conflicts``; the caller refuses to start.
    """
    fs = fs or FsView()
    out = Instructions()
    from hdhooks.appspec.bundle import source_in_bundle, source_outside_message

    for mapping in spec.files:
        where = f"{spec.path}:{mapping.line}:1" if mapping.line else spec.path
        inside = source_in_bundle(archive, mapping.source)
        if inside is None:
            raise InputError(source_outside_message(mapping.source), location=where,
                             hint="name a path inside the bundle")
        source = os.path.join(archive, mapping.source.lstrip("/"))
        if not os.path.lexists(source):
            raise InputError(
                f"files: source '{mapping.source}' does not exist in the revision",
                location=f"{spec.path}:{mapping.line}:1" if mapping.line else spec.path,
                hint="fix the path (it is relative to the bundle's root)",
            )
        if os.path.isdir(source) and not os.path.islink(source):
            _fill_ancestors(out, fs, mapping.destination)
            _copy_dir(out, fs, behavior, source, mapping.destination)
        else:
            dest = os.path.join(mapping.destination, os.path.basename(source.rstrip("/")))
            _fill_ancestors(out, fs, dest)
            _copy_file(out, fs, behavior, source, dest)
    for perm in spec.permissions:
        _permission(out, fs, perm, f"{spec.path}:{perm.line}" if perm.line else spec.path)
    return out


def _permission(out: Instructions, fs: FsView, perm: Permission, where: str) -> None:
    if out.copying(perm.object):
        if "file" in perm.types:
            perms.check_file_permission(perm, where)
            out.set_permissions(perm.object, perm)
    elif out.making_dir(perm.object) or fs.isdir(perm.object):
        for match in out.find_matches(perm):
            if match in out._copies:
                perms.check_file_acl(perm, where)
            out.set_permissions(match, perm)


def _copy_dir(out: Instructions, fs: FsView, behavior: str, source: str, dest: str,
              fresh: bool = False) -> None:
    """``fresh``: ``dest`` is made by this install, so nothing below it exists yet
    and no destination needs a look."""
    if not fresh and not fs.isdir(dest):
        out.mkdir(dest)
        fresh = True
    with os.scandir(source) as it:
        entries = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in it)
    for name, is_dir in entries:
        src = os.path.join(source, name)
        target = os.path.join(dest, name)
        if is_dir:
            if fresh:
                out.mkdir(target)
            _copy_dir(out, fs, behavior, src, target, fresh)
        else:
            _copy_file(out, fs, behavior, src, target, fresh)


def _copy_file(out: Instructions, fs: FsView, behavior: str, source: str, dest: str,
               fresh: bool = False) -> None:
    if fresh or not fs.exists(dest):
        out.copy(source, dest)
    elif behavior == "OVERWRITE":
        out.overwritten.append(_abs(dest))
        out.copy(source, dest)
    elif behavior == "RETAIN":
        out.retained.append(_abs(dest))
    else:
        out.conflicts.append(_abs(dest))


def _fill_ancestors(out: Instructions, fs: FsView, destination: str) -> None:
    missing: list[str] = []
    parent = os.path.dirname(destination)
    while parent not in (".", "/", "") and not fs.exists(parent):
        missing.insert(0, parent)
        parent = os.path.dirname(parent)
    for d in missing:
        out.mkdir(d)
