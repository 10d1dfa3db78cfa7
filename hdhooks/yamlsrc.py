"""YAML loading that keeps the line and column of every value.

The validators need to point at the exact place of a problem, including the
mapping that lacks a key. PyYAML's composer gives positioned nodes; this module
turns them into :class:`YNode` trees and reports what YAML itself hides:
tabs, duplicate keys, aliases, extra documents, syntax errors.

Scalars are resolved with YAML 1.1 rules, which is what the CodeDeploy agent
(Ruby's Psych) uses too: ``0644`` is the integer 420, ``yes`` is true.
"""

from __future__ import annotations

import datetime
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
        extra = loader.check_node()
    except yaml.MarkedYAMLError as exc:
        return Document(None, [_syntax_problem(text, exc)])
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        return Document(None, [Problem(ERROR, f"YAML error: {exc}", "yaml-syntax", 1, 1)])
    finally:
        loader.dispose()
    builder = _Builder()
    root = builder.build(node, "")
    problems = builder.problems
    if extra:
        problems.append(
            Problem(
                WARNING,
                "more than one YAML document ('---'); only the first is read",
                "yaml-multi-document",
                *_second_document_mark(text),
            )
        )
    return Document(root, problems)


def _only_comments(text: str) -> bool:
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#") and s not in ("---", "..."):
            return False
    return True


def _second_document_mark(text: str) -> tuple[int, int]:
    seen_content = False
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("---"):
            if seen_content:
                return n, 1
        elif line.strip() and not line.lstrip().startswith("#"):
            seen_content = True
    return 1, 1


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


class _Builder:
    """Turns composed PyYAML nodes into YNodes, noting duplicates and aliases."""

    def __init__(self) -> None:
        import yaml

        self._yaml = yaml
        self._constructor = yaml.constructor.SafeConstructor()
        self._seen: set[int] = set()
        self._inside_alias = 0  # >0 while building a repeated (aliased) node
        self.problems: list[Problem] = []

    def build(self, node: Any, path: str) -> YNode:
        yaml = self._yaml
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        repeated = id(node) in self._seen
        self._seen.add(id(node))
        if repeated and not self._inside_alias:
            # Build the repeated value once more, but report the alias only
            # where it is used, not again for every node inside it.
            self._inside_alias += 1
            try:
                return self.build(node, path)
            finally:
                self._inside_alias -= 1
        if isinstance(node, yaml.MappingNode):
            result = YNode("map", {}, line, column, path, tag="map")
            for key_node, value_node in node.value:
                self._add_pair(result, key_node, value_node)
            return result
        if isinstance(node, yaml.SequenceNode):
            items: list[YNode] = []
            result = YNode("seq", items, line, column, path, tag="seq")
            for i, item in enumerate(node.value):
                if id(item) in self._seen and not self._inside_alias:
                    self._alias(result, child_path(path, i))
                items.append(self.build(item, child_path(path, i)))
            return result
        return self._scalar(node, line, column, path)

    def _add_pair(self, result: YNode, key_node: Any, value_node: Any) -> None:
        key = self._key_text(key_node)
        key_line, key_col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
        path = child_path(result.path, key)
        if key in result.value and not self._inside_alias:
            self.problems.append(
                Problem(
                    WARNING,
                    f"duplicate key '{key}': the later value wins, the earlier one at line "
                    f"{result.keys[key].line} is ignored",
                    "yaml-duplicate-key",
                    key_line,
                    key_col,
                    path,
                )
            )
        if id(value_node) in self._seen and not self._inside_alias:
            self.problems.append(
                Problem(
                    ERROR,
                    "YAML aliases (*name) are not supported by the tools that read this "
                    "file; repeat the value instead",
                    "yaml-alias",
                    key_line,
                    key_col,
                    path,
                )
            )
        result.keys[key] = self._scalar(key_node, key_line, key_col, path)
        result.value[key] = self.build(value_node, path)

    def _alias(self, parent: YNode, path: str) -> None:
        self.problems.append(
            Problem(
                ERROR,
                "YAML aliases (*name) are not supported by the tools that read this file; "
                "repeat the value instead",
                "yaml-alias",
                parent.line,
                parent.column,
                path,
            )
        )

    def _key_text(self, key_node: Any) -> str:
        if isinstance(key_node, self._yaml.ScalarNode):
            return str(key_node.value)
        return str(self._constructor.construct_object(key_node, deep=True))

    def _scalar(self, node: Any, line: int, column: int, path: str) -> YNode:
        tag = node.tag[len(TAG_PREFIX) :] if node.tag.startswith(TAG_PREFIX) else node.tag
        try:
            value = self._constructor.construct_object(node, deep=True)
        except self._yaml.YAMLError as exc:
            self.problems.append(
                Problem(ERROR, f"cannot read value: {exc}", "yaml-value", line, column, path)
            )
            value = node.value
        if isinstance(value, datetime.date):
            tag = "timestamp"
        quoted = bool(getattr(node, "style", None)) and node.style in ("'", '"')
        return YNode("scalar", value, line, column, path, tag=tag, raw=str(node.value),
                     quoted=quoted)


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
