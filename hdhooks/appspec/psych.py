"""How Ruby's Psych (the CodeDeploy agent's YAML loader) reads appspec values.

The agent turns values into text with Ruby's ``to_s`` and numbers with
``to_i``, and its ``YAML.load`` refuses some values that PyYAML reads
happily (dates) or reads differently (``:symbols``). The appspec rules use
these to say what the agent will do with a value, not what Python would.
"""

from __future__ import annotations

from hdhooks.yamlsrc.node import YNode
from hdhooks.yamlsrc.problems import Problem


def ruby_to_s(node: YNode) -> str:
    """A scalar as the agent's Ruby ``to_s`` prints it (``true``, ``420``, ``0.0``)."""
    value = node.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return str(value)


def yaml_hygiene(node: YNode, out: list[Problem]) -> None:
    """Unquoted dates (the agent's YAML loader refuses them) and :symbols.

    Ruby 3's ``YAML.load`` permits symbols but no other class, so ``:root``
    loads as the symbol ``:root``: accepted, but not the string a reader expects.
    """
    if node.tag == "timestamp":
        out.append(node.error(
            "yaml-date",
            f"unquoted date '{node.raw}': the agent's YAML loader refuses dates "
            "(Tried to load unspecified class: Date); put it in quotes",
        ))
    elif node.is_str and not node.quoted and len(node.raw) > 1 and node.raw.startswith(":"):
        out.append(node.warning(
            "yaml-symbol",
            f"unquoted value '{node.raw}' starts with ':', so the agent's YAML loader reads "
            "it as a Ruby symbol, not as text; put it in quotes",
        ))
    for key, child in node.items():
        key_node = node.key_node(key)
        if key_node is not None:
            yaml_hygiene(key_node, out)
        yaml_hygiene(child, out)
    for child in node.children():
        yaml_hygiene(child, out)


def ruby_to_i(node: YNode) -> int | None:
    """Ruby's ``to_i``: integer prefix of a string, truncation of a float; None = crash."""
    import math
    import re

    value = node.value
    if isinstance(value, bool) or not node.is_scalar:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    match = re.match(r"\s*([-+]?[0-9]+(?:_[0-9]+)*)", str(value))
    return int(match.group(1).replace("_", "")) if match else 0
