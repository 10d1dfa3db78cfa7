"""Read and validate appspec.yml the way the CodeDeploy agent (Linux) does.

What the agent rejects, or crashes on, is an error; what it accepts is valid;
what it accepts but handles surprisingly (an unquoted ``mode: 0644``, keys it
ignores, hooks that never run, long timeouts) is a warning.
``docs/appspec.md`` lists every rule.

Unknown lifecycle event names: the agent checks them at Install, not when it
reads the file, and ``local deploy --events`` may run custom events named in
the appspec. So :func:`parse` accepts custom names by default (they stay in
``AppSpec.hooks``; :func:`unknown_events` lists them), while
:func:`validate_path` (``hdhooks appspec validate``) passes
``allow_custom_events=False`` and reports them as errors, as a deployment
would fail on them.

Bundle checks (:func:`check_bundle`) run when the path given is a bundle
directory: hook scripts and ``files`` sources must exist in it, and
permissions on objects that the ``files`` section installs as plain files
must follow the agent's rules for files.
"""

from __future__ import annotations

import os

from hdhooks.appspec.bundle import check_bundle
from hdhooks.appspec.hooks import check_hooks, unknown_event_problems
from hdhooks.appspec.model import (
    BUILTIN_EVENTS,
    FILE_EXISTS_BEHAVIORS,
    SCRIPTABLE_EVENTS,
    AppSpec,
    FileMapping,
)
from hdhooks.appspec.permissions import check_permissions
from hdhooks.appspec.psych import ruby_to_s, yaml_hygiene
from hdhooks.errors import InputError
from hdhooks.yamlsrc.checks import type_error, unknown_keys
from hdhooks.yamlsrc.loader import CODEDEPLOY_AGENT, load
from hdhooks.yamlsrc.node import YNode, child_path
from hdhooks.yamlsrc.problems import ERROR, WARNING, Problem, Report

APPSPEC_NAMES = ("appspec.yml", "appspec.yaml")
MAX_BYTES = 16 << 20  # far above any real appspec (a few KB)
TOP_KEYS = ("version", "os", "files", "permissions", "hooks", "file_exists_behavior")
FILE_KEYS = ("source", "destination")
EMPTY_MESSAGE = (
    "the application specification file is empty; an appspec needs at least "
    "'version: 0.0' and 'os: linux'"
)

__all__ = ["check_bundle", "find_appspec", "parse", "unknown_events", "validate_path"]


def find_appspec(directory: str, filename: str | None = None) -> str:
    """The appspec file of a bundle directory: ``filename``, else .yml, else .yaml."""
    if not os.path.isdir(directory):
        raise InputError(f"{directory}: no such directory", hint="give a bundle directory")
    names = (filename,) if filename else APPSPEC_NAMES
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return os.path.normpath(path)
    raise InputError(
        f"{directory}: no {' or '.join(names)} found",
        hint="run in the bundle's root directory or give the appspec file",
    )


def parse(text: str, file: str, *, allow_custom_events: bool = True
          ) -> tuple[AppSpec | None, Report]:
    """Validate ``text``; the model when there are no errors, and every problem.

    With ``allow_custom_events=False`` event names the agent does not know are
    errors too (see the module docstring).
    """
    spec, report, _ = _analyse(text, file, allow_custom_events)
    return spec, report


def validate_path(path: str, *, strict: bool = False, filename: str | None = None
                  ) -> tuple[AppSpec | None, Report]:
    """Validate an appspec file, or a bundle directory (adds the bundle checks).

    ``strict`` only changes ``Report.valid(strict)`` for the caller; the
    problems found are the same. Raises InputError when nothing can be read.
    """
    bundle = path if os.path.isdir(path) else None
    file = find_appspec(path, filename) if bundle else path
    text, bom, unreadable = _read_text(file)
    if unreadable is not None:
        return None, Report(file, [unreadable])
    spec, report, root = _analyse(text, file, allow_custom_events=False)
    if bom:
        report.add(_bom_problem(root, text))
        spec = None if report.errors else spec
    if bundle is not None:
        report.notes.append(f"using {file}")
        if root is not None and root.is_map:
            check_bundle(root, bundle, report)
            if any(p.is_error for p in report.problems):
                spec = None
    return spec, report


