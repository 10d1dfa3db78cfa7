"""The ``permissions`` section: which installed objects an entry matches, and
the chmod / setfacl / SELinux context / chown commands that apply it.

Matching follows the agent: only objects this Install creates are candidates;
``pattern`` and ``except`` match names directly under ``object`` (``*`` is the
only wildcard), except the pattern ``**`` which matches every descendant; the
object itself never matches.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from hdhooks.appspec.model import Permission
from hdhooks.errors import CheckFailed


def simple_glob(name: str, pattern: str) -> bool:
    """The agent's glob: ``*`` matches any run of characters; never a ``/``."""
    return "/" not in name and _glob(pattern)(name) is not None


_GLOBS: dict[str, Callable[[str], object]] = {}


def _glob(pattern: str) -> Callable[[str], object]:
    """The compiled full match of one pattern (patterns are few, names many)."""
    if pattern not in _GLOBS:
        regex = ".*".join(re.escape(part) for part in pattern.split("*"))
        _GLOBS[pattern] = re.compile(regex, re.DOTALL).fullmatch
    return _GLOBS[pattern]


def matches(perm: Permission, name: str) -> bool:
    """True when ``name`` matches the entry's pattern and none of its excepts."""
    return matcher(perm)(name)


def matcher(perm: Permission) -> Callable[[str], bool]:
    """:func:`matches` for one entry, its object and patterns worked out once."""
    base = os.path.abspath(perm.object)
    if not base.endswith("/"):
        base += "/"
    every = perm.pattern == "**"
    pattern = _glob(perm.pattern)
    excepts = [_glob(e) for e in perm.excepts]

    def match(name: str) -> bool:
        name = name.rstrip("/")
        if not name.startswith(base):
            return False
        rel = name[len(base):]
        if not every and ("/" in rel or pattern(rel) is None):
            return False
        return not ("/" not in rel and any(e(rel) is not None for e in excepts))

    return match


def check_file_permission(perm: Permission, where: str) -> None:
    """An entry whose object is a file: pattern must be ``**``, no except, no default ACL."""
    if perm.pattern != "**":
        raise CheckFailed(
            f"The deployment failed because the application specification file includes an "
            f"object ({perm.object}) with an invalid pattern ({perm.pattern}), such as a pattern "
            "for a file applied to a directory. Correct the permissions section of the AppSpec "
            "file, and then try again.",
            hint=where,
        )
    if perm.excepts:
        raise CheckFailed(
            "The deployment failed because the except parameter for a pattern in the "
            f"permissions section ({list(perm.excepts)}) for the object named {perm.object} "
            "contains an invalid format. Update the AppSpec file, and then try again.",
            hint=where,
        )
    check_file_acl(perm, where)


def check_file_acl(perm: Permission, where: str) -> None:
    if any(_is_default(a) for a in perm.acls):
        raise CheckFailed(
            "The deployment failed because the -d parameter has been specified to apply an acl "
            "setting to a file. This parameter is supported for directories only. Update the "
            "AppSpec file, and then try again.",
            hint=where,
        )


def _is_default(ace: str) -> bool:
    return ace.split(":", 1)[0] in ("d", "default")


def _kind(ace: str) -> tuple[bool, str, str]:
    """(default?, kind letter u/g/m/o, name) of one ACL entry as the appspec writes it."""
    parts = ace.split(":")
    default = parts[0] in ("d", "default")
    if default:
        parts = parts[1:]
    kinds = {"u": "u", "user": "u", "g": "g", "group": "g", "m": "m", "mask": "m",
             "o": "o", "other": "o"}
    if len(parts) == 3 and parts[0] in kinds:
        return default, kinds[parts[0]], parts[1]
    if len(parts) == 2 and parts[0] in kinds:
        return default, kinds[parts[0]], ""
    return default, "u", parts[0] if len(parts) >= 2 else ""


def full_acl(acls: tuple[str, ...], mode: int) -> list[str]:
    """The entries given plus the base entries from the file's mode, as the agent sets them."""
    perm = f"{mode & 0o777:03o}"
    out = list(acls)
    out += [f"u::{perm[0]}", f"g::{perm[1]}", f"o::{perm[2]}"]
    kinds = [_kind(a) for a in acls]
    if any(not d and k in "ug" and n for d, k, n in kinds) and not any(
        not d and k == "m" for d, k, _ in kinds
    ):
        out.append(f"m::{perm[1]}")
    if any(d for d, _, _ in kinds):
        have = {(k, bool(n)) for d, k, n in kinds if d}
        if ("u", False) not in have:
            out.append(f"d:u::{perm[0]}")
        if ("g", False) not in have:
            out.append(f"d:g::{perm[1]}")
        if ("o", False) not in have:
            out.append(f"d:o::{perm[2]}")
        if any(d and k in "ug" and n for d, k, n in kinds) and ("m", False) not in have:
            out.append(f"d:m::{perm[1]}")
    return out


