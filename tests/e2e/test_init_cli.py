"""``hdhooks init`` through the installed console script, and lint of what it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HDHOOKS = str(Path(sys.executable).parent / "hdhooks")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HDHOOKS, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("kind", "extra"), [
    ("jvm", "deploy/templates/app.conf.j2"),
    ("flutter-web", "deploy/nginx-site.conf.j2"),
])
def test_init_then_lint_round_trip(tmp_path: Path, kind: str, extra: str) -> None:
    result = run("init", "bundle", "--kind", kind, "--name", "shop", "--port", "8081",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    created = [line.removeprefix("created ") for line in result.stdout.splitlines()]
    assert created[0] == "bundle/appspec.yml"
    assert "bundle/hooks/application-stop.sh" in created
    assert f"bundle/{extra}" in created and "bundle/deploy/hdhooks.yml" in created
    assert len([c for c in created if c.startswith("bundle/hooks/")]) == 9
    assert os.access(tmp_path / "bundle/hooks/validate-service.sh", os.X_OK)
    assert "port: 8081" in (tmp_path / "bundle/deploy/hdhooks.yml").read_text()
    lint = run("lint", "--strict", "bundle", cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout == ""
    assert lint.stderr.splitlines()[-1] == "bundle: valid, 11 files checked"


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "appspec.yml").write_text("# mine\n")
    result = run("init", "--kind", "jvm", "--name", "api", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == ("hdhooks: error: appspec.yml already exists (use --force to "
                             "replace the scaffold's files)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["appspec.yml"]
    assert (tmp_path / "appspec.yml").read_text() == "# mine\n"
    forced = run("init", "--kind", "jvm", "--name", "api", "--force", cwd=tmp_path)
    assert forced.returncode == 0
    assert "version: 0.0" in (tmp_path / "appspec.yml").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--name", "api"], "Missing option '--kind'"),
    (["--kind", "jvm"], "Missing option '--name'"),
    (["--kind", "php", "--name", "api"], "'php' is not one of"),
    (["--kind", "jvm", "--name", "API"], "'API' cannot name a component"),
    (["--kind", "jvm", "--name", "api", "--port", "0"], "0 is not in the range"),
])
def test_init_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("init", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_reloaded_nginx_needs_no_stop_timeout_in_application_stop(tmp_path: Path) -> None:
    """flutter-web: nginx is reloaded, never stopped, so a short ApplicationStop is fine."""
    assert run("init", "web", "--kind", "flutter-web", "--name", "shop", cwd=tmp_path
               ).returncode == 0
    appspec = tmp_path / "web" / "appspec.yml"
    text = appspec.read_text()
    old = "application-stop.sh\n      timeout: 420"
    assert old in text
    appspec.write_text(text.replace(old, "application-stop.sh\n      timeout: 60"))
    config = (tmp_path / "web" / "deploy" / "hdhooks.yml").read_text()
    assert "reload: true" in config and "check_command: [nginx, -t]" in config
    lint = run("lint", "--strict", "web", cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
