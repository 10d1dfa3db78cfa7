"""The one checker of positioned YAML, used by every reader (appspec, buildspec,
component config, build settings).

The shared helpers (:func:`unknown_keys` with its "did you mean" suggestion,
:func:`type_error`, :func:`value_error`) keep one wording everywhere; each
reader passes its own problem code and says what the tool does with a key.

A section is a ``dict`` of key -> :class:`Field`; a field has a *checker*, a
function ``(node, problems) -> value`` that appends :class:`Problem`\\ s with
the node's line, column and YAML path and returns the plain value, or
:data:`INVALID`. Unknown keys are errors with a "did you mean" suggestion.
Checkers are built by the small factories below and combined freely.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hdhooks.yamlsrc.node import YNode, child_path
from hdhooks.yamlsrc.problems import ERROR, Problem

INVALID: Any = object()  # a checker's answer for a value it reported as wrong
EMPTY_SECTION: Any = object()  # default of a section: its own defaults, as if written empty

Checker = Callable[[YNode, list[Problem]], Any]
PostCheck = Callable[[YNode, dict[str, Any], list[Problem]], None]


@dataclass(frozen=True)
class Field:
    """One key of a section: how to check it, whether it is required, its default."""

    check: Checker
    required: bool = False
    default: Any = None


Section = dict[str, Field]


def closest(word: str, choices: Iterable[str]) -> str:
    """The choice ``word`` is most likely a typo of (case, ``-``/``_``, spelling), or ''."""
    options = list(choices)
    for fold in (str.lower, lambda w: w.lower().replace("-", "_")):
        folded = {fold(c): c for c in options}
        if fold(word) in folded:
            return folded[fold(word)]
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else ""


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word``, else ``""``."""
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close else ""


def unknown_keys(node: YNode, allowed: Iterable[str], problems: list[Problem], *,
                 code: str, what: str = "", severity: str = ERROR, consequence: str = "",
                 skip: Iterable[str] = (), list_allowed: bool = True) -> bool:
    """One problem per key of ``node`` not in ``allowed``; True when there was none.

    ``unknown key 'K' in WHAT: CONSEQUENCE (did you mean 'X'?)``; without a close
    match the allowed keys are listed instead, so the fix is always in the line.
    """
    known = list(allowed)
    ignored = set(skip)
    clean = True
    for key, child in node.items():
        if key in known or key in ignored:
            continue
        clean = False
        close = closest(key, known)
        hint = f" (did you mean '{close}'?)" if close else \
            f" (known keys: {', '.join(known)})" if list_allowed else ""
        where = f" in {what}" if what else ""
        problems.append((node.key_node(key) or child).problem(
            severity, code, f"unknown key '{key}'{where}{consequence}{hint}"))
    return clean


def type_error(node: YNode, expected: str, problems: list[Problem], *,
               code: str = "config-type", what: str = "", why: str = "") -> Any:
    """``WHAT must be EXPECTED, not KIND[WHY]``; WHAT defaults to the quoted YAML path."""
    name = what or f"'{_name(node)}'"
    problems.append(node.error(code, f"{name} must be {expected}, not {node.kind_name()}{why}"))
    return INVALID


def value_error(node: YNode, message: str, problems: list[Problem], *,
                code: str = "config-value") -> Any:
    problems.append(node.error(code, message))
    return INVALID


def _name(node: YNode) -> str:
    return node.path or "the document"


def check_section(
    node: YNode,
    fields: Section,
    problems: list[Problem],
    *,
    post: PostCheck | None = None,
    skip: Iterable[str] = (),
) -> Any:
    """Check a mapping against ``fields``; returns a dict with defaults applied."""
    if not node.is_map:
        return type_error(node, "a mapping", problems)
    skipped = set(skip)
    result: dict[str, Any] = {}
    ok = unknown_keys(node, fields, problems, code="config-unknown-key", skip=skipped,
                      list_allowed=False)
    for key, child in node.items():
        field = fields.get(key)
        if key in skipped or field is None:
            continue
        value = field.check(child, problems)
        ok = ok and value is not INVALID
        result[key] = value
    for key, field in fields.items():
        if key in result or key in skipped:
            continue
        if field.required:
            problems.append(
                node.problem(
                    "error",
                    "config-missing",
                    f"missing required key '{key}' in '{_name(node)}'",
                    path=node.path,
                )
            )
            ok = False
        elif field.default is EMPTY_SECTION:
            empty = YNode("map", {}, node.line, node.column, child_path(node.path, key),
                          tag="map")
            result[key] = field.check(empty, problems)
        else:
            result[key] = field.default() if callable(field.default) else field.default
    if ok and post is not None:
        post(node, result, problems)
    return result if ok else INVALID


def section(fields: Section, post: PostCheck | None = None) -> Checker:
    return lambda node, problems: check_section(node, fields, problems, post=post)


def string(pattern: str = "", explain: str = "", *, allow_empty: bool = False) -> Checker:
    """A string (numbers written plainly are taken as written: ``17`` -> ``"17"``)."""
    regex = re.compile(pattern) if pattern else None

    def check(node: YNode, problems: list[Problem]) -> Any:
        if not node.is_scalar or node.is_null or node.tag == "bool":
            return type_error(node, "a string", problems)
        text = node.text()
        if not text and not allow_empty:
            return value_error(node, f"'{_name(node)}' must not be empty", problems)
        if regex and not regex.fullmatch(text):
            return value_error(node, f"'{_name(node)}' {explain or 'is malformed'}: '{text}'",
                               problems)
        return text

    return check