@dataclass(frozen=True)
class Applied:
    """What applying one permission command did (a warning when a tool is missing)."""

    warning: str = ""


def chmod(path: str, mode: str) -> None:
    """The mode of the object itself; a link (which has no mode of its own) is left."""
    from hdhooks import fstree

    fstree.chmod(path, int(mode, 8))


def chown(path: str, owner: str | None, group: str | None) -> None:
    uid, gid = resolve_owner(path, owner, group)
    try:
        os.chown(path, uid, gid, follow_symlinks=False)  # a link gets the owner, not its target
    except PermissionError:
        raise CheckFailed(f"cannot change the owner of {path}: permission denied",
                          hint="owner and group need a deployment run as root") from None


def resolve_owner(path: str, owner: str | None, group: str | None) -> tuple[int, int]:
    """(uid, gid) for ``chown`` (-1: unchanged); an unknown name fails naming ``path``."""
    uid = _uid(owner) if owner else -1
    if uid is None:
        raise CheckFailed(f"cannot set the owner of {path}: user '{owner}' does not exist",
                          hint="create the user or fix permissions[].owner")
    gid = _gid(group) if group else -1
    if gid is None:
        raise CheckFailed(f"cannot set the group of {path}: group '{group}' does not exist",
                          hint="create the group or fix permissions[].group")
    return uid, gid


_IDS: dict[tuple[str, str], int | None] = {}  # one lookup per name: each reads /etc/passwd


def _uid(name: str) -> int | None:
    if ("u", name) not in _IDS:
        import pwd

        try:
            _IDS["u", name] = pwd.getpwnam(name).pw_uid
        except KeyError:
            _IDS["u", name] = None
    return _IDS["u", name]


def _gid(name: str) -> int | None:
    if ("g", name) not in _IDS:
        import grp

        try:
            _IDS["g", name] = grp.getgrnam(name).gr_gid
        except KeyError:
            _IDS["g", name] = None
    return _IDS["g", name]


def setfacl(path: str, acls: tuple[str, ...]) -> Applied:
    from hdhooks.proc import run, which

    if which("setfacl") is None:
        return Applied(f"acls for {path} not applied: setfacl is not installed (package acl)")
    if os.path.islink(path):
        return Applied(f"acls for {path} not applied: it is a symbolic link, never followed")
    acl = ",".join(full_acl(acls, os.lstat(path).st_mode))
    result = run(["setfacl", "--set", acl, path], timeout=60)
    if not result.ok:
        raise CheckFailed(
            "The deployment failed because of a problem with the acls permission settings in "
            f"the application specification file for this object: {path}. Failed command: "
            f"setfacl --set {acl} {path}. Exit code: {result.returncode}",
            hint=result.tail(3),
        )
    return Applied()


def selinux_context(path: str, user: str | None, type_: str, range_: str | None) -> Applied:
    """``semanage fcontext -a`` + ``restorecon``; a warning where SELinux tools are absent."""
    from hdhooks.proc import run, which

    if which("semanage") is None:
        return Applied(f"SELinux context for {path} not applied: semanage is not installed")
    if os.path.islink(path):
        return Applied(f"SELinux context for {path} not applied: it is a symbolic link, "
                       "never followed")
    real = os.path.abspath(path)
    args = ["semanage", "fcontext", "-a"]
    if user:
        args += ["-s", user]
    args += ["-t", type_]
    if range_:
        args += ["-r", range_]
    for argv in ([*args, real], ["restorecon", "-v", real]):
        result = run(argv, timeout=120)
        if not result.ok:
            raise CheckFailed(
                "The deployment failed because the application specification file contains an "
                "error in the settings for the context parameter. Update the permissions section "
                f"of the AppSpec file, and then try again. Failed command: {' '.join(argv)}. "
                f"Exit code: {result.returncode}",
            )
    return Applied()


def remove_selinux_context(path: str) -> None:
    from hdhooks.proc import run, which

    if which("semanage") is not None:
        run(["semanage", "fcontext", "-d", path], timeout=120)
