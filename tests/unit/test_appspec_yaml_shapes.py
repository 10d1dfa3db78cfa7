"""Cyclic aliases and deep nesting: one positioned error from every YAML reader.

Both are refused before the composer sees them, with the C parser and with
PyYAML's pure-Python one, so no reader hangs or runs out of stack.
"""

from __future__ import annotations

import pytest

from hdhooks.appspec.read import parse
from hdhooks.build.buildspec.validate import validate_text
from hdhooks.build.settings import parse_settings
from hdhooks.yamlsrc.loader import load

APPSPEC = "version: 0.0\nos: linux\n"
CHAIN = "a0: &a0 [[[x]]]\n" + "".join(
    f"a{i}: &a{i} [[[*a{i - 1}]]]\n" for i in range(1, 40))

# (id, text, code, line, column)
SHAPES = [
    ("cycle-seq", "a: &a [*a]\n", "yaml-alias-cycle", 1, 8),
    ("cycle-map", "a: &a {b: *a}\n", "yaml-alias-cycle", 1, 11),
    ("cycle-deep", "a: &a\n  b:\n    - c: [1, *a]\n", "yaml-alias-cycle", 3, 14),
    ("flow-maps-500", "x: " + "{a: " * 500 + "1" + "}" * 500 + "\n", "yaml-depth", 1, 400),
    ("block-lists-300", "x:\n  " + "- " * 300 + "x\n", "yaml-depth", 2, 201),
    ("alias-chain", CHAIN, "yaml-depth", 2, 12),
]


@pytest.mark.parametrize("pure", [False, True], ids=["c-parser", "python-parser"])
@pytest.mark.parametrize(("text", "code", "line", "column"),
                         [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_loader_refuses_with_one_positioned_error(
        text: str, code: str, line: int, column: int, pure: bool) -> None:
    doc = load(text, pure=pure)
    assert doc.root is None
    assert [(p.code, p.line, p.column) for p in doc.problems] == [(code, line, column)]


@pytest.mark.parametrize(("text", "code"), [(s[1], s[2]) for s in SHAPES],
                         ids=[s[0] for s in SHAPES])
def test_every_reader_reports_the_shape(text: str, code: str) -> None:
    spec, report = parse(APPSPEC + text, "appspec.yml")
    assert spec is None and [p.code for p in report.errors] == [code]
    buildspec = validate_text("version: 0.2\n" + text, "buildspec.yml")
    assert [p.code for p in buildspec.errors] == [code]
    components, settings = parse_settings("name: a\nkind: maven\n" + text, "c.yml")
    assert components == [] and [p.code for p in settings.errors] == [code]


def test_nesting_of_100_levels_is_still_read() -> None:
    doc = load("x: " + "[" * 99 + "1" + "]" * 99 + "\n")
    assert doc.ok


def test_messages_name_the_reader() -> None:
    text = "x: !ruby/object:Foo {a: 1}\n"
    assert "CodeDeploy agent's YAML loader refuses" in load(text).problems[0].message
    assert "CodeBuild does not read" in load(text, "CodeBuild").problems[0].message
    buildspec = validate_text("version: 0.2\nphases: {build: {commands: [x]}}\n" + text)
    assert [p.message for p in buildspec.errors if "CodeDeploy" in p.message] == []
