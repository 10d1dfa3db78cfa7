"""CodeBuild's value rules on top of the one YAML checker (:mod:`hdhooks.yamlsrc.checks`).

Each rule module walks the positioned YAML tree and records problems through a
:class:`Checks` object, so every message carries the node's line, column and
YAML path, and the wording of common mistakes stays the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from hdhooks.yamlsrc.checks import type_error, unknown_keys
from hdhooks.yamlsrc.node import YNode
from hdhooks.yamlsrc.problems import ERROR, WARNING, Problem

YES_NO_STRINGS = {"yes", "no", "true", "false"}
# YAML 1.1 words that become booleans; CodeBuild wants strings in these places.
BOOL_WORDS = {"yes", "no", "on", "off", "y", "n", "true", "false"}


class Checks:
    """Collects problems for one buildspec."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, node: YNode, code: str, message: str, path: str = "") -> None:
        self.problems.append(node.problem(ERROR, code, message, path=path))

    def warning(self, node: YNode, code: str, message: str, path: str = "") -> None:
        self.problems.append(node.problem(WARNING, code, message, path=path))

    # --- shapes ------------------------------------------------------------
    def mapping(self, node: YNode, what: str) -> bool:
        """True when ``node`` is a mapping; otherwise one error saying so."""
        if node.is_map:
            return True
        type_error(node, "a mapping", self.problems, code="bs-type", what=what)
        return False

    def keys(
        self,
        node: YNode,
        allowed: Iterable[str],
        required: Iterable[str] = (),
        what: str = "",
        severity: str = ERROR,
    ) -> None:
        """Unknown keys (with a close match as hint) and missing required keys."""
        where = what or (node.path or "the buildspec")
        unknown_keys(node, allowed, self.problems, code="bs-unknown-key", what=where,
                     severity=severity)
        for key in required:
            if node.get(key) is None:
                self.error(node, "bs-missing-key", f"{where} needs '{key}'")

    def string(self, node: YNode, what: str) -> bool:
        """A string value; a YAML 1.1 boolean word or a list/map is reported."""
        if node.is_str:
            return True
        if node.is_scalar and node.tag == "bool" and node.raw.lower() in BOOL_WORDS:
            self.warning(
                node,
                "bs-yaml-bool",
                f"{what}: unquoted {node.raw} is read as the boolean "
                f"{str(node.value).lower()}; "
                f"quote it ('{node.raw}') if a string is meant",
            )
            return False
        if node.is_scalar and node.tag in ("int", "float") and not node.is_null:
            return True  # CodeBuild turns numbers into their text
        self.error(node, "bs-type", f"{what} must be a string, not {node.kind_name()}")
        return False

    def yes_no(self, node: YNode, what: str) -> None:
        """``yes``/``no`` flags: a boolean or one of the words as a string."""
        if node.is_scalar and node.tag == "bool":
            return
        if node.is_str and node.value.lower() in YES_NO_STRINGS:
            return
        self.error(node, "bs-type", f"{what} must be yes or no, not {_shown(node)}")

    def string_list(self, node: YNode, what: str, *, allow_scalar: bool = False) -> list[YNode]:
        """The string items of a list; each bad item gets its own problem."""
        if allow_scalar and node.is_str:
            return [node]
        if not node.is_seq:
            self.error(node, "bs-type", f"{what} must be a list, not {node.kind_name()}")
            return []
        if not node.children():
            self.error(node, "bs-empty", f"{what} is empty")
        good = []
        for item in node.children():
            if self.string(item, f"{what} item"):
                good.append(item)
        return good


def _shown(node: YNode) -> str:
    if node.is_scalar and not node.is_null:
        return f"'{node.raw}'"
    return node.kind_name()


def as_bool(node: YNode | None) -> bool:
    """A yes/no flag's meaning; absent or unreadable counts as no."""
    if node is None or not node.is_scalar:
        return False
    if node.tag == "bool":
        return bool(node.value)
    return isinstance(node.value, str) and node.value.lower() in ("yes", "true")
