"""``hdhooks appspec validate`` through the installed console script."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

VALID = "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: scripts/a.sh\n"


def run(hdhooks_bin: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([hdhooks_bin, "appspec", "validate", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_valid_file_exits_0_with_a_summary(hdhooks_bin: str, tmp_path: Path) -> None:
    path = tmp_path / "appspec.yml"
    path.write_text(VALID)
    result = run(hdhooks_bin, "appspec.yml", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == "appspec.yml: valid\n"


def test_warnings_pass_unless_strict(hdhooks_bin: str, tmp_path: Path) -> None:
    (tmp_path / "appspec.yml").write_text(VALID + "      sudo: true\n")
    result = run(hdhooks_bin, "appspec.yml", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("appspec.yml:6:13: warning: 'sudo' is not documented")
    assert result.stdout.rstrip().endswith("[hooks.BeforeInstall[0].sudo]")
    assert result.stderr == "appspec.yml: valid (1 warning)\n"
    strict = run(hdhooks_bin, "--strict", "appspec.yml", cwd=tmp_path)
    assert strict.returncode == 1
    assert "invalid (1 warning)" in strict.stderr


def test_invalid_file_exits_1_one_line_per_problem(hdhooks_bin: str, tmp_path: Path) -> None:
    (tmp_path / "appspec.yml").write_text(
        "version: '0.0'\nos: Linux\npermissions:\n  - object: /opt\n    mode: 0755\n")
    result = run(hdhooks_bin, "appspec.yml", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0:2] for line in lines] == [
        ["appspec.yml:1:10", "error"],
        ["appspec.yml:2:5", "error"],
        ["appspec.yml:5:11", "error"],
    ]
    assert "invalid character (9)" in lines[2]
    assert "Traceback" not in result.stderr


def test_json_output_is_only_the_document(hdhooks_bin: str, tmp_path: Path) -> None:
    (tmp_path / "appspec.yml").write_text("version: 0.0\nos: linux\nhooks: []\n")
    result = run(hdhooks_bin, "--format", "json", "appspec.yml", cwd=tmp_path)
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc == {
        "file": "appspec.yml",
        "valid": False,
        "problems": [{
            "severity": "error", "line": 3, "column": 8, "path": "hooks", "code": "hooks",
            "message": doc["problems"][0]["message"],
        }],
    }
    assert "must be a mapping" in doc["problems"][0]["message"]


@pytest.mark.parametrize("text", ["", "version: [\n", "- a\n"])
def test_unreadable_yaml_is_invalid_not_a_usage_error(
    hdhooks_bin: str, tmp_path: Path, text: str
) -> None:
    (tmp_path / "appspec.yml").write_text(text)
    result = run(hdhooks_bin, "--format", "json", "appspec.yml", cwd=tmp_path)
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["valid"] is False and len(doc["problems"]) == 1


def test_missing_file_is_a_usage_error(hdhooks_bin: str, tmp_path: Path) -> None:
    result = run(hdhooks_bin, "nope.yml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "hdhooks: error: nope.yml: no such file (check the path)\n"


def test_bad_option_is_a_usage_error(hdhooks_bin: str, tmp_path: Path) -> None:
    result = run(hdhooks_bin, "--format", "xml", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "xml" in result.stderr


def test_directory_without_appspec_is_a_usage_error(hdhooks_bin: str, tmp_path: Path) -> None:
    result = run(hdhooks_bin, str(tmp_path))
    assert result.returncode == 2
    assert "no appspec.yml or appspec.yaml found" in result.stderr


def test_bundle_directory_with_appspec_yaml_only(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "scripts").mkdir(parents=True)
    script = bundle / "scripts" / "a.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    (bundle / "appspec.yaml").write_text(VALID)
    result = run(hdhooks_bin, "bundle", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert result.stderr.splitlines() == ["using bundle/appspec.yaml",
                                          "bundle/appspec.yaml: valid"]


def test_bundle_checks_scripts(hdhooks_bin: str, tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "a.sh").write_bytes(b"echo hi\r\n")
    (tmp_path / "appspec.yml").write_text(VALID + "files:\n  - source: dist\n"
                                          "    destination: /opt/app\n")
    result = run(hdhooks_bin, "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert [(p["code"], p["line"]) for p in doc["problems"]] == [
        ("bundle-script-crlf", 5),
        ("bundle-script-shebang", 5),
        ("bundle-script-exec", 5),
        ("bundle-source-missing", 7),
    ]
    assert result.stderr == "using appspec.yml\n"


@pytest.mark.parametrize("data, code", [
    (b"version: 0.0\nos: \xe9linux\n", "encoding"),
    (bytes(range(256)) * 8, "encoding"),
    (b"version: 0.0\nos: linux\x00\n", "yaml-syntax"),
    (b"\xef\xbb\xbfversion: 0.0\nos: linux\n", "bom"),
    (b"version: 0.0\nos: linux\nx: " + b"[" * 3000 + b"]" * 3000 + b"\n", "yaml-syntax"),
    (b"~\n", "root-type"),
])
def test_unreadable_content_is_invalid_with_json(
    hdhooks_bin: str, tmp_path: Path, data: bytes, code: str
) -> None:
    (tmp_path / "appspec.yml").write_bytes(data)
    result = run(hdhooks_bin, "--format", "json", "appspec.yml", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    assert [(p["code"], p["severity"]) for p in doc["problems"]] == [(code, "error")]
    assert doc["problems"][0]["line"] >= 1 and doc["problems"][0]["column"] >= 1


@pytest.mark.parametrize("text", [
    "version: 0.0\nos: linux\n? [!!python/object:x y]\n: x\n",
    "version: 0.0\nos: linux\n? {? {a: b}: c}\n: d\n",
    "version: 0.0\nos: !!python/object:os.system linux\n",
    "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - <<: {location: a.sh}\n",
    "version: 0.0\nos: linux\n...\nnot: [yaml\n",
])
def test_odd_yaml_the_agent_accepts_is_valid_and_never_crashes(
    hdhooks_bin: str, tmp_path: Path, text: str
) -> None:
    (tmp_path / "appspec.yml").write_text(text)
    result = run(hdhooks_bin, "appspec.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert all(": warning: " in line for line in result.stdout.splitlines())


def test_an_endless_device_is_a_usage_error_not_a_hang(hdhooks_bin: str, tmp_path: Path) -> None:
    result = run(hdhooks_bin, "/dev/zero", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == ("hdhooks: error: /dev/zero: larger than 16 MB, not an appspec "
                             "(give the appspec file)\n")