def _read_text(file: str) -> tuple[str, bool, Problem | None]:
    """The file's text, whether it starts with a BOM, and why it is not text.

    Bytes that are not UTF-8 make the agent's YAML reader fail, so they are a
    problem in the file (exit 1), not a usage error.
    """
    from hdhooks.fsread import TooLarge, read_regular

    try:  # regular files only: a FIFO or a device such as /dev/zero is refused at once
        data = read_regular(file, MAX_BYTES)
    except TooLarge:
        raise InputError(f"{file}: larger than {MAX_BYTES >> 20} MB, not an appspec",
                         hint="give the appspec file") from None
    bom = data.startswith(b"\xef\xbb\xbf")
    data = data[3:] if bom else data
    try:
        return data.decode("utf-8"), bom, None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start:exc.start].decode("utf-8", "replace")) + 1
        return "", bom, Problem(
            ERROR, f"not UTF-8 text: byte 0x{data[exc.start]:02x} is not valid UTF-8 and the "
            "agent's YAML reader refuses the file; save it as UTF-8 (is it a text file?)",
            "encoding", line, column)


def _bom_problem(root: YNode | None, text: str) -> Problem:
    """A UTF-8 BOM before a block mapping: the agent's YAML reader (libyaml
    through Ruby's Psych) then ends the document after the first key."""
    keys = list(root.keys.values()) if root is not None and root.is_map else []
    block = root is not None and (root.line, root.column) == (1, 1) and text[:1] not in "{["
    fix = "save the file as UTF-8 without a BOM"
    if block and len(keys) > 1:
        return keys[1].problem(
            ERROR, "bom", f"the file starts with a UTF-8 byte order mark (BOM): the agent's "
            f"YAML reader then reads only the first key ('{keys[0].value}') and ignores this "
            f"line and everything after it; {fix}", path="")
    return Problem(WARNING, f"the file starts with a UTF-8 byte order mark (BOM): the agent "
                            "reads this file, but with a BOM right before a top-level key it "
                            f"reads only that key; {fix}", "bom", 1, 1)


def unknown_events(spec: AppSpec) -> list[str]:
    """Event names in ``hooks`` that the agent calls unknown at Install."""
    known = set(SCRIPTABLE_EVENTS) | set(BUILTIN_EVENTS)
    names = list(spec.event_lines) or list(spec.hooks)
    return [name for name in names if name not in known]


# --- the document ------------------------------------------------------------
def _analyse(text: str, file: str, allow_custom_events: bool
             ) -> tuple[AppSpec | None, Report, YNode | None]:
    doc = load(text, CODEDEPLOY_AGENT)
    report = Report(file)
    if doc.empty:
        report.add(Problem(ERROR, EMPTY_MESSAGE, "empty"))
        return None, report, None
    out = list(doc.problems)
    root = doc.root
    if root is None:
        report.extend(out)
        return None, report, None
    yaml_hygiene(root, out)
    if not root.is_map:
        out.append(root.error(
            "root-type",
            f"the file holds {root.kind_name()}, not a mapping; the agent reads it as an "
            "invalid version. An appspec starts with 'version: 0.0' and 'os: linux'",
        ))
        report.extend(out)
        return None, report, root
    spec = _build(root, file, out)
    if not allow_custom_events:
        unknown_event_problems(root, file, out)
    report.extend(out)
    return (None if report.errors else spec), report, root


def _build(root: YNode, file: str, out: list[Problem]) -> AppSpec:
    unknown_keys(root, TOP_KEYS, out, code="unknown-key", what="the appspec",
                 severity=WARNING, consequence=": the agent ignores it")
    version = _version(root, out)
    os_name = _os(root, out)
    behavior = _file_exists_behavior(root.get("file_exists_behavior"), out)
    files = _files(root.get("files"), out)
    permissions = check_permissions(root.get("permissions"), out)
    hooks, event_lines = check_hooks(root.get("hooks"), out)
    return AppSpec(path=file, version=version, os=os_name, files=files,
                   permissions=permissions, hooks=hooks, file_exists_behavior=behavior,
                   event_lines=event_lines)


