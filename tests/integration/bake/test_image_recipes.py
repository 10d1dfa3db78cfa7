"""The Image Builder component and the Packer example that call bake-ami.sh.

Neither tool runs here, so the documents are checked for what the tools
would refuse: the component document against a schema of Image Builder's
document format (schemaVersion 1.0, phases, steps, the inputs each action
takes), every ``{{ name }}`` declared, every ExecuteBash step parseable by
bash; the HCL structurally (balanced blocks and strings, the blocks and
attributes Packer needs, every ``var.x`` declared) without packer.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"
COMPONENT = SCRIPTS / "imagebuilder" / "hdhooks.yml"
PACKER = SCRIPTS / "packer" / "hdhooks.pkr.hcl"

_NAME = {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_-]{0,127}$"}
_PARAM = {"type": "object", "minProperties": 1, "maxProperties": 1,
          "additionalProperties": {
              "type": "object", "required": ["type"], "additionalProperties": False,
              "properties": {"type": {"enum": ["string"]}, "default": {"type": "string"},
                             "description": {"type": "string", "minLength": 1}}}}
_CONST = {"type": "object", "minProperties": 1, "maxProperties": 1,
          "additionalProperties": {
              "type": "object", "required": ["type", "value"], "additionalProperties": False,
              "properties": {"type": {"enum": ["string"]}, "value": {"type": "string"}}}}
_BASH = {"type": "object", "required": ["commands"], "additionalProperties": False,
         "properties": {"commands": {"type": "array", "minItems": 1,
                                     "items": {"type": "string", "minLength": 1}}}}
_S3 = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["source", "destination"], "additionalProperties": False,
    "properties": {"source": {"type": "string"}, "destination": {"type": "string"},
                   "expectedBucketOwner": {"type": "string"},
                   "overwrite": {"type": "boolean"}}}}
_STEP = {
    "type": "object", "required": ["name", "action", "inputs"], "additionalProperties": False,
    "properties": {
        "name": _NAME,
        "action": {"enum": ["ExecuteBash", "S3Download", "WebDownload", "CreateFile",
                            "SetFilePermissions", "Reboot", "UpdateOS", "Assert"]},
        "inputs": {}, "onFailure": {"enum": ["Abort", "Continue", "Ignore"]},
        "timeoutSeconds": {"type": "integer", "minimum": -1, "maximum": 43200},
        "maxAttempts": {"type": "integer", "minimum": 1}, "if": {}, "loop": {},
    },
    "allOf": [
        {"if": {"properties": {"action": {"const": "ExecuteBash"}}},
         "then": {"properties": {"inputs": _BASH}}},
        {"if": {"properties": {"action": {"const": "S3Download"}}},
         "then": {"properties": {"inputs": _S3}}},
    ],
}
COMPONENT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["schemaVersion", "phases"], "additionalProperties": False,
    "properties": {
        "name": {"type": "string"}, "description": {"type": "string"},
        "schemaVersion": {"enum": [1.0, "1.0"]},
        "parameters": {"type": "array", "items": _PARAM},
        "constants": {"type": "array", "items": _CONST},
        "phases": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "steps"], "additionalProperties": False,
            "properties": {"name": {"enum": ["build", "validate", "test"]},
                           "steps": {"type": "array", "minItems": 1, "items": _STEP}}}},
    },
}


@pytest.fixture(scope="module")
def component() -> dict[str, Any]:
    return yaml.safe_load(COMPONENT.read_text(encoding="utf-8"))


def _steps(doc: dict[str, Any], phase: str) -> list[dict[str, Any]]:
    return next(p["steps"] for p in doc["phases"] if p["name"] == phase)


def test_component_matches_the_document_schema(component: dict[str, Any]) -> None:
    jsonschema.validate(component, COMPONENT_SCHEMA)
    assert {p["name"] for p in component["phases"]} >= {"build", "validate"}
    for phase in component["phases"]:
        names = [s["name"] for s in phase["steps"]]
        assert len(names) == len(set(names)), f"duplicate step names in {phase['name']}"


def test_schema_refuses_what_image_builder_refuses(component: dict[str, Any]) -> None:
    broken = yaml.safe_load(COMPONENT.read_text(encoding="utf-8"))
    broken["phases"][0]["steps"][0]["action"] = "RunBash"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, COMPONENT_SCHEMA)
    del broken["phases"][0]["steps"][0]["inputs"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, COMPONENT_SCHEMA)


def test_component_declares_every_variable_it_uses(component: dict[str, Any]) -> None:
    declared = {next(iter(p)) for p in component.get("parameters", [])}
    declared |= {next(iter(c)) for c in component.get("constants", [])}
    used = set(re.findall(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}", COMPONENT.read_text()))
    assert used <= declared, f"undeclared: {sorted(used - declared)}"


def test_component_bakes_then_validates_with_doctor(component: dict[str, Any]) -> None:
    build = " ".join(c for s in _steps(component, "build") if s["action"] == "ExecuteBash"
                     for c in s["inputs"]["commands"])
    assert "bake-ami.sh" in build and "codedeploy" in build
    assert any(s["action"] == "S3Download" for s in _steps(component, "build"))
    validate = " ".join(c for s in _steps(component, "validate") for c in s["inputs"]["commands"])
    assert "hdhooks doctor --bake" in validate


def test_every_bash_step_parses(component: dict[str, Any]) -> None:
    for phase in component["phases"]:
        for step in phase["steps"]:
            if step["action"] != "ExecuteBash":
                continue
            script = "\n".join(step["inputs"]["commands"])
            script = re.sub(r"\{\{\s*[A-Za-z0-9_.]+\s*\}\}", "value", script)
            done = subprocess.run(["bash", "-n"], input=script, text=True,
                                  capture_output=True, timeout=30)
            assert done.returncode == 0, f"{step['name']}: {done.stderr}"


# --- Packer, without packer ----------------------------------------------------

def hcl_blocks(text: str) -> list[tuple[int, str]]:
    """(depth, header) of every block, after checking strings and braces balance."""
    blocks: list[tuple[int, str]] = []
    depth, line_start, i = 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "#" or text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
            continue
        if ch == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                assert text[i] != "\n", f"string not closed at offset {i}"
                i += 2 if text[i] == "\\" else 1
            assert i < len(text), "string not closed"
        elif ch == "{" and not text.startswith("{{", i) and text[i - 1] != "$":
            blocks.append((depth, text[line_start:i].strip()))
            depth += 1
        elif ch == "}" and depth and not text.startswith("}}", i):
            depth -= 1
        elif ch == "\n":
            line_start = i + 1
        elif ch in "[(":
            close = {"[": "]", "(": ")"}[ch]
            assert text.count(ch) == text.count(close), f"unbalanced {ch}"
        i += 1
    assert depth == 0, "unbalanced braces"
    return blocks


def test_packer_example_is_well_formed() -> None:
    text = PACKER.read_text(encoding="utf-8")
    blocks = hcl_blocks(text)
    top = [header for depth, header in blocks if depth == 0]
    assert "packer" in top and "build" in top
    assert 'source "amazon-ebs" "al2023"' in top
    declared = {m for h in top for m in re.findall(r'^variable "([a-z_]+)"$', h)}
    used = set(re.findall(r"\bvar\.([a-z_]+)", text))
    assert used <= declared, f"undeclared variables: {sorted(used - declared)}"
    nested = [header for depth, header in blocks if depth == 1]
    assert 'provisioner "shell"' in nested and 'provisioner "file"' in nested
    assert re.search(r"^\s*sources\s*=\s*\[\"source\.amazon-ebs\.al2023\"\]", text, re.M)
    assert "bake-ami.sh" in text and "http_tokens" in text


def test_packer_shell_commands_parse() -> None:
    text = PACKER.read_text(encoding="utf-8")
    inline = re.search(r"inline\s*=\s*\[(.*?)\n\s*\]", text, re.S)
    assert inline is not None
    commands = [bytes(c, "utf-8").decode("unicode_escape")
                for c in re.findall(r'^\s*"((?:[^"\\]|\\.)*)",?\s*$', inline.group(1), re.M)]
    assert commands and any("bake-ami.sh" in c for c in commands)
    done = subprocess.run(["bash", "-n"], input="\n".join(commands), text=True,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_hcl_checker_catches_breakage() -> None:
    with pytest.raises(AssertionError):
        hcl_blocks('build {\n  name = "x"\n')
    with pytest.raises(AssertionError):
        hcl_blocks('build {\n  name = "x\n}\n')
