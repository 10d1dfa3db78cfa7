"""The appspec rules the CodeDeploy agent applies to ``permissions``.

Split from :mod:`hdhooks.appspec.read` to keep each module small; how Ruby
reads the YAML values is in :mod:`hdhooks.appspec.psych`. Every check
mirrors what the agent (Linux, v1.8.x) does when it reads an appspec: a value
it rejects or crashes on is an error here; a value it accepts but applies in
a surprising way is a warning. Messages quote the agent's wording where it has
one, then say how to fix the file.
"""

from __future__ import annotations

import re

from hdhooks.appspec.model import Permission, SelinuxContext
from hdhooks.appspec.psych import ruby_to_s
from hdhooks.yamlsrc.checks import type_error, unknown_keys
from hdhooks.yamlsrc.node import YNode, child_path
from hdhooks.yamlsrc.problems import Problem

PERMISSION_KEYS = ("object", "pattern", "except", "type", "owner", "group", "mode", "acls",
                   "context")
CONTEXT_KEYS = ("name", "type", "range")
TYPES = ("file", "directory")
_ACE_TYPES = {"u": "user", "user": "user", "g": "group", "group": "group",
              "m": "mask", "mask": "mask", "o": "other", "other": "other"}
_DEFAULT = ("d", "default")
_LEVEL = re.compile(r"[0-9]+")


# --- permissions -------------------------------------------------------------
def check_permissions(node: YNode | None, out: list[Problem]) -> tuple[Permission, ...]:
    """Validate ``permissions``; returns the entries that are valid."""
    if node is None or node.is_null or node.value is False:
        return ()
    if not node.is_seq:
        type_error(node, "a list of entries ('- object: /path')", out, code="permissions",
                   what="permissions", why="; the agent crashes on it")
        return ()
    result = []
    for entry in node.children():
        perm = _permission(entry, out)
        if perm is not None:
            result.append(perm)
    return tuple(result)


def _permission(entry: YNode, out: list[Problem]) -> Permission | None:
    if not entry.is_map:
        type_error(entry, "a mapping with an 'object' key", out, code="permissions",
                   what="a permissions entry", why="; the agent crashes on it")
        return None
    before = len(out)
    unknown_keys(entry, PERMISSION_KEYS, out, code="unknown-key", what="a permissions entry",
                 severity="warning", consequence=": the agent ignores it")
    obj = _object(entry, out)
    pattern = _pattern(entry.get("pattern"), out)
    excepts = _string_list(entry.get("except"), "except", out)
    types = _types(entry.get("type"), out)
    owner = _name(entry.get("owner"), "owner", out)
    group = _name(entry.get("group"), "group", out)
    mode = check_mode(entry.get("mode"), out)
    acls = _acls(entry.get("acls"), out)
    context = _context(entry.get("context"), out)
    if obj is None or any(p.is_error for p in out[before:]):
        return None
    return Permission(object=obj, pattern=pattern, excepts=excepts, owner=owner, group=group,
                      mode=mode, acls=acls, context=context, types=types, line=entry.line)


def _object(entry: YNode, out: list[Problem]) -> str | None:
    node = entry.get("object")
    if node is None or node.is_null or (node.is_scalar and not ruby_to_s(node).strip()):
        where = entry if node is None or node.is_null else node
        out.append(where.problem(
            "error", "permission-object",
            "a permission listed in the application specification file has no object value; "
            "add 'object: /absolute/path' to this entry",
            path=child_path(entry.path, "object"),
        ))
        return None
    if not node.is_scalar:
        type_error(node, "a path", out, code="permission-object", what="object")
        return None
    return ruby_to_s(node).strip()


def _pattern(node: YNode | None, out: list[Problem]) -> str:
    if node is None or node.is_null:
        return "**"
    if not node.is_str:
        type_error(node, "a string such as '*.sh' or '**'", out, code="permission-pattern",
                   what="pattern")
        return "**"
    if "/" in node.value:
        out.append(node.warning(
            "permission-pattern",
            f"pattern '{node.value}' contains '/': the agent matches patterns against "
            "the names of the object's direct children only, so it never matches",
        ))
    return str(node.value)


def _string_list(node: YNode | None, key: str, out: list[Problem]) -> tuple[str, ...]:
    if node is None or node.is_null:
        return ()
    if not node.is_seq:
        out.append(node.error(
            f"permission-{key}",
            f"{key} must be a list of patterns (\"{key}: ['*.log']\"), not {node.kind_name()}",
        ))
        return ()
    result = []
    for item in node.children():
        if not item.is_str:
            out.append(item.error(f"permission-{key}",
                                  f"{key} entries must be strings, not {item.kind_name()}"))
        else:
            result.append(str(item.value))
    return tuple(result)


