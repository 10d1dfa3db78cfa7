"""``hdhooks lint`` through the installed console script: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HDHOOKS = str(Path(sys.executable).parent / "hdhooks")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HDHOOKS, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture()
def bundle(tmp_path: Path) -> Path:
    result = run("init", "--kind", "jvm", "--name", "api", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_valid_bundle_in_the_current_directory(bundle: Path) -> None:
    result = run("lint", cwd=bundle)
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == "using appspec.yml\n.: valid, 11 files checked\n"


def test_short_timeout_is_reported_at_the_appspec_line(bundle: Path) -> None:
    edit(bundle / "appspec.yml", "timeout: 420", "timeout: 45")
    result = run("lint", ".", cwd=bundle)
    assert result.returncode == 1
    line = result.stdout.splitlines()[0]
    assert line.startswith("appspec.yml:17:16: error: ApplicationStop: timeout 45 s is shorter "
                           "than stop_timeout 30 s + 30 s margin; use at least 60")
    assert line.endswith("[hooks.ApplicationStop[0].timeout]")
    assert result.stderr.splitlines()[-1] == ".: invalid (1 error), 11 files checked"


def test_problems_come_file_by_file(bundle: Path) -> None:
    edit(bundle / "hooks/application-stop.sh", "exec", "echo stopping\nexec")
    edit(bundle / "deploy/hdhooks.yml", "keep: 5", "keep: 1")
    edit(bundle / "appspec.yml", "os: linux", "os: linux\nfile_exists: DISALLOW")
    result = run("lint", cwd=bundle)
    assert result.returncode == 1
    files = [line.split(":")[0] for line in result.stdout.splitlines()]
    assert files == ["appspec.yml", "deploy/hdhooks.yml", "hooks/application-stop.sh"]


def test_warnings_fail_only_with_strict(bundle: Path) -> None:
    edit(bundle / "hooks/before-install.sh", "exec", "date\nexec")
    assert run("lint", cwd=bundle).returncode == 0
    strict = run("lint", "--strict", cwd=bundle)
    assert strict.returncode == 1
    assert strict.stdout.startswith("hooks/before-install.sh:3:1: warning: this hook script "
                                    "runs hdhooks but is not the shim ('date')")


def test_json_is_a_list_of_file_documents(bundle: Path) -> None:
    edit(bundle / "appspec.yml", "timeout: 600", "timeout: 100")
    result = run("lint", "--format", "json", cwd=bundle)
    assert result.returncode == 1
    docs = json.loads(result.stdout)
    assert [d["file"] for d in docs[:2]] == ["appspec.yml", "deploy/hdhooks.yml"]
    assert [d["valid"] for d in docs[:2]] == [False, True]
    [problem] = docs[0]["problems"]
    assert problem["line"] == 29 and problem["path"] == "hooks.ValidateService[0].timeout"
    assert problem["code"] == "lint-hook-timeout"
    assert all(set(d) == {"file", "valid", "problems"} for d in docs)


def test_missing_config_suggests_init(bundle: Path) -> None:
    (bundle / "deploy/hdhooks.yml").unlink()
    result = run("lint", cwd=bundle)
    assert result.returncode == 1
    assert result.stdout.startswith("./: error: no deploy/hdhooks.yml in the bundle")
    assert "run 'hdhooks init'" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["lint", "nowhere"], "hdhooks: error: nowhere: no such directory"),
    (["lint", "--format", "xml"], "'xml' is not one of"),
    (["lint", "-e", "staging"], "environment 'staging' (from the command line) has no entry"),
])
def test_usage_errors_exit_2(bundle: Path, args: list[str], message: str) -> None:
    (bundle / "deploy/hdhooks.yml").write_text(
        (bundle / "deploy/hdhooks.yml").read_text() + "environments: {dev: {}, prod: {}}\n")
    result = run(*args, cwd=bundle)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_no_appspec_exits_2(tmp_path: Path) -> None:
    result = run("lint", cwd=tmp_path)
    assert result.returncode == 2
    assert "no appspec.yml or appspec.yaml found" in result.stderr