def _missing(parent: YNode, key: str, code: str, message: str) -> Problem:
    """A missing key is reported at the mapping that should hold it."""
    return parent.problem(ERROR, code, message, path=child_path(parent.path, key))


def _version(root: YNode, out: list[Problem]) -> float:
    node = root.get("version")
    fix = "write 'version: 0.0' (a number, unquoted)"
    if node is None:
        out.append(_missing(root, "version", "version",
                            f"version is missing: the agent reads an invalid version value (); "
                            f"{fix}"))
        return 0.0
    ok = node.tag in ("int", "float") and node.value == 0
    if not ok:
        shown = node.raw if node.is_scalar else node.kind_name()
        why = ""
        if node.is_str:
            why = f" ({'quoted: ' if node.quoted else ''}a string, not a number)"
        out.append(node.error("version", f"invalid version value ({shown}){why}: the agent "
                                         f"accepts only 0.0; {fix}"))
    return 0.0


def _os(root: YNode, out: list[Problem]) -> str:
    node = root.get("os")
    fix = "write 'os: linux'"
    if node is None:
        out.append(_missing(root, "os", "os",
                            f"os is missing: the agent reports an unsupported operating system "
                            f"(); {fix}"))
    elif not (node.is_str and node.value == "linux"):
        shown = ruby_to_s(node) if node.is_scalar else node.kind_name()
        hint = fix
        if shown == "windows":
            hint = "hdhooks validates Linux deployments; on Linux instances " + fix
        elif shown.lower() == "linux":
            hint = f"{fix} (lower case)"
        out.append(node.error("os", f"unsupported operating system ({shown}); {hint}"))
    return "linux"


def _file_exists_behavior(node: YNode | None, out: list[Problem]) -> str | None:
    if node is None or node.is_null or node.value is False:
        return None
    if node.is_str and node.value in FILE_EXISTS_BEHAVIORS:
        return str(node.value)
    shown = ruby_to_s(node) if node.is_scalar else node.kind_name()
    hint = f" (write '{shown.upper()}': the value is case-sensitive)" \
        if shown.upper() in FILE_EXISTS_BEHAVIORS else ""
    out.append(node.error(
        "file-exists-behavior",
        f"invalid file_exists_behavior value ({shown}); use one of "
        f"{', '.join(FILE_EXISTS_BEHAVIORS)}{hint}",
    ))
    return None


# --- files -------------------------------------------------------------------
def _files(node: YNode | None, out: list[Problem]) -> tuple[FileMapping, ...]:
    if node is None or node.is_null or node.value is False:
        return ()
    if not node.is_seq:
        type_error(node, "a list of '- source: ... destination: ...' entries", out,
                   code="files", what="files", why="; the agent crashes on it")
        return ()
    result = []
    for entry in node.children():
        mapping = _file_entry(entry, out)
        if mapping is not None:
            result.append(mapping)
    return tuple(result)


def _file_entry(entry: YNode, out: list[Problem]) -> FileMapping | None:
    if not entry.is_map:
        type_error(entry, "a mapping with source and destination", out, code="files",
                   what="a files entry")
        return None
    unknown_keys(entry, FILE_KEYS, out, code="unknown-key", what="a files entry",
                 severity=WARNING, consequence=": the agent ignores it")
    source, dest = entry.get("source"), entry.get("destination")
    if source is None or source.is_null:
        out.append(_missing(entry, "source", "files-source",
                            "the files entry specifies a destination but no source; add "
                            "'source: <path in the bundle>' ('/' for the whole bundle)"))
        return None
    if dest is None or dest.is_null:
        out.append(_missing(entry, "destination", "files-destination",
                            f"the files entry specifies only a source ({ruby_to_s(source)}); "
                            "add 'destination: /absolute/path' to it"))
        return None
    ok = True
    for key, value in (("source", source), ("destination", dest)):
        if not value.is_str:
            type_error(value, "a path (a string)", out, code=f"files-{key}", what=key,
                       why="; quote it")
            ok = False
    if not ok:
        return None
    if not str(dest.value).startswith("/"):
        out.append(dest.warning("files-destination",
                                f"destination '{dest.value}' is relative: the agent resolves "
                                "it against its working directory (/); use an absolute path"))
    return FileMapping(source=str(source.value), destination=str(dest.value), line=entry.line)
