"""The Install step: undo the previous install, then carry out the instructions.

Every path is written to ``<group>-cleanup`` (and flushed) before the copy
that creates it, so whatever happens to this process, the next deployment
removes exactly what this one put in place. Copies keep mode, times (and, as
root, ownership); symlinks are recreated as links, and no copy, cleanup or
permission change follows a link (see :mod:`hdhooks.fstree`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from hdhooks import fstree
from hdhooks.agent import permissions as perms
from hdhooks.agent.instructions import Instruction, Instructions
from hdhooks.agent.layout import Layout
from hdhooks.agent.listing import SEMANAGE_MARK
from hdhooks.errors import CheckFailed


@dataclass
class InstallResult:
    copied: int = 0
    made: int = 0
    permissions: int = 0
    warnings: list[str] = field(default_factory=list)


def execute(
    instr: Instructions,
    layout: Layout,
    on_warning: Callable[[str], None] = lambda _m: None,
) -> InstallResult:
    """Write ``<group>-install.json``, then carry out every instruction in order.

    The mode and owner a ``permissions`` entry gives a copied file are set on
    the open copy (:func:`fused_meta`), so the permissions pass touches only
    directories, ACLs and SELinux contexts: one open per file, not three.
    """
    instr.write_json(layout.install_json)
    result = InstallResult()
    overwrite = set(instr.overwritten)
    fused = fused_meta(instr)
    made: set[str] = set()  # directories this Install made: nothing in them yet
    with open(layout.cleanup_file, "w", encoding="utf-8", errors="surrogateescape") as cleanup, \
            _Dirs() as dirs:
        for item in instr.items:
            try:
                if item.kind == "copy":
                    _copy(item.source, item.path, cleanup, item.path in overwrite, dirs,
                          fused.get(item.path), os.path.dirname(item.path) in made)
                    result.copied += 1
                elif item.kind in ("chmod", "chown") and item.path in fused:
                    result.permissions += 1  # done with the copy
                else:
                    _one(item, cleanup, result)
                    if item.kind == "mkdir":
                        made.add(item.path)
            except OSError as exc:
                raise CheckFailed(
                    f"Install failed at {item.kind} {item.path}: {exc.strerror or exc}"
                ) from None
    for w in result.warnings:
        on_warning(w)
    return result


def fused_meta(instr: Instructions) -> dict[str, fstree.Meta]:
    """Copied file -> the mode (and, as root, owner) its ``permissions`` entries set.

    Owners are resolved here, once per name, so an unknown user fails Install
    before the first copy. Equal settings share one :class:`fstree.Meta`.
    Without root a chown stays a separate step with its own message.
    """
    copies = {i.path for i in instr.items if i.kind == "copy"}
    root = os.geteuid() == 0
    wanted: dict[str, tuple[int | None, int, int]] = {}
    for item in instr.items:
        if item.path not in copies:
            continue
        mode, uid, gid = wanted.get(item.path, (None, -1, -1))
        if item.kind == "chmod":
            mode = int(item.mode, 8)
        elif item.kind == "chown" and root:
            uid, gid = perms.resolve_owner(item.path, item.owner, item.group)
        else:
            continue
        wanted[item.path] = (mode, uid, gid)
    shared: dict[tuple[int | None, int, int], fstree.Meta] = {}
    return {path: shared.setdefault(key, fstree.Meta(*key)) for path, key in wanted.items()}


def _record(cleanup: IO[str], path: str) -> None:
    cleanup.write(path + "\n")
    cleanup.flush()


def _one(item: Instruction, cleanup: IO[str], out: InstallResult) -> None:
    if item.kind == "mkdir":
        if os.path.lexists(item.path):
            raise CheckFailed(
                "The deployment failed because a specified file already exists at this "
                f"location: {item.path}."
            )
        _record(cleanup, item.path)  # before it exists, so an interruption cannot lose it
        os.mkdir(item.path)
        out.made += 1
    elif item.kind == "chmod":
        perms.chmod(item.path, item.mode)
        out.permissions += 1
    elif item.kind == "chown":
        perms.chown(item.path, item.owner, item.group)
        out.permissions += 1
    elif item.kind == "setfacl":
        _warn(out, perms.setfacl(item.path, item.acl))
    elif item.kind == "semanage" and item.context is not None:
        user, type_, range_ = item.context
        applied = perms.selinux_context(item.path, user, type_, range_)
        if not applied.warning:
            _record(cleanup, SEMANAGE_MARK + os.path.abspath(item.path))
        _warn(out, applied)


def _warn(out: InstallResult, applied: perms.Applied) -> None:
    out.permissions += 1
    if applied.warning:
        out.warnings.append(applied.warning)


class _Dirs:
    """The last source and destination directories, kept open: a directory's
    files are copied relative to one descriptor each, with no path walked again.
    The directories are opened as the agent opens them (by path); the files in
    them never through a link."""

    _FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC

    def __init__(self) -> None:
        self.open: dict[str, tuple[str, int]] = {}

    def fd(self, side: str, directory: str) -> int:
        held = self.open.get(side)
        if held is not None and held[0] == directory:
            return held[1]
        fd = os.open(directory, self._FLAGS)
        if held is not None:
            os.close(held[1])
        self.open[side] = (directory, fd)
        return fd

    def __enter__(self) -> _Dirs:
        return self

    def __exit__(self, *_exc: object) -> None:
        for _, fd in self.open.values():
            os.close(fd)
        self.open.clear()


_ROOT = [os.geteuid() == 0]


def _exists_message(dest: str) -> CheckFailed:
    return CheckFailed(
        f"The deployment failed because a specified file already exists at this location: "
        f"{dest}."
    )


def _copy(source: str, dest: str, cleanup: IO[str], replace: bool, dirs: _Dirs,
          meta: fstree.Meta | None, fresh: bool) -> None:
    """One copy; ``fresh``: its directory was made by this Install, so ``dest``
    cannot exist (a file put there meanwhile still fails the exclusive create)."""
    sdir, sname = os.path.split(source)
    ddir, dname = os.path.split(dest)
    sfd = dirs.fd("source", sdir)
    dfd = dirs.fd("dest", ddir)
    st = os.lstat(sname, dir_fd=sfd)
    exists = False
    if not fresh:
        try:
            os.lstat(dname, dir_fd=dfd)
            exists = True
        except FileNotFoundError:
            pass
    if exists and not replace:
        raise _exists_message(dest)
    _record(cleanup, dest)
    owners = _ROOT[0]
    if not exists:
        fstree.copy_entry(sfd, sname, dfd, dname, st, owners=owners, meta=meta)
        return
    # OVERWRITE: the new file under a temporary name, then it replaces the old one in one step
    tmp = f".{dname}.hdhooks-new"
    try:
        os.unlink(tmp, dir_fd=dfd)
    except FileNotFoundError:
        pass
    fstree.copy_entry(sfd, sname, dfd, tmp, st, owners=owners, meta=meta)
    os.replace(tmp, dname, src_dir_fd=dfd, dst_dir_fd=dfd)
