"""Turning PyYAML's composed nodes into :class:`~hdhooks.yamlsrc.YNode` trees.

Kept apart from :mod:`hdhooks.yamlsrc` (which parses and reports syntax) because
this is where the YAML semantics the CodeDeploy agent's Ruby loader applies are
reproduced: duplicate keys, aliases and merge keys, tags it ignores or refuses,
keys that are not strings.
"""

from __future__ import annotations

import datetime
from typing import Any

from hdhooks.yamlsrc.node import TAG_PREFIX, YNode, child_path
from hdhooks.yamlsrc.problems import ERROR, WARNING, Problem

_STANDARD_TAGS = ("str", "int", "float", "bool", "null", "binary", "timestamp", "map", "seq",
                  "omap", "pairs", "set", "merge", "value")
# The tags a sequence (False) or a mapping (True) may carry without a warning.
_FITTING_TAGS = {False: tuple(TAG_PREFIX + t for t in ("seq", "omap", "pairs")),
                 True: (TAG_PREFIX + "map",)}


#: More values than this after alias expansion is an "alias bomb".
MAX_EXPANDED_NODES = 100_000
#: Deeper than this after alias expansion would exhaust the stack of the readers.
MAX_EXPANDED_DEPTH = 100


def alias_bomb(root: Any, text: str) -> Problem | None:
    """An error when aliases would expand the composed ``root`` beyond reason.

    Aliases of aliases grow exponentially ("billion laughs"): a 1 kB file can
    stand for billions of values and would hang any reader that expands them.
    The composed graph shares aliased nodes, so its expanded size is counted
    once per node, before anything expands it.
    """
    if "*" not in text:
        return None
    size, depth = _expanded_size(root)
    if size <= MAX_EXPANDED_NODES and depth <= MAX_EXPANDED_DEPTH:
        return None
    offset = max(text.find("*"), 0)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    if size <= MAX_EXPANDED_NODES:
        return Problem(ERROR, f"YAML aliases nest this file's values more than "
                              f"{MAX_EXPANDED_DEPTH} levels deep; write the values out "
                              "instead of *aliases", "yaml-depth", line, column)
    return Problem(ERROR, f"YAML aliases expand this file to more than {MAX_EXPANDED_NODES} "
                          "values (an alias bomb); write the values out instead of *aliases",
                   "yaml-alias-bomb", line, column)


def _expanded_size(root: object) -> tuple[int, int]:
    """Nodes and depth after alias expansion, each shared node counted once (no recursion).

    The graph is acyclic: the loader refuses cyclic aliases before composing.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in sizes:
            continue
        value = getattr(node, "value", None)
        children = [c for pair in value for c in (pair if isinstance(pair, tuple) else (pair,))] \
            if isinstance(value, list) else []
        if ready:
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), 10**12)
            depths[id(node)] = 1 + max((depths[id(c)] for c in children), default=0)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)], depths[id(root)]


class Builder:
    """Turns composed PyYAML nodes into YNodes, noting duplicates and aliases.

    Tags and merge keys (``<<``) are read the way Ruby's Psych reads them (the
    CodeDeploy agent): a tag it does not know is ignored and the value read as
    if untagged, Ruby object tags and ``!!set`` are refused, and a merge key
    copies the pairs of a mapping (or list of mappings) into its parent.
    """

    def __init__(self, reader: str = "the CodeDeploy agent") -> None:
        import yaml

        self._reader = reader  # who reads the file, named in messages
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
            self._alias_at(key_line, key_col, path)
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
                ERROR, f"YAML aliases (*name) are not supported by {self._reader} when it reads "
                "this file; write the keys out instead of '<<: *name'", "yaml-alias", line, column,
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
                ERROR, f"YAML tag '{_short_tag(tag)}' makes a Ruby object, which "
                f"{self._refuses()}; remove the tag", "yaml-tag", line, column, path))
        elif tag not in _FITTING_TAGS[isinstance(node, self._yaml.MappingNode)]:
            self._ignored_tag(tag, "this value", line, column, path)

    def _ignored_tag(self, tag: str, shown: str, line: int, column: int, path: str) -> None:
        short = _short_tag(tag)
        what = f"does not fit {shown}" if short[2:] in _STANDARD_TAGS else "is not a standard one"
        self.problems.append(Problem(
            WARNING, f"YAML tag '{short}' {what}: {self._reader} ignores it and will "
            f"read {shown} as if it were untagged; remove the tag",
            "yaml-tag", line, column, path))

    def _refuses(self) -> str:
        if self._reader == "the CodeDeploy agent":
            return ("the CodeDeploy agent's YAML loader refuses ('Tried to load unspecified "
                    "class')")
        return f"{self._reader} does not read"

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
        self._alias_at(parent.line, parent.column, path)

    def _alias_at(self, line: int, column: int, path: str) -> None:
        self.problems.append(
            Problem(
                ERROR,
                f"YAML aliases (*name) are not supported by {self._reader} when it reads "
                "this file; repeat the value instead",
                "yaml-alias",
                line,
                column,
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
