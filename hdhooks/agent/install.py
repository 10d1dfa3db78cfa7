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
from hdhooks.agent.layout import Layout, atomic_write
from hdhooks.errors import CheckFailed

SEMANAGE_MARK = "semanage\0"


@dataclass
class InstallResult:
    copied: int = 0
    made: int = 0
    permissions: int = 0
    warnings: list[str] = field(default_factory=list)


def read_cleanup(path: str) -> list[str]:
    """The cleanup file's entries; an unfinished last line (no newline) is ignored."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    lines.pop()  # the part after the last newline: empty, or an unfinished entry
    return [ln for ln in lines if ln.strip()]


def cleanup_would_remove(entries: list[str]) -> list[str]:
    """Paths that :func:`run_cleanup` would remove (for dry runs): files and links,
    and directories that would be empty once those are gone."""
    removed: set[str] = set()
    for entry in reversed(entries):
        if entry.startswith(SEMANAGE_MARK):
            continue
        path = entry.strip()
        if os.path.islink(path) or (os.path.exists(path) and not os.path.isdir(path)):
            removed.add(path)
        elif os.path.isdir(path):
            children = {os.path.join(path, n) for n in os.listdir(path)}
            if children <= removed:
                removed.add(path)
    return sorted(removed)


def run_cleanup(layout: Layout) -> int:
    """Undo the last install of this group, newest entry first; returns entries handled.

    Nothing is removed through a link: an entry whose directories (those the
    install made, or any link not owned by root or this user) were replaced by
    a symbolic link is left alone, and the last component is removed with
    ``unlink``/``rmdir`` relative to its parent's descriptor.
    """
    entries = read_cleanup(layout.cleanup_file)
    made = {e.strip() for e in entries if not e.startswith(SEMANAGE_MARK)}
    for entry in reversed(entries):
        if entry.startswith(SEMANAGE_MARK):
            perms.remove_selinux_context(entry[len(SEMANAGE_MARK):].strip())
            continue
        path = entry.strip()
        try:
            _remove_entry(path, made)
        except OSError:
            pass  # a directory someone else put files in stays, as with the agent
    if os.path.lexists(layout.cleanup_file):
        os.unlink(layout.cleanup_file)
    return len(entries)


def trusted_parent(path: str, made: set[str]) -> bool:
    """Whether every directory above ``path`` is reached without a planted link:
    a link where the install made a directory, or a link owned by another user,
    is not trusted."""
    parts = os.path.abspath(path).split("/")[1:-1]
    prefix = ""
    for part in parts:
        prefix += "/" + part
        st = os.lstat(prefix)
        if os.path.islink(prefix) and (prefix in made or st.st_uid not in (0, os.geteuid())):
            return False
    return True


def _remove_entry(path: str, made: set[str]) -> None:
    import stat

    if not trusted_parent(path, made):
        return
    fd = os.open(os.path.dirname(path) or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        name = os.path.basename(path)
        st = os.lstat(name, dir_fd=fd)
        if stat.S_ISDIR(st.st_mode):
            os.rmdir(name, dir_fd=fd)
        else:
            os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


def execute(
    instr: Instructions,
    layout: Layout,
    on_warning: Callable[[str], None] = lambda _m: None,
) -> InstallResult:
    """Write ``<group>-install.json``, then carry out every instruction in order."""
    atomic_write(layout.install_json, instr.to_json())
    result = InstallResult()
    overwrite = set(instr.overwritten)
    with open(layout.cleanup_file, "w", encoding="utf-8", errors="surrogateescape") as cleanup:
        for item in instr.items:
            try:
                _one(item, cleanup, overwrite, result)
            except OSError as exc:
                raise CheckFailed(
                    f"Install failed at {item.kind} {item.path}: {exc.strerror or exc}"
                ) from None
    for w in result.warnings:
        on_warning(w)
    return result


def _record(cleanup: IO[str], path: str) -> None:
    cleanup.write(path + "\n")
    cleanup.flush()


def _one(item: Instruction, cleanup: IO[str], overwrite: set[str], out: InstallResult) -> None:
    if item.kind == "copy":
        _copy(item.source, item.path, cleanup, item.path in overwrite)
        out.copied += 1
    elif item.kind == "mkdir":
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


def _copy(source: str, dest: str, cleanup: IO[str], replace: bool) -> None:
    if os.path.lexists(dest) and not replace:
        raise CheckFailed(
            f"The deployment failed because a specified file already exists at this location: "
            f"{dest}."
        )
    _record(cleanup, dest)
    tmp = dest
    if replace and os.path.lexists(dest):
        tmp = os.path.join(os.path.dirname(dest), f".{os.path.basename(dest)}.hdhooks-new")
        if os.path.lexists(tmp):
            os.unlink(tmp)
    fstree.copy_file(source, tmp, owners=True)
    if tmp != dest:
        os.replace(tmp, dest)  # OVERWRITE: the old file is replaced in one step
