"""`hdhooks buildspec render|validate` through the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Writer = Callable[..., Path]

HDHOOKS = Path(sys.executable).parent / "hdhooks"
ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "examples" / "components.yml"

GOOD = "version: 0.2\nphases:\n  build:\n    commands:\n      - mvn -B verify\n"


def hdhooks(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HDHOOKS), *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd)


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    def _write(text: str, name: str = "buildspec.yml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return _write


def test_valid_buildspec_exits_0(write: Writer) -> None:
    path = write(GOOD)
    result = hdhooks("buildspec", "validate", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "valid" in result.stderr


def test_invalid_buildspec_exits_1_with_positions(write: Writer) -> None:
    path = write(GOOD + "      - echo Build: done\n")
    result = hdhooks("buildspec", "validate", str(path))
    assert result.returncode == 1
    line = result.stdout.strip()
    assert line.startswith(f"{path}:6:9: error: the command 'echo Build: done' contains ': '")
    assert line.endswith("[phases.build.commands[1]]")
    assert "Traceback" not in result.stderr


def test_json_output_only_json(write: Writer) -> None:
    path = write(GOOD + "artifacts:\n  files:\n    - *.jar\n")
    result = hdhooks("buildspec", "validate", "--format", "json", str(path))
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert set(doc) == {"file", "valid", "problems"}
    assert doc["valid"] is False
    (problem,) = doc["problems"]
    assert set(problem) == {"severity", "line", "column", "path", "message", "code"}
    assert problem["line"] == 8 and problem["severity"] == "error"
    assert "quote globs that start with *" in problem["message"]


def test_warnings_pass_unless_strict(write: Writer) -> None:
    path = write(GOOD + "env:\n  variables:\n    FLAG: yes\n")
    assert hdhooks("buildspec", "validate", str(path)).returncode == 0
    strict = hdhooks("buildspec", "validate", "--strict", "--format", "json", str(path))
    assert strict.returncode == 1
    assert json.loads(strict.stdout)["valid"] is False


@pytest.mark.parametrize(("text", "code"), [("", 1), ("- a\n", 1), ("a: [\n", 1)])
def test_empty_list_root_and_yaml_error_are_invalid(write: Writer, text: str, code: int) -> None:
    result = hdhooks("buildspec", "validate", str(write(text)))
    assert result.returncode == code


def test_missing_file_is_usage_error(tmp_path: Path) -> None:
    result = hdhooks("buildspec", "validate", str(tmp_path / "nope.yml"))
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert result.stdout == ""


def test_folder_means_its_buildspec_yml(write: Writer, tmp_path: Path) -> None:
    write(GOOD)
    assert hdhooks("buildspec", "validate", str(tmp_path)).returncode == 0


def test_render_manifest_to_dir_then_validate_each(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = hdhooks("buildspec", "render", str(MANIFEST), "--out-dir", str(out))
    assert result.returncode == 0, result.stderr
    files = sorted(out.glob("*.buildspec.yml"))
    assert len(files) == 26
    for path in files[:3]:
        assert hdhooks("buildspec", "validate", "--strict", str(path)).returncode == 0
    check = hdhooks("buildspec", "render", str(MANIFEST), "--out-dir", str(out), "--check")
    assert check.returncode == 0, check.stderr
    files[0].write_text("version: 0.2\n")
    check = hdhooks("buildspec", "render", str(MANIFEST), "--out-dir", str(out), "--check")
    assert check.returncode == 1
    assert "out of date" in check.stderr


def test_render_one_component_to_stdout() -> None:
    result = hdhooks("buildspec", "render", str(MANIFEST), "--component", "storefront-web")
    assert result.returncode == 0, result.stderr
    assert "component storefront-web" in result.stdout
    assert "flutter build web --release" in result.stdout


def test_render_manifest_without_out_dir_is_usage_error() -> None:
    result = hdhooks("buildspec", "render", str(MANIFEST))
    assert result.returncode == 2
    assert "--out-dir" in result.stderr


def test_render_bad_settings_exit_2_with_positions(write: Writer) -> None:
    path = write("name: a\nkind: flutter\nflutter_version: 3.10\n", "c.yml")
    result = hdhooks("buildspec", "render", str(path))
    assert result.returncode == 2
    assert f"{path}:3:18: error: flutter_version: unquoted 3.10" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_render_single_component_to_file(write: Writer, tmp_path: Path) -> None:
    settings = write("name: api\nkind: maven\nsonar:\n  enabled: true\n"
                     "  host: https://sonar.test\n", "c.yml")
    out = tmp_path / "api.yml"
    result = hdhooks("buildspec", "render", str(settings), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert hdhooks("buildspec", "validate", str(out)).returncode == 0
    assert "sonar gate" in out.read_text()


def test_unknown_component_is_usage_error() -> None:
    result = hdhooks("buildspec", "render", str(MANIFEST), "-c", "nope")
    assert result.returncode == 2
    assert "no component named 'nope'" in result.stderr


NASTY = [
    pytest.param("version: 0.2\nphases: " + "[" * 3000 + "]" * 3000 + "\n", id="deep-nesting"),
    pytest.param("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi",
                                                                    strict=True))
        + "version: 0.2\nphases: {build: {commands: *i}}\n", id="alias-bomb"),
    pytest.param("version: 0.2\x00\nphases: {}\n", id="nul-byte"),
    pytest.param("version: 0.2\nphases:\n  build:\n    commands:\n      - !!binary aGk=\n"
                 "      - 2001-01-01\n      - !Ref x\n", id="odd-tags"),
    pytest.param("version: 0.2\nphases:\n  ? [a]\n  : b\n  build: {commands: [a]}\n",
                 id="complex-key"),
    pytest.param("version: 0.2\nphases:\n  build:\n    commands: [a]\n---\n{{{\n",
                 id="bad-second-document"),
    pytest.param("version: 0.2\nenv: {variables: {A: [1, {b: c}]}, secrets-manager: {T: '::'}}\n"
                 "phases: {install: {runtime-versions: {flutter: 3.10}}, build: {commands: "
                 "[{a: b}], on-failure: RETRY-x-}}\nbatch: {build-graph: [{identifier: a, "
                 "depend-on: a}]}\ncache: {paths: [], fallback-keys: k}\n", id="everything-wrong"),
]


@pytest.mark.parametrize("text", NASTY)
def test_nasty_input_gives_positioned_lines_never_a_traceback(write: Writer, text: str) -> None:
    path = write(text)
    result = hdhooks("buildspec", "validate", "--strict", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines
    for line in lines:
        assert line.startswith(f"{path}:"), line
        where = line[len(str(path)) + 1:].split(":", 2)
        assert where[0].isdigit() and int(where[0]) >= 1, line
    assert result.stderr.strip() == f"{path}: invalid ({_summary(lines)})"


def _summary(lines: list[str]) -> str:
    errors = sum(": error: " in line for line in lines)
    warnings = sum(": warning: " in line for line in lines)
    parts = [f"{errors} error" + ("" if errors == 1 else "s")] if errors else []
    if warnings:
        parts.append(f"{warnings} warning" + ("" if warnings == 1 else "s"))
    return ", ".join(parts)