def _types(node: YNode | None, out: list[Problem]) -> tuple[str, ...]:
    if node is None or node.is_null:
        return TYPES
    if not node.is_seq:
        out.append(node.error(
            "permission-type",
            f"type must be a list ('type: [file]' or '[file, directory]'), not "
            f"{node.kind_name()}",
        ))
        return TYPES
    result = []
    for item in node.children():
        text = ruby_to_s(item) if item.is_scalar else item.kind_name()
        if not item.is_str or item.value not in TYPES:
            out.append(item.error(
                "permission-type",
                f"the application specification file specifies a permission for an object "
                f"type not supported for permissions ({text}); use 'file' or 'directory'",
            ))
        else:
            result.append(str(item.value))
    if not node.children():
        out.append(node.warning("permission-type",
                                "type is an empty list: this entry changes nothing"))
    return tuple(result)


def _name(node: YNode | None, key: str, out: list[Problem]) -> str | None:
    if node is None or node.is_null:
        return None
    if not node.is_scalar:
        type_error(node, "a user or group name", out, code=f"permission-{key}", what=key)
        return None
    return ruby_to_s(node)


# --- mode --------------------------------------------------------------------
def check_mode(node: YNode | None, out: list[Problem]) -> str | None:
    """``mode`` as the agent reads it: its Ruby text, one to four octal digits."""
    if node is None or node.is_null:
        return None
    if not node.is_scalar:
        out.append(node.error("mode", f"mode must be octal digits such as '644', not "
                                      f"{node.kind_name()}"))
        return None
    mode = ruby_to_s(node).rjust(3, "0")
    bad = _mode_problem(mode)
    if node.is_plain_octal:
        digits = node.raw.lstrip("+").lstrip("0") or "0"
        if bad:
            out.append(node.error(
                "mode-octal",
                f"unquoted mode {node.raw} is read by YAML as an octal number (decimal "
                f"{node.value}) and the agent rejects it ({bad}); write 'mode: {digits}' or "
                f"quote it",
            ))
            return None
        out.append(node.warning(
            "mode-octal",
            f"unquoted mode {node.raw} is read by YAML as an octal number (decimal "
            f"{node.value}), and the agent silently applies mode {mode}, not {digits}; write "
            f"'mode: {digits}' or quote it",
        ))
        return mode
    if bad:
        out.append(node.error("mode", f"permissions mode ({mode}) is invalid: {bad}; "
                                      "use one to four octal digits such as 644 or 0755"))
        return None
    return mode


def _mode_problem(mode: str) -> str:
    if len(mode) > 4:
        return f"length {len(mode)}, modes must be one to four characters long"
    for char in mode:
        if not "0" <= char <= "7":
            return f"invalid character ({char})"
    return ""


# --- acls --------------------------------------------------------------------
def _acls(node: YNode | None, out: list[Problem]) -> tuple[str, ...]:
    if node is None or node.is_null:
        return ()
    if not node.is_seq:
        out.append(node.error("acl", f"acls must be a list of entries such as 'u:bob:rw', "
                                     f"not {node.kind_name()}; the agent crashes on it"))
        return ()
    result = []
    for item in node.children():
        if not item.is_str:
            out.append(item.error("acl", f"an acl entry must be a string such as 'u:bob:rw', "
                                         f"not {item.kind_name()}; quote it"))
            continue
        problem = ace_problem(str(item.value))
        if problem:
            out.append(item.error("acl", problem))
        else:
            result.append(str(item.value))
    return tuple(result)


def ace_problem(ace: str) -> str:
    """Why the agent refuses an acl entry (``[d:][u|g|m|o:]name:perms``), or ''."""
    invalid = (f"invalid acl entry ({ace}); write [d[efault]:][u|g|m|o:]name:perms, "
               "for example 'u:bob:rw' or 'd:g:staff:r-x'")
    parts = ace.split(":")[::-1]
    if not 2 <= len(parts) <= 4:
        return invalid
    default = len(parts) == 4
    if default and parts[3] not in _DEFAULT:
        return invalid
    kind: str | None = None
    if len(parts) >= 3:
        if parts[2] in _DEFAULT:
            if default:
                return invalid
            default = True
        elif parts[2] in _ACE_TYPES:
            kind = _ACE_TYPES[parts[2]]
        else:
            return invalid
    name = parts[1]
    if name in ("m", "mask", "o", "other"):
        if kind is None:
            kind, name = _ACE_TYPES[name], ""
        else:
            name = _ACE_TYPES[name]
    kind = kind or "user"
    if kind in ("mask", "other") and name:
        return invalid
    if not default and kind != "mask" and not name:
        return (f"use mode to set the base acl entry ({ace}); acls may only name "
                "users or groups, e.g. 'u:bob:rw'")
    perms = parts[0]
    if len(perms) == 1 and "0" <= perms <= "7":
        return ""
    for char in perms:
        if char not in "rwx-":
            return (f"acl entry {ace} contains an invalid character ({char}); permissions "
                    "are r, w, x, - or one octal digit")
    return ""


