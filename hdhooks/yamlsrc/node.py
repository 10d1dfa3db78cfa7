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

from hdhooks.yamlsrc.problems import ERROR, WARNING, Problem

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
