"""YAML loading that keeps the line and column of every value.

The validators need to point at the exact place of a problem, including the
mapping that lacks a key. PyYAML's composer gives positioned nodes; this module
turns them into :class:`YNode` trees and reports what YAML itself hides:
tabs, duplicate keys, aliases, extra documents, syntax errors.

Scalars are resolved with YAML 1.1 rules, which is what the CodeDeploy agent
(Ruby's Psych) uses too: ``0644`` is the integer 420, ``yes`` is true.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hdhooks.problems import ERROR, WARNING, Problem

TAG_PREFIX = "tag:yaml.org,2002:"
_OCTAL_RE = re.compile(r"^[-+]?0[0-7_]+$")


@dataclass(eq=False)
class YNode:
    """A YAML value with its position (1-based) and its path from the root."""

    kind: str  # "map", "seq" or "scalar"
    value: Any  # dict[str, YNode] | list[YNode] | scalar
    line: int
    column: int
    path: str
    tag: str = ""  # the resolved tag without its prefix: "str", "int", "bool"...
    raw: str = ""  # the scalar as written
    quoted: bool = False
    keys: dict[str, YNode] = field(default_factory=dict)  # map: key nodes

    # --- kinds -------------------------------------------------------------
    @property
    def is_map(self) -> bool:
        return self.kind == "map"

    @property
    def is_seq(self) -> bool:
        return self.kind == "seq"

    @property
    def is_scalar(self) -> bool:
        return self.kind == "scalar"

    @property
    def is_null(self) -> bool:
        return self.kind == "scalar" and self.value is None

    @property
    def is_str(self) -> bool:
        return self.kind == "scalar" and isinstance(self.value, str)

    @property
    def is_plain_octal(self) -> bool:
        """An unquoted integer written with a leading zero (YAML 1.1 octal)."""
        return self.tag == "int" and not self.quoted and bool(_OCTAL_RE.match(self.raw))

    def kind_name(self) -> str:
        """How a user would name this value's type in a message."""
        if self.kind == "map":
            return "a mapping"
        if self.kind == "seq":
            return "a list"
        return {
            "null": "null",
            "bool": "a boolean",
            "int": "an integer",
            "float": "a number",
            "timestamp": "a date",
            "str": "a string",
        }.get(self.tag, f"a {self.tag}")

    # --- access ------------------------------------------------------------
    def get(self, key: str) -> YNode | None:
        return self.value.get(key) if self.kind == "map" else None

    def key_node(self, key: str) -> YNode | None:
        return self.keys.get(key)

    def items(self) -> Iterator[tuple[str, YNode]]:
        if self.kind == "map":
            yield from self.value.items()

    def children(self) -> list[YNode]:
        if self.kind == "seq":
            return list(self.value)
        return []

    def plain(self) -> Any:
        """The value as plain Python data, positions dropped."""
        if self.kind == "map":
            return {k: v.plain() for k, v in self.value.items()}
        if self.kind == "seq":
            return [v.plain() for v in self.value]
        return self.value

    def text(self) -> str:
        """A scalar as a string, as the user wrote it when it was not quoted."""
        if self.kind != "scalar":
            return ""
        if isinstance(self.value, str):
            return self.value
        return self.raw

    def problem(self, severity: str, code: str, message: str, *, path: str = "") -> Problem:
        return Problem(severity, message, code, self.line, self.column, path or self.path)

    def error(self, code: str, message: str) -> Problem:
        return self.problem(ERROR, code, message)

    def warning(self, code: str, message: str) -> Problem:
        return self.problem(WARNING, code, message)


@dataclass
class Document:
    """The first YAML document of a file, and what loading it revealed."""

    root: YNode | None
    problems: list[Problem]
    empty: bool = False

    @property
    def ok(self) -> bool:
        return self.root is not None and not any(p.is_error for p in self.problems)


