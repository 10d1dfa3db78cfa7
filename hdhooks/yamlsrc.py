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
_STANDARD_TAGS = ("str", "int", "float", "bool", "null", "binary", "timestamp", "map", "seq",
                  "omap", "pairs", "set", "merge", "value")
# The tags a sequence (False) or a mapping (True) may carry without a warning.
_FITTING_TAGS = {False: tuple(TAG_PREFIX + t for t in ("seq", "omap", "pairs")),
                 True: (TAG_PREFIX + "map",)}
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
    builder = _Builder()
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


class _Builder:
    """Turns composed PyYAML nodes into YNodes, noting duplicates and aliases.

    Tags and merge keys (``<<``) are read the way Ruby's Psych reads them (the
    CodeDeploy agent): a tag it does not know is ignored and the value read as
    if untagged, Ruby object tags and ``!!set`` are refused, and a merge key
    copies the pairs of a mapping (or list of mappings) into its parent.
    """

    def __init__(self) -> None:
        import yaml

        self._yaml = yaml
        self._constructor = yaml.constructor.SafeConstructor()
        self._resolver = yaml.resolver.Resolver()
        self._seen: set[int] = set()
        self._inside_alias = 0  # >0 while building a repeated (aliased) node
        self._merged: set[tuple[int, str]] = set()  # (id(map), key) filled by '<<'
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
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            self._collection_tag(node, line, column, path)
        if isinstance(node, yaml.MappingNode):
            result = YNode("map", {}, line, column, path, tag="map")
            for key_node, value_node in node.value:
                if self._is_merge(key_node, value_node):
                    self._merge(result, key_node, value_node)
                else:
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

    def _add_pair(self, result: YNode, key_node: Any, value_node: Any,
                  merged: bool = False) -> None:
        key = self._key_text(key_node)
        key_line, key_col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
        path = child_path(result.path, key)
        was_merged = (id(result), key) in self._merged
        if merged:
            self._merged.add((id(result), key))
        else:
            self._merged.discard((id(result), key))
        if key in result.value and not self._inside_alias and not was_merged:
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
        if isinstance(key_node, self._yaml.ScalarNode) and key_node.tag != TAG_PREFIX + "merge":
            result.keys[key] = self._scalar(key_node, key_line, key_col, path)
        else:  # a list or mapping as a key, or a '<<' that merges nothing
            result.keys[key] = YNode("scalar", key, key_line, key_col, path, tag="str", raw=key)
        result.value[key] = self.build(value_node, path)

    # --- merge keys ----------------------------------------------------------
    def _is_merge(self, key_node: Any, value_node: Any) -> bool:
        """``<<: {..}`` or ``<<: [{..}, ..]``; anything else is an ordinary key."""
        yaml = self._yaml
        if key_node.tag != TAG_PREFIX + "merge":
            return False
        if isinstance(value_node, yaml.MappingNode):
            return True
        return isinstance(value_node, yaml.SequenceNode) and all(
            isinstance(item, yaml.MappingNode) for item in value_node.value
        )

    def _merge(self, result: YNode, key_node: Any, value_node: Any) -> None:
        """Copy the pairs: they replace earlier keys, later keys replace them."""
        yaml = self._yaml
        sources = [value_node] if isinstance(value_node, yaml.MappingNode) \
            else list(value_node.value)
        if any(id(n) in self._seen for n in [value_node, *sources]) and not self._inside_alias:
            line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            self.problems.append(Problem(
                ERROR, "YAML aliases (*name) are not supported by the tools that read this "
                "file; write the keys out instead of '<<: *name'", "yaml-alias", line, column,
                child_path(result.path, "<<")))
        chosen: dict[str, tuple[Any, Any]] = {}
        for source in sources:  # the first mapping listed wins
            for k, v in self._flat_pairs(source):
                chosen.setdefault(self._key_text(k), (k, v))
        self._seen.add(id(value_node))
        self._inside_alias += 1  # the pairs' own alias checks were done above
        try:
            for k, v in chosen.values():
                self._add_pair(result, k, v, merged=True)
        finally:
            self._inside_alias -= 1

    def _flat_pairs(self, mapping: Any, depth: int = 0) -> list[tuple[Any, Any]]:
        """A mapping's pairs with its own merge keys applied (last pair wins)."""
        pairs: dict[str, tuple[Any, Any]] = {}
        for k, v in mapping.value:
            if depth < 50 and self._is_merge(k, v):
                items = [v] if isinstance(v, self._yaml.MappingNode) else list(v.value)
                merged: dict[str, tuple[Any, Any]] = {}
                for item in items:
                    for k2, v2 in self._flat_pairs(item, depth + 1):
                        merged.setdefault(self._key_text(k2), (k2, v2))
                pairs.update(merged)
            else:
                pairs[self._key_text(k)] = (k, v)
        return list(pairs.values())

    # --- tags ----------------------------------------------------------------
    def _collection_tag(self, node: Any, line: int, column: int, path: str) -> None:
        tag = node.tag
        if _ruby_refuses(tag, isinstance(node, self._yaml.ScalarNode)):
            self.problems.append(Problem(
                ERROR, f"YAML tag '{_short_tag(tag)}' makes a Ruby object, which the "
                "CodeDeploy agent's YAML loader refuses ('Tried to load unspecified class'); "
                "remove the tag", "yaml-tag", line, column, path))
        elif tag not in _FITTING_TAGS[isinstance(node, self._yaml.MappingNode)]:
            self._ignored_tag(tag, "this value", line, column, path)

    def _ignored_tag(self, tag: str, shown: str, line: int, column: int, path: str) -> None:
        short = _short_tag(tag)
        what = f"does not fit {shown}" if short[2:] in _STANDARD_TAGS else "is not a standard one"
        self.problems.append(Problem(
            WARNING, f"YAML tag '{short}' {what}: readers such as the CodeDeploy agent ignore "
            f"it and read {shown} as if it were untagged; remove the tag",
            "yaml-tag", line, column, path))

    def _scalar(self, node: Any, line: int, column: int, path: str) -> YNode:
        yaml = self._yaml
        quoted = bool(getattr(node, "style", None)) and node.style in ("'", '"')
        implicit = TAG_PREFIX + "str" if quoted else self._resolver.resolve(
            yaml.ScalarNode, node.value, (True, False))
        tag_full = node.tag
        if tag_full != implicit:
            tag_full = self._explicit_tag(node, implicit, line, column, path)
        tag = tag_full[len(TAG_PREFIX):] if tag_full.startswith(TAG_PREFIX) else tag_full
        try:
            value = self._constructor.construct_object(
                yaml.ScalarNode(tag_full, node.value, node.start_mark, node.end_mark, node.style),
                deep=True)
        except Exception as exc:  # any constructor failure is bad input
            if tag == "binary":
                self.problems.append(Problem(
                    WARNING, f"'{node.value}' is not base64, so '!!binary' decodes it to "
                    "garbage; remove the tag", "yaml-tag", line, column, path))
                return YNode("scalar", node.value, line, column, path, tag="str",
                             raw=str(node.value), quoted=quoted)
            reason = (str(getattr(exc, "problem", "") or exc).splitlines() or ["unreadable"])[0]
            if tag == "timestamp":
                reason = "not a date or time"
            self.problems.append(Problem(
                ERROR, f"cannot read '{node.value}' as {_short_tag(tag_full)}: {reason}; "
                "remove the tag or fix the value", "yaml-value", line, column, path))
            value, tag = node.value, "str"
        if isinstance(value, bytes):  # !!binary: Psych gives the decoded bytes as a string
            value, tag = value.decode("utf-8", "replace"), "str"
        if isinstance(value, datetime.date):
            tag = "timestamp"
        return YNode("scalar", value, line, column, path, tag=tag, raw=str(node.value),
                     quoted=quoted)

    def _explicit_tag(self, node: Any, implicit: str, line: int, column: int,
                      path: str) -> str:
        """The tag a scalar is read with when it carries an explicit one.

        Psych keeps ``!!str``, ``!!float``, ``!!binary`` and ``!!timestamp``,
        refuses Ruby object tags, and otherwise reads the value as if untagged.
        """
        tag = node.tag
        kept = tuple(TAG_PREFIX + t for t in ("str", "float", "binary", "timestamp"))
        if tag in kept:
            return str(tag)
        implicit = self._resolver.resolve(self._yaml.ScalarNode, node.value, (True, False))
        if _ruby_refuses(tag, scalar=True):
            self._collection_tag(node, line, column, path)
            return TAG_PREFIX + "str"
        if tag.startswith("!ruby/string"):
            return TAG_PREFIX + "str"
        if tag not in (TAG_PREFIX + "int", TAG_PREFIX + "bool", TAG_PREFIX + "null") \
                or (implicit != tag and node.value.strip()):
            self._ignored_tag(tag, f"'{node.value}'", line, column, path)
        return str(implicit)

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
        """A key as text; a list or mapping key is shown in flow style."""
        return _flow_text(key_node, self._yaml)