def ace_is_default(ace: str) -> bool:
    """True for a default ACL entry (``d:`` / ``default:``), valid only on directories."""
    parts = ace.split(":")
    return len(parts) >= 3 and parts[0] in _DEFAULT


# --- SELinux context ---------------------------------------------------------
def _context(node: YNode | None, out: list[Problem]) -> SelinuxContext | None:
    if node is None or node.is_null:
        return None
    if not node.is_map:
        out.append(node.error("context", f"context must be a mapping with 'type' (and "
                                         f"optional 'name', 'range'), not {node.kind_name()}"))
        return None
    unknown_keys(node, CONTEXT_KEYS, out, code="unknown-key", what="context",
                 severity="warning", consequence=": the agent ignores it", skip=("user",))
    if node.get("user") is not None:
        out.append(node.get("user").warning(  # type: ignore[union-attr]
            "context", "the agent reads the SELinux user from 'name', not 'user'; rename it"))
    ctype = node.get("type")
    if ctype is None or ctype.is_null or not ctype.is_scalar:
        out.append((ctype if ctype is not None and not ctype.is_null else node).problem(
            "error", "context",
            "the application specification file specifies an invalid context type; "
            "context needs 'type' (for example 'type: httpd_sys_content_t')",
            path=child_path(node.path, "type"),
        ))
        return None
    user = node.get("name")
    rng = node.get("range")
    range_text = None
    if rng is not None and not rng.is_null:
        if not rng.is_str:
            out.append(rng.error("context-range",
                                 f"range must be a string such as 's0:c0.c5', not "
                                 f"{rng.kind_name()}"))
            return None
        problem = range_problem(str(rng.value))
        if problem:
            out.append(rng.error("context-range", problem))
            return None
        range_text = str(rng.value)
    user_text = ruby_to_s(user) if user is not None and user.is_scalar and not user.is_null \
        else None
    return SelinuxContext(user=user_text, type=ruby_to_s(ctype), range=range_text)


def range_problem(text: str) -> str:
    """Why the agent refuses an SELinux range ``s#[-s#][:c#[.c#],...]``, or ''."""
    fix = "write s#[-s#][:c#[.c#],...], for example 's0-s1:c0.c7,c9'"
    try:
        sens, sep, cats = _split2(text, ":")
        low_s, dash, high_s = _split2(sens, "-")
        low = _level(low_s, "s")
        if dash and _level(high_s, "s") < low:
            return f"SELinux range {text}: high sensitivity is lower than the low one; {fix}"
        if sep:
            seen: list[int] = []
            parts = cats.split(",")
            while parts and parts[-1] == "":
                parts.pop()  # Ruby's split drops trailing empty fields
            for part in parts:
                first, dot, last = _split2(part, ".")
                lo = _level(first, "c", 1023)
                hi = _level(last, "c", 1023) if dot else lo
                if hi < lo:
                    return f"SELinux range {text}: category range {part} is reversed; {fix}"
                seen.extend(range(lo, hi + 1))
            if len(set(seen)) != len(seen):
                return f"SELinux range {text}: duplicate categories; {fix}"
    except ValueError as exc:
        return f"SELinux range {text}: {exc}; {fix}"
    return ""


def _split2(text: str, sep: str) -> tuple[str, str, str]:
    head, found, tail = text.partition(sep)
    if not head or (found and not tail):
        raise ValueError(f"invalid range part {text!r}")
    return head, found, tail


def _level(text: str, prefix: str, maximum: int | None = None) -> int:
    what = "sensitivity" if prefix == "s" else "category"
    if len(text) < 2 or not text.startswith(prefix) or not _LEVEL.fullmatch(text[1:]):
        raise ValueError(f"invalid {what} {text!r}")
    level = int(text[1:])
    if maximum is not None and level > maximum:
        raise ValueError(f"invalid {what} {text!r} (0..{maximum})")
    return level