def child_path(parent: str, key: str | int) -> str:
    """``hooks`` + ``BeforeInstall`` -> ``hooks.BeforeInstall``; index -> ``[0]``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", key):
        key = '"' + key.replace('"', '\\"') + '"'
    return f"{parent}.{key}" if parent else key


def load(text: str) -> Document:
    """Parse ``text``; never raises for bad YAML, problems are returned instead."""
    import yaml

    if not text.strip() or _only_comments(text):
        return Document(None, [], empty=True)
    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_cls(text)
    try:
        if not loader.check_node():
            return Document(None, [], empty=True)
        node = loader.get_node()
        extra = _later_documents(loader)
    except yaml.MarkedYAMLError as exc:
        return Document(None, [_syntax_problem(text, exc)])
    except yaml.reader.ReaderError as exc:
        return Document(None, [_reader_problem(text, exc)])
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        message = str(exc).splitlines()[0] if str(exc) else "unreadable YAML"
        return Document(None, [Problem(ERROR, f"YAML error: {message}", "yaml-syntax", 1, 1)])
    finally:
        loader.dispose()
    from hdhooks.yamlbuild import Builder, alias_bomb

    bomb = alias_bomb(node, text)
    if bomb is not None:
        return Document(None, [bomb])
    builder = Builder()
    root = builder.build(node, "")
    problems = builder.problems
    if extra:
        problems.append(
            Problem(
                WARNING,
                "more than one YAML document ('---' or '...'); only the first is read, "
                "everything from here on is ignored",
                "yaml-multi-document",
                *_document_marker(text, extra),
            )
        )
    return Document(root, problems)


def _later_documents(loader: Any) -> tuple[int, int] | None:
    """Where text follows the first document, or None. Readers that stop after
    the first document (the CodeDeploy agent's) never see a syntax error there."""
    import yaml

    try:
        if not loader.check_node():
            return None
        mark = loader.peek_event().start_mark
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
    except yaml.YAMLError:
        mark = None
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _document_marker(text: str, where: tuple[int, int]) -> tuple[int, int]:
    """The '---' or '...' line that ends the first document, when it is just
    before ``where`` (only blank or comment lines between), else ``where``."""
    lines = text.splitlines()
    for n in range(min(where[0], len(lines)), 0, -1):
        line = lines[n - 1]
        if line.startswith(("---", "...")):
            return n, 1
        if n != where[0] and line.strip() and not line.lstrip().startswith("#"):
            break
    return where


def _reader_problem(text: str, exc: Any) -> Problem:
    """A character YAML does not allow (NUL, other control characters)."""
    position = max(0, min(int(getattr(exc, "position", 0) or 0), len(text)))
    before = text[:position]
    line = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    char = getattr(exc, "character", None)
    if isinstance(char, str) and len(char) == 1:
        char = ord(char)
    code = f"#x{char:04x}" if isinstance(char, int) else "here"
    return Problem(ERROR, f"character {code} is not allowed in YAML (control characters "
                          "are not); remove it, or check that this is a text file",
                   "yaml-syntax", line, column)


def _only_comments(text: str) -> bool:
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#") and s not in ("---", "..."):
            return False
    return True


def _syntax_problem(text: str, exc: Any) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    column = mark.column + 1 if mark else 1
    problem = exc.problem or "syntax error"
    lines = text.splitlines()
    tab = _first_leading_tab(lines)
    # A tab at or before the failing line is almost always the cause.
    if tab and ("\t" in problem or "\\t" in problem or tab[0] <= line):
        return Problem(
            ERROR,
            "tab character in indentation; YAML allows only spaces there",
            "yaml-tab",
            tab[0],
            tab[1],
        )
    message = f"YAML syntax error: {problem}"
    if exc.context:
        message += f" ({exc.context})"
    return Problem(ERROR, message, "yaml-syntax", line, column)


def _first_leading_tab(lines: list[str]) -> tuple[int, int] | None:
    for n, line in enumerate(lines, 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return n, indent.index("\t") + 1
    return None


def read_file(path: str) -> str:
    """Read a YAML file as text, refusing binary or non-UTF-8 content clearly."""
    from hdhooks.errors import InputError

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", hint="check the path") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a YAML file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8"
        ) from None