def _flow_text(node: Any, yaml: Any, depth: int = 0) -> str:
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    if depth > 20:
        return "..."
    if isinstance(node, yaml.SequenceNode):
        return "[" + ", ".join(_flow_text(n, yaml, depth + 1) for n in node.value) + "]"
    pairs = (f"{_flow_text(k, yaml, depth + 1)}: {_flow_text(v, yaml, depth + 1)}"
             for k, v in node.value)
    return "{" + ", ".join(pairs) + "}"


def _ruby_refuses(tag: str, scalar: bool) -> bool:
    """Whether Psych's ``YAML.load`` (Ruby 3) refuses a tag: those making
    objects of classes it does not permit. Other tags are read as untagged."""
    if scalar:
        return tag in ("!ruby/regexp", "!ruby/range", "!ruby/class", "!ruby/module") or tag in (
            f"!ruby/object:{name}" for name in ("BigDecimal", "DateTime", "Complex", "Rational"))
    if tag == TAG_PREFIX + "set":
        return True
    return tag.startswith("!ruby/") and not tag.startswith("!ruby/sym") and tag not in (
        "!ruby/array", "!ruby/hash", "!ruby/hash-with-ivars")


def _short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:int`` -> ``!!int``, as it is written in YAML."""
    return "!!" + tag[len(TAG_PREFIX):] if tag.startswith(TAG_PREFIX) else tag


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
