"""The rendered buildspecs' shell: every command parses, and the install steps behave.

CodeBuild runs the commands of a 0.2 buildspec one after the other in one bash
(``env.shell: bash``), so each command is checked with ``bash -n`` on its own
and all of them together, for every template with and without SonarQube. The
steps that decide what a cached build reuses (the pinned Flutter SDK, the
sonar-scanner CLI) are run for real against stand-in ``git`` and ``curl``.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from pathlib import Path

import pytest
import yaml

from hdhooks.build.buildspec.validate import validate_text
from hdhooks.build.render import render_text
from hdhooks.build.settings import ComponentSettings, SonarSettings
from hdhooks.proc import run

ROOT = Path(__file__).resolve().parents[3]
SONAR = SonarSettings(enabled=True, project_key="shop:web", host="https://sonar.test",
                      ca_bundle="/etc/pki/sonar.pem", timeout=120)
ENV = (("GREETING", "hello: world"), ("QUOTES", "it's \"x\""), ("DOLLAR", "$HOME `id`"))

COMPONENTS = [
    pytest.param(ComponentSettings("svc", "maven"), id="maven"),
    pytest.param(ComponentSettings("svc", "maven", sonar=SONAR, env=ENV), id="maven-sonar"),
    pytest.param(ComponentSettings("svc", "maven", module="app", java_version=21, sonar=SONAR),
                 id="maven-module-sonar"),
    pytest.param(ComponentSettings("web", "flutter", flutter_version="3.24.3", env=ENV),
                 id="flutter"),
    pytest.param(ComponentSettings("web", "flutter", flutter_version="3.24.3", sonar=SONAR),
                 id="flutter-sonar"),
    pytest.param(ComponentSettings("web", "flutter", flutter_version="3.24.3",
                                   sonar=SonarSettings(enabled=True, host="http://s:9000",
                                                       scanner_version="6.2.1.4610")),
                 id="flutter-sonar-scanner6"),
]


def _commands(doc: dict) -> list[str]:
    """Every command in the order CodeBuild runs them (finally after commands)."""
    found = []
    for phase in ("install", "pre_build", "build", "post_build"):
        body = doc["phases"].get(phase) or {}
        found += body.get("commands") or []
        found += body.get("finally") or []
    return found


def _bash_syntax(script: str) -> str:
    result = run(["bash", "-n", "-c", script], timeout=30)
    return "" if result.ok else result.output


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_rendered_command_is_valid_bash(component: ComponentSettings) -> None:
    text = render_text(component, "components.yml")
    doc = yaml.safe_load(text)
    assert doc["env"]["shell"] == "bash"
    commands = _commands(doc)
    assert all(isinstance(c, str) for c in commands)
    for command in commands:
        assert _bash_syntax(command) == "", command
    # One shell runs them all in turn: together they must parse too.
    assert _bash_syntax("\n".join(commands)) == ""
    report = validate_text(text, "rendered.yml")
    assert report.problems == [], "\n".join(report.text_lines())


@pytest.mark.parametrize("component", COMPONENTS)
def test_pipes_are_guarded(component: ComponentSettings) -> None:
    # A pipe outside $(...) hides the left side's failure unless pipefail is set first.
    doc = yaml.safe_load(render_text(component, "components.yml"))
    pipefail = False
    for command in _commands(doc):
        outside = re.sub(r"\$\([^)]*\)", "", command)
        if re.search(r"(?<!\|)\|(?!\|)", outside):
            assert pipefail, f"pipe without set -o pipefail: {command}"
        pipefail = pipefail or "set -o pipefail" in command


def test_rendered_examples_pass_the_cli_strictly() -> None:
    hdhooks = str(Path(os.sys.executable).parent / "hdhooks")
    examples = sorted((ROOT / "buildspecs").glob("*.buildspec.yml"))
    assert len(examples) >= 4
    for path in examples:
        result = run([hdhooks, "buildspec", "validate", "--strict", str(path)], timeout=60)
        assert result.returncode == 0, result.output


def test_documented_gate_example_validates() -> None:
    # docs/sonar.md shows the gate in a buildspec; what it teaches must pass the validator.
    text = (ROOT / "docs" / "sonar.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    report = validate_text(block.group(1), "docs/sonar.md")
    assert report.problems == [], "\n".join(report.text_lines())


def _install_step(component: ComponentSettings, marker: str) -> str:
    doc = yaml.safe_load(render_text(component, "x.yml"))
    steps = [c for c in doc["phases"]["install"]["commands"] if marker in c]
    assert len(steps) == 1
    return str(steps[0])


def _stand_in(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_flutter_sdk_is_cloned_once_per_pinned_version(tmp_path: Path) -> None:
    step = _install_step(ComponentSettings("web", "flutter", flutter_version="3.24.3"),
                         "git clone")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "git.log"
    # The clone target is the last argument; the stand-in only makes the folder.
    _stand_in(bin_dir, "git", f'echo "$*" >> {log}\nfor a; do last=$a; done\n'
                              'mkdir -p "$last/bin" "$last/.git"\n')
    home = tmp_path / "flutter"

    def install(version: str) -> None:
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FLUTTER_HOME": str(home),
               "FLUTTER_VERSION": version}
        result = run(["bash", "-c", step], env=env, timeout=30)
        assert result.ok, result.output

    install("3.24.3")
    (home / "bin" / "kept-from-cache").write_text("x")
    install("3.24.3")  # restored from the cache: not cloned again
    clones = log.read_text().splitlines()
    assert clones == [f"clone --quiet --depth 1 --branch 3.24.3 "
                      f"https://github.com/flutter/flutter.git {home}"]
    assert (home / "bin" / "kept-from-cache").exists()
    install("3.27.1")  # a new pin: a fresh clone, nothing of the old SDK left
    assert log.read_text().splitlines()[-1].startswith("clone --quiet --depth 1 --branch 3.27.1")
    assert not (home / "bin" / "kept-from-cache").exists()
    assert (home / ".pinned-version").read_text().strip() == "3.27.1"
    (home / ".git").rmdir()  # a cache restore that lost the SDK's git metadata
    install("3.27.1")
    assert len(log.read_text().splitlines()) == 3
    assert (home / ".git").is_dir()


def _scanner_zip(tmp_path: Path, version: str) -> Path:
    archive = tmp_path / "scanner.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo(f"sonar-scanner-{version}-linux/bin/sonar-scanner")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\necho scanner\n")
    return archive


def test_scanner_install_replaces_a_broken_cached_copy(tmp_path: Path) -> None:
    # A cache restore can bring the folder back without its executable bit; the step
    # must replace it, not unpack the new one inside it as /opt/sonar-scanner/sonar-...
    version = "5.0.1.3006"
    component = ComponentSettings("web", "flutter", flutter_version="3.24.3", sonar=SONAR)
    opt = tmp_path / "opt"
    step = _install_step(component, "sonar-scanner.zip").replace("/opt", str(opt))
    step = step.replace("/tmp/sonar-scanner.zip", str(tmp_path / "dl.zip"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    archive = _scanner_zip(tmp_path, version)
    _stand_in(bin_dir, "curl", f'for a; do [ "$prev" = -o ] && cp {archive} "$a"; prev=$a; '
                               "done\n")
    broken = opt / "sonar-scanner" / "bin"
    broken.mkdir(parents=True)
    (broken / "sonar-scanner").write_text("not executable")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = run(["bash", "-c", step], env=env, timeout=30)
    assert result.ok, result.output
    scanner = opt / "sonar-scanner" / "bin" / "sonar-scanner"
    assert os.access(scanner, os.X_OK)
    assert run([str(scanner)], timeout=10).output.strip() == "scanner"
    assert sorted(p.name for p in opt.iterdir()) == ["sonar-scanner"]
