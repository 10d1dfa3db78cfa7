"""``hdhooks lint`` on hello-service bundles that pass the appspec and config
schemas but would fail in a hook, after ApplicationStop stopped the service."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_lint_cli import HDHOOKS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello-service"
TEMPLATE = "deploy/templates/hello.json.j2"
CONFIG = "deploy/hdhooks.yml"


@pytest.fixture()
def bundle(tmp_path: Path) -> Path:
    dest = tmp_path / "hello-service"
    shutil.copytree(EXAMPLE, dest)
    return dest


def lint(bundle: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HDHOOKS, "lint", str(bundle)], capture_output=True, text=True,
                          timeout=60)


ROWS = [
    # (file, old, new, exit code, expected fragment of one line of stdout)
    (TEMPLATE, "values.greeting", "values.greting", 1,
     f"{TEMPLATE}:3:1: error: AfterInstall would fail:"),
    (TEMPLATE, "}\n", "}\n{% if build_id %}\n", 1,
     f"{TEMPLATE}:6:1: error: AfterInstall would fail: syntax error"),
    (CONFIG, "deploy/templates/hello.json.j2", "deploy/templates/hello.jsn.j2", 1,
     f"{CONFIG}:38:15: error: template 'deploy/templates/hello.jsn.j2' is not in the bundle"),
    (CONFIG, "hello-demo: demo ", "hello-demo: demos ", 1,
     f"{CONFIG}:10:17: error: deployment group 'hello-demo' maps to environment 'demos'"),
    # an event without scripts: the agent runs nothing for it, lint warns and passes
    ("appspec.yml", "    - location: hooks/before-install.sh\n      timeout: 120\n", "", 0,
     "appspec.yml:5:1: warning: no BeforeInstall hook: preflight checks"),
    ("appspec.yml",
     "  BeforeInstall:\n    - location: hooks/before-install.sh\n      timeout: 120\n",
     "  BeforeInstall: []\n", 0, "appspec.yml:5:1: warning: no BeforeInstall hook"),
]


@pytest.mark.parametrize(("file", "old", "new", "code", "line"), ROWS)
def test_deploy_time_failures_are_lint_findings(bundle: Path, file: str, old: str, new: str,
                                                code: int, line: str) -> None:
    path = bundle / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    result = lint(bundle)
    assert result.returncode == code, result.stdout + result.stderr
    assert any(line in out for out in result.stdout.splitlines()), result.stdout
    assert "Traceback" not in result.stderr


def test_environment_overlay_template_error_names_it(bundle: Path) -> None:
    (bundle / TEMPLATE).write_text('{{ values.only_in_prod }}\n')
    config = bundle / CONFIG
    config.write_text(config.read_text().replace(
        "    releases: {keep: 10}\n", "    releases: {keep: 10}\n    values: {only_in_prod: x}\n"))
    result = lint(bundle)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [out for out in result.stdout.splitlines() if "AfterInstall would fail" in out]
    assert len(lines) == 1 and "(environment dev, staging, demo)" in lines[0], result.stdout