def integer(minimum: int | None = None, maximum: int | None = None) -> Checker:
    def check(node: YNode, problems: list[Problem]) -> Any:
        if not node.is_scalar or node.tag != "int":
            return type_error(node, "an integer", problems)
        return _bounded(node, int(node.value), minimum, maximum, problems)

    return check


def number(minimum: float | None = None, maximum: float | None = None) -> Checker:
    def check(node: YNode, problems: list[Problem]) -> Any:
        if not node.is_scalar or node.tag not in ("int", "float"):
            return type_error(node, "a number of seconds", problems)
        return _bounded(node, float(node.value), minimum, maximum, problems)

    return check


def _bounded(
    node: YNode, value: Any, minimum: float | None, maximum: float | None,
    problems: list[Problem],
) -> Any:
    if minimum is not None and value < minimum:
        return value_error(node, f"'{_name(node)}' must be at least {minimum:g}, not {value}",
                           problems)
    if maximum is not None and value > maximum:
        return value_error(node, f"'{_name(node)}' must be at most {maximum:g}, not {value}",
                           problems)
    return value


def boolean() -> Checker:
    def check(node: YNode, problems: list[Problem]) -> Any:
        if not node.is_scalar or node.tag != "bool":
            return type_error(node, "true or false", problems)
        return bool(node.value)

    return check


def choice(*options: str, booleans: bool = False) -> Checker:
    """One of ``options``; with ``booleans``, true/false are accepted too."""

    def check(node: YNode, problems: list[Problem]) -> Any:
        if booleans and node.is_scalar and node.tag == "bool":
            return bool(node.value)
        text = node.text() if node.is_scalar and not node.is_null else ""
        if text in options:
            return text
        allowed = ", ".join(options) + (", true, false" if booleans else "")
        return value_error(
            node,
            f"'{_name(node)}' must be one of {allowed}, not '{text or node.kind_name()}'"
            f"{suggest(text, options) if text else ''}",
            problems,
        )

    return check


def seq_of(item: Checker, *, min_items: int = 0) -> Checker:
    def check(node: YNode, problems: list[Problem]) -> Any:
        if not node.is_seq:
            return type_error(node, "a list", problems)
        if len(node.children()) < min_items:
            return value_error(node, f"'{_name(node)}' needs at least {min_items} item(s)",
                               problems)
        values = [item(child, problems) for child in node.children()]
        return INVALID if any(v is INVALID for v in values) else values

    return check


def map_of(value: Checker, key_pattern: str = "", explain: str = "") -> Checker:
    """A mapping of free keys (optionally matching ``key_pattern``) to checked values."""
    regex = re.compile(key_pattern) if key_pattern else None

    def check(node: YNode, problems: list[Problem]) -> Any:
        if not node.is_map:
            return type_error(node, "a mapping", problems)
        result: dict[str, Any] = {}
        ok = True
        for key, child in node.items():
            if regex and not regex.fullmatch(key):
                where = node.key_node(key) or child
                problems.append(where.error("config-value", f"key '{key}' {explain}"))
                ok = False
                continue
            result[key] = value(child, problems)
            ok = ok and result[key] is not INVALID
        return result if ok else INVALID

    return check


def scalar() -> Checker:
    """Any scalar value (string, number, boolean), kept with its YAML type."""

    def check(node: YNode, problems: list[Problem]) -> Any:
        if not node.is_scalar or node.is_null:
            return type_error(node, "a string, number or boolean", problems)
        return node.value

    return check


def env_value() -> Checker:
    """An environment variable value: any scalar, as the string it was written as."""

    def check(node: YNode, problems: list[Problem]) -> Any:
        if not node.is_scalar or node.is_null:
            return type_error(node, "a string", problems)
        return node.text()  # as written: `DEBUG: no` stays "no", not "false"

    return check


def anything() -> Checker:
    return lambda node, problems: node.plain()


def file_mode() -> Checker:
    """An octal file mode as written: ``0640``, ``"640"`` or ``640`` all mean rw-r-----."""

    def check(node: YNode, problems: list[Problem]) -> Any:
        if not node.is_scalar or node.tag not in ("int", "str"):
            return type_error(node, "an octal file mode like 0640", problems)
        raw = node.raw.strip()
        if raw.startswith("0o"):
            raw = raw[2:]
        if not re.fullmatch(r"0?[0-7]{3,4}", raw):
            return value_error(
                node, f"'{_name(node)}' must be an octal mode like 0640, not '{node.raw}'",
                problems,
            )
        return int(raw, 8)

    return check


def one_of(*checkers: tuple[Callable[[YNode], bool], Checker]) -> Checker:
    """Dispatch on the node's shape: the first ``(test, checker)`` whose test passes."""

    def check(node: YNode, problems: list[Problem]) -> Any:
        for test, checker in checkers:
            if test(node):
                return checker(node, problems)
        return checkers[-1][1](node, problems)

    return check


def is_map(node: YNode) -> bool:
    return node.is_map


def is_seq(node: YNode) -> bool:
    return node.is_seq


def is_scalar(node: YNode) -> bool:
    return node.is_scalar
