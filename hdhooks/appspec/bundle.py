"""Appspec checks that need the bundle: scripts and sources exist, and are usable.

The agent finds these problems only during a deployment (DownloadBundle has
already run, Install may have copied files); here they are found before the
bundle is uploaded. A hook location is relative to the bundle root, and a
leading ``/`` still resolves inside the bundle, as the agent does.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from hdhooks.appspec.model import AppSpec, FileMapping, Permission
from hdhooks.appspec.permissions import ace_is_default, check_permissions, ruby_to_s
from hdhooks.yamlsrc.node import YNode, child_path
from hdhooks.yamlsrc.problems import ERROR, WARNING, Problem, Report

_READ_LIMIT = 1 << 20  # scripts are small; never read a stray binary whole


@dataclass(frozen=True)
class _Ref:
    """A path named in the appspec, and where it was named."""

    text: str
    line: int
    column: int
    path: str

    def problem(self, severity: str, code: str, message: str) -> Problem:
        return Problem(severity, message, code, self.line, self.column, self.path)


def check_bundle(spec_root: YNode | AppSpec, bundle_dir: str, report: Report) -> None:
    """Add the bundle problems of an appspec to ``report``.

    ``spec_root`` is the appspec's YAML root (a mapping, used by ``appspec
    validate`` so that even an appspec with other errors gets its paths
    checked) or a parsed :class:`AppSpec` (problems then point at the entry's
    line). ``bundle_dir`` is the directory that holds the appspec.
    """
    if isinstance(spec_root, AppSpec):
        scripts = _model_scripts(spec_root)
        files, permissions = list(spec_root.files), list(spec_root.permissions)
        sources = [_Ref(f.source, f.line, 1, "files") for f in files]
    else:
        scripts = _node_scripts(spec_root)
        sources, files = _node_files(spec_root)
        permissions = list(check_permissions(spec_root.get("permissions"), []))
    for ref in scripts:
        report.extend(_script_problems(bundle_dir, ref))
    for ref in sources:
        report.extend(_source_problems(bundle_dir, ref))
    entries = spec_root.get("permissions") if isinstance(spec_root, YNode) else None
    lines = {e.line: e.path for e in entries.children()} if entries is not None else {}
    for i, perm in enumerate(permissions):
        if _installs_file(bundle_dir, files, perm.object):
            path = lines.get(perm.line, f"permissions[{i}]")
            report.extend(_file_permission_problems(perm, path))


def _model_scripts(spec: AppSpec) -> list[_Ref]:
    return [
        _Ref(s.location, s.line, 1, f"hooks.{event}[{i}].location")
        for event, scripts in spec.hooks.items()
        for i, s in enumerate(scripts)
    ]


def _node_scripts(root: YNode) -> list[_Ref]:
    refs = []
    hooks = root.get("hooks")
    for _, scripts in hooks.items() if hooks is not None else ():
        for entry in scripts.children():
            node = entry.get("location")
            if node is not None and node.is_scalar and not node.is_null:
                text = ruby_to_s(node).strip()
                if text and not any(c.isspace() for c in text):
                    refs.append(_Ref(text, node.line, node.column, node.path))
    return refs


def _node_files(root: YNode) -> tuple[list[_Ref], list[FileMapping]]:
    refs, files = [], []
    node = root.get("files")
    for entry in node.children() if node is not None else []:
        source, dest = entry.get("source"), entry.get("destination")
        if source is not None and source.is_str:
            refs.append(_Ref(str(source.value), source.line, source.column, source.path))
            if dest is not None and dest.is_str:
                files.append(FileMapping(str(source.value), str(dest.value), entry.line))
    return refs, files


def _inside(bundle: str, rel: str) -> str | None:
    """The absolute path of ``rel`` in the bundle, or None when it leaves it."""
    root = os.path.abspath(bundle)
    full = os.path.normpath(os.path.join(root, rel.lstrip("/")))
    if full != root and not full.startswith(root.rstrip("/") + "/"):
        return None
    return full


def source_outside_message(text: str) -> str:
    """The one wording, for ``appspec validate`` and for Install."""
    return (f"source '{text}' points outside the bundle; sources are relative to the "
            "bundle root")


def source_in_bundle(bundle: str, text: str) -> str | None:
    """The path a ``files`` source names in the bundle, or None when it leaves it,
    by ``..`` or through a symbolic link in its directories. The source itself may
    be a link: Install copies it as a link. Used by ``appspec validate`` and Install."""
    full = _inside(bundle, text)
    if full is None:
        return None
    real_root = os.path.realpath(bundle)
    parent = os.path.realpath(os.path.dirname(full)) if full != os.path.abspath(bundle) \
        else real_root
    if parent != real_root and not parent.startswith(real_root.rstrip("/") + "/"):
        return None
    return full


def _script_problems(bundle: str, ref: _Ref) -> list[Problem]:
    full = _inside(bundle, ref.text)
    if full is None:
        return [ref.problem(ERROR, "bundle-outside",
                            f"location '{ref.text}' points outside the bundle; scripts must "
                            "be inside it (paths are relative to the bundle root)")]
    if not os.path.lexists(full):
        return [ref.problem(ERROR, "bundle-script-missing",
                            f"Script does not exist at specified location: {full}; add it to "
                            "the bundle or fix the path (relative to the bundle root)")]
    if not os.path.exists(full):
        return [ref.problem(ERROR, "bundle-script-missing",
                            f"location '{ref.text}' is a broken symbolic link (to "
                            f"{os.readlink(full)}); point it at a script in the bundle")]
    if not os.path.isfile(full):
        what = "a directory" if os.path.isdir(full) else "not a regular file"
        return [ref.problem(ERROR, "bundle-script-type",
                            f"location '{ref.text}' is {what}; point it at a script file")]
    try:
        with open(full, "rb") as fh:
            head = fh.read(_READ_LIMIT)
    except OSError as exc:
        return [ref.problem(ERROR, "bundle-script-type",
                            f"cannot read {ref.text}: {exc.strerror}; make it readable")]
    problems = []
    if b"\0" not in head[:8192] and b"\r\n" in head:
        problems.append(ref.problem(
            ERROR, "bundle-script-crlf",
            f"{ref.text} has Windows (CRLF) line endings: the interpreter line fails "
            "('bad interpreter: ^M'); convert it with dos2unix or set '*.sh text eol=lf' "
            "in .gitattributes",
        ))
    if not head.startswith(b"#!"):
        problems.append(ref.problem(
            WARNING, "bundle-script-shebang",
            f"{ref.text} has no '#!' line: the agent runs it with /bin/sh; start it with "
            "'#!/bin/bash' (or the interpreter it needs)",
        ))
    if not os.stat(full).st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
        problems.append(ref.problem(
            WARNING, "bundle-script-exec",
            f"{ref.text} is not executable: the agent warns and makes its copy executable; "
            f"run 'chmod +x {ref.text}' (git: 'git update-index --chmod=+x')",
        ))
    return problems


def _source_problems(bundle: str, ref: _Ref) -> list[Problem]:
    full = source_in_bundle(bundle, ref.text)
    if full is None:
        return [ref.problem(ERROR, "bundle-outside", source_outside_message(ref.text))]
    if not os.path.lexists(full):
        return [ref.problem(ERROR, "bundle-source-missing",
                            f"source '{ref.text}' does not exist in the bundle ({full}); add it "
                            "or fix the path (relative to the bundle root, '/' for all of it)")]
    return []


def _installs_file(bundle: str, files: list[FileMapping], obj: str) -> bool:
    """Whether ``files`` installs ``obj`` as a plain file (else unknown: no check)."""
    target = os.path.normpath(obj)
    for mapping in files:
        source = _inside(bundle, mapping.source)
        if source is None:
            continue
        dest = os.path.normpath(mapping.destination)
        if os.path.isfile(source):
            if os.path.join(dest, os.path.basename(source)) == target:
                return True
        elif os.path.isdir(source):
            prefix = dest.rstrip("/") + "/"
            if target.startswith(prefix) and os.path.isfile(
                os.path.join(source, target[len(prefix):])
            ):
                return True
    return False


def _file_permission_problems(perm: Permission, path: str) -> list[Problem]:
    problems = []
    if "file" in perm.types and perm.pattern != "**":
        problems.append(Problem(
            ERROR,
            f"object {perm.object} is a file in this bundle, and the agent refuses a pattern "
            f"({perm.pattern}) on a file; remove 'pattern' or set the directory as object",
            "permission-file-pattern", perm.line, 1, path))
    if "file" in perm.types and perm.excepts:
        problems.append(Problem(
            ERROR,
            f"object {perm.object} is a file in this bundle, and the agent refuses 'except' "
            f"({list(perm.excepts)}) on a file; remove 'except'",
            "permission-file-except", perm.line, 1, path))
    defaults = [a for a in perm.acls if ace_is_default(a)]
    if defaults:
        problems.append(Problem(
            ERROR,
            f"object {perm.object} is a file in this bundle, and default acls ({defaults[0]}) "
            "apply to directories only; remove the 'd:' entry",
            "acl-default-file", perm.line, 1, child_path(path, "acls")))
    return problems
