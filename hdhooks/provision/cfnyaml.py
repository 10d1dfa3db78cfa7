"""Reading CloudFormation YAML (``!Ref``, ``!Sub``, ``!If`` ...) into plain data.

The short tags become their long forms (``!Ref X`` -> ``{"Ref": "X"}``,
``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``), the way CloudFormation
reads them, so a template can be inspected as data: the resources a new
stack will add, and the references between them in the tests.
"""

from __future__ import annotations

from typing import Any


def loads(text: str) -> dict[str, Any]:
    """The template as data; raises ``ValueError`` for YAML that is not a mapping."""
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    def construct(loader: Any, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        if suffix == "Condition":
            return {"Condition": value}
        return {f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", construct)
    doc = yaml.load(text, Loader=Loader)  # a SafeLoader subclass: no arbitrary objects
    if not isinstance(doc, dict):
        raise ValueError("a template must be a mapping")
    return doc


def added_lines(text: str) -> list[str]:
    """``+ Add TYPE NAME`` for each resource of a template a new stack would create."""
    resources = loads(text).get("Resources") or {}
    lines = []
    for name, body in resources.items():
        body = body if isinstance(body, dict) else {}
        condition = f" (if {body['Condition']})" if body.get("Condition") else ""
        lines.append(f"    + Add {body.get('Type', '?')} {name}{condition}")
    return lines
