"""Server text becomes one printable, bounded, token-free line."""

from __future__ import annotations

import pytest

from hdhooks.build.sonar.gate import SonarResponseError, parse_project_status, parse_task_json
from hdhooks.build.sonar.safe import text
from hdhooks.redact import register


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain", "plain"),
        (None, ""),
        (3, "3"),
        (["a"], "['a']"),
        ("a\nQUALITY_GATE_STATUS=OK", "a\\nQUALITY_GATE_STATUS=OK"),
        ("a\rb\tc", "a\\rb\\tc"),
        ("\x1b[31mred\x00", "\\x1b[31mred\\x00"),
        ("x\u2028y\u2029z\x85", "x\\u2028y\\u2029z\\x85"),
        ("evil\u202etxt.exe\u200b", "evil\\u202etxt.exe\\u200b"),
        ("é ✓ 日本", "é ✓ 日本"),
    ],
)
def test_text_is_one_printable_line(value: object, shown: str) -> None:
    assert text(value) == shown
    assert len(text(value).splitlines()) <= 1


def test_text_is_bounded() -> None:
    assert text("x" * 10_000, limit=50) == "x" * 47 + "..."
    assert len(text("\n" * 10_000, limit=50)) == 50


def test_text_masks_a_registered_token() -> None:
    register("squ_unit_token_123")
    assert text("bad token squ_unit_token_123\n") == "bad token ****\\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"projectStatus": {"status": "OK", "conditions": 5}},
         "u answered with 'conditions' that is not a list"),
        ({"projectStatus": {"status": ["OK"]}}, "u answered with an unknown gate status "
                                                "'['OK']'"),
        ({"projectStatus": {"status": "OK\nX"}}, "u answered with an unknown gate status "
                                                 "'OK\\nX'"),
    ],
)
def test_odd_project_status_shapes(data: object, message: str) -> None:
    with pytest.raises(SonarResponseError) as info:
        parse_project_status(data, "u")
    assert info.value.one_line() == message


def test_task_strings_are_escaped_and_warnings_bounded() -> None:
    task = parse_task_json({"task": {"status": "FAILED", "errorMessage": "a\nb",
                                     "warnings": ["w\r"] * 80, "id": 7}}, "u")
    assert (task.id, task.error_message) == ("7", "a\\nb")
    assert task.warnings == ("w\\r",) * 50
