"""Rendering buildspecs: every template, representative components, all valid."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import yaml

from hdhooks.build.buildspec.validate import validate_text
from hdhooks.build.render import (
    SUFFIX,
    RenderedInvalid,
    render_components,
    render_text,
    select,
)
from hdhooks.build.settings import (
    ComponentSettings,
    SettingsInvalid,
    SonarSettings,
    load_settings,
    parse_settings,
)
from hdhooks.errors import InputError
from hdhooks.proc import run

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "examples" / "components.yml"
SONAR = SonarSettings(enabled=True, project_key="shop:orders", host="https://sonar.test",
                      ca_bundle="/etc/pki/sonar.pem", timeout=120)
TRICKY_ENV = (("GREETING", "hello: world"), ("FLAG", "yes"), ("PY", "3.10"),
              ("GLOB", "*.jar"), ("HASH", "a #b"), ("QUOTES", "it's \"x\""))

REPRESENTATIVE = [
    pytest.param(ComponentSettings("orders-service", "maven", sonar=SONAR), id="maven-sonar"),
    pytest.param(ComponentSettings("batch-job", "maven", java_version=8), id="maven-plain"),
    pytest.param(ComponentSettings("catalog", "maven", module="catalog-app", env=TRICKY_ENV,
                                   sonar=SONAR), id="maven-module-env"),
    pytest.param(ComponentSettings("storefront-web", "flutter", flutter_version="3.24.3",
                                   sonar=SONAR), id="flutter-sonar"),
    pytest.param(ComponentSettings("status-page", "flutter", flutter_version="3.22.3",
                                   env=TRICKY_ENV), id="flutter-plain"),
    pytest.param(ComponentSettings("new-web", "flutter", flutter_version="3.24.3",
                                   sonar=SonarSettings(enabled=True, host="http://s:9000",
                                                       project_key="w",
                                                       scanner_version="6.2.1.4610")),
                 id="flutter-scanner6"),
]


@pytest.mark.parametrize("component", REPRESENTATIVE)
def test_rendered_buildspec_is_clean(component: ComponentSettings) -> None:
    text = render_text(component, "components.yml")
    report = validate_text(text, "rendered.yml")
    assert report.problems == [], "\n".join(report.text_lines())
    doc = yaml.safe_load(text)
    assert doc["artifacts"]["files"][0] == "appspec.yml"
    assert doc["artifacts"]["base-directory"] == "bundle"
    variables = doc["env"]["variables"]
    assert variables["COMPONENT"] == component.name
    for name, value in component.env:
        assert variables[name] == value  # exactly the string, whatever YAML would do
    runtimes = doc["phases"]["install"]["runtime-versions"]
    assert runtimes["python"] == "3.11"
    commands = " ".join(doc["phases"]["build"]["commands"])
    if component.sonar.enabled:
        assert "sonar gate" in commands
        assert doc["env"]["exported-variables"] == ["QUALITY_GATE_STATUS"]
        assert doc["env"]["secrets-manager"]["SONAR_TOKEN"] == component.sonar.token_secret
    else:
        assert "sonar" not in text.lower()


def test_maven_specifics() -> None:
    c = ComponentSettings("orders-service", "maven", java_version=21, module="svc",
                          artifact="orders.jar", sonar=SONAR)
    doc = yaml.safe_load(render_text(c, "x.yml"))
    assert doc["phases"]["install"]["runtime-versions"]["java"] == "corretto21"
    assert "mvn -B -ntp -f svc/pom.xml verify" in doc["phases"]["build"]["commands"]
    assert doc["reports"]["unit-tests"]["base-directory"] == "svc/target/surefire-reports"
    assert doc["reports"]["coverage"]["file-format"] == "JACOCOXML"
    assert "orders.jar" in doc["artifacts"]["files"]
    assert "'/root/.m2/**/*'" in render_text(c, "x.yml")
    # The plugin pinned by its full coordinates: a bare sonar:sonar takes the newest.
    assert doc["phases"]["build"]["commands"][1].startswith(
        "mvn -B -ntp -f svc/pom.xml org.sonarsource.scanner.maven:sonar-maven-plugin:"
        f"{SONAR.maven_plugin_version}:sonar ")
    gate = doc["phases"]["build"]["commands"][2]
    assert "--report-task svc/target/sonar/report-task.txt" in gate
    assert "--ca-bundle /etc/pki/sonar.pem" in gate and "--timeout 120" in gate


def test_flutter_specifics() -> None:
    c = ComponentSettings("web", "flutter", flutter_version="3.24.3", sonar=SONAR)
    doc = yaml.safe_load(render_text(c, "x.yml"))
    assert doc["env"]["variables"]["FLUTTER_VERSION"] == "3.24.3"
    assert any("tojunit" in f for f in doc["phases"]["build"]["finally"])
    assert "flutter build web --release" in doc["phases"]["build"]["commands"]
    assert "build/web/**/*" in doc["artifacts"]["files"]
    assert "/root/.pub-cache/**/*" in doc["cache"]["paths"]
    assert any(".scannerwork/report-task.txt" in cmd
               for cmd in doc["phases"]["build"]["commands"])


def _bundle_script(component: ComponentSettings) -> str:
    doc = yaml.safe_load(render_text(component, "x.yml"))
    return str(doc["phases"]["post_build"]["commands"][0])


def _source_tree(tmp_path: Path, jars: list[str]) -> None:
    (tmp_path / "target").mkdir()
    for jar in jars:
        (tmp_path / "target" / jar).write_text("jar")
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    (tmp_path / "deploy" / "hdhooks.yml").write_text("name: x\n")
    (tmp_path / "hooks").mkdir()
    shim = tmp_path / "hooks" / "before-install.sh"
    shim.write_text("#!/bin/sh\n")
    shim.chmod(0o755)


def _run_bundle(script: str, tmp_path: Path, succeeding: str) -> tuple[int, str]:
    env = {"PATH": os.environ["PATH"], "CODEBUILD_BUILD_SUCCEEDING": succeeding}
    result = run(["bash", "-c", script], env=env, cwd=str(tmp_path), timeout=30)
    return result.returncode, result.output


def test_maven_bundle_step_really_assembles_the_bundle(tmp_path: Path) -> None:
    c = ComponentSettings("svc", "maven", appspec="deploy/appspec.yml", artifact="svc.jar")
    _source_tree(tmp_path, ["svc-1.0.jar", "svc-1.0-plain.jar", "svc-1.0-sources.jar"])
    code, output = _run_bundle(_bundle_script(c), tmp_path, "1")
    assert code == 0, output
    bundle = tmp_path / "bundle"
    assert (bundle / "appspec.yml").is_file()
    assert (bundle / "svc.jar").read_text() == "jar"
    assert (bundle / "deploy" / "hdhooks.yml").is_file()
    assert os.access(bundle / "hooks" / "before-install.sh", os.X_OK)


def test_maven_bundle_step_refuses_two_jars(tmp_path: Path) -> None:
    c = ComponentSettings("svc", "maven", appspec="deploy/appspec.yml")
    _source_tree(tmp_path, ["a.jar", "b.jar"])
    code, output = _run_bundle(_bundle_script(c), tmp_path, "1")
    assert code != 0
    assert "expected one application jar" in output
    assert not (tmp_path / "bundle" / "app.jar").exists()


def test_bundle_step_skipped_after_failed_build(tmp_path: Path) -> None:
    c = ComponentSettings("svc", "maven", appspec="deploy/appspec.yml")
    _source_tree(tmp_path, ["a.jar"])
    code, output = _run_bundle(_bundle_script(c), tmp_path, "0")
    assert code == 0
    assert "no bundle is assembled" in output
    assert not (tmp_path / "bundle").exists()


def test_manifest_renders_every_component_clean() -> None:
    components, report = load_settings(str(MANIFEST))
    assert report.problems == []
    assert len(components) >= 26
    kinds = {c.kind for c in components}
    assert kinds == {"maven", "flutter"}
    rendered = render_components(components, str(MANIFEST))
    assert len(rendered) == len(components)
    by_name = {c.name: c for c in components}
    assert by_name["payments-service"].sonar.project_key == "shop:payments-service"
    assert by_name["payments-service"].sonar.host == "https://sonar.build.example.internal"
    assert not by_name["status-page"].sonar.enabled
    assert by_name["auth-gateway"].sonar.timeout == 600


def test_examples_in_buildspecs_folder_are_up_to_date() -> None:
    components, _ = load_settings(str(MANIFEST))
    examples = sorted((ROOT / "buildspecs").glob(f"*{SUFFIX}"))
    assert len(examples) >= 4
    for path in examples:
        name = path.name[: -len(SUFFIX)]
        (component,) = select(components, name)
        assert path.read_text(encoding="utf-8") == render_text(component, str(MANIFEST)), (
            f"{path} is out of date: see buildspecs/README.md to render it again")


def test_unknown_component_name() -> None:
    components, _ = load_settings(str(MANIFEST))
    with pytest.raises(InputError, match="no component named 'nope'"):
        select(components, "nope")


def test_invalid_rendering_is_refused() -> None:
    # Settings files cannot produce this (the name is refused there); library use can.
    bad = ComponentSettings("x", "maven", env=(("CODEBUILD_X", "1"),))
    with pytest.raises(RenderedInvalid) as info:
        render_components([bad], "x.yml")
    assert any("CODEBUILD_" in line for line in info.value.details())


# (id, settings text, message fragment, line)
ONE = "components:\n  - {name: a, kind: maven}\n"
BAD_SETTINGS = [
    ("missing name", "kind: maven\n", "needs 'name'", 1),
    ("bad name", "name: Orders_Service\nkind: maven\n", "lowercase letters", 1),
    ("bad kind", "name: a\nkind: gradle\n", "kind must be maven or flutter", 2),
    ("flutter without version", "name: a\nkind: flutter\n", "needs 'flutter_version'", 1),
    ("flutter version float", "name: a\nkind: flutter\nflutter_version: 3.10\n",
     "read as the number 3.1", 3),
    ("flutter version unpinned", "name: a\nkind: flutter\nflutter_version: stable\n",
     "a pinned version", 3),
    ("java 16", "name: a\nkind: maven\njava_version: 16\n", "java_version must be one of", 3),
    ("python 3.9", "name: a\nkind: maven\npython_version: \"3.9\"\n", "3.10 or later", 3),
    ("unknown key", "name: a\nkind: maven\nhook_dir: hooks\n", "did you mean 'hooks_dir'", 3),
    ("env reserved", "name: a\nkind: maven\nenv:\n  CODEBUILD_X: a\n", "not allowed", 4),
    ("env yes", "name: a\nkind: maven\nenv:\n  FLAG: yes\n", "quote yes/no", 4),
    ("path escapes", "name: a\nkind: maven\nhooks_dir: ../hooks\n", "relative path", 3),
    ("sonar without host", "name: a\nkind: maven\nsonar:\n  enabled: true\n", "needs 'host'",
     4),
    ("sonar bad host", "name: a\nkind: maven\nsonar:\n  enabled: true\n  host: sonar.local\n",
     "http:// or https://", 5),
    ("sonar enabled string", "name: a\nkind: maven\nsonar:\n  enabled: 'true'\n",
     "true or false", 4),
    ("sonar on java 8", "name: a\nkind: maven\njava_version: 8\nsonar:\n  enabled: true\n"
     "  host: https://s\n", "does not run on Java 8", 3),
    ("sonar plugin version", "name: a\nkind: maven\nsonar:\n  maven_plugin_version: latest\n",
     "a version such as 5.0.0.4389", 4),
    ("manifest empty list", "defaults: {}\ncomponents: []\n", "non-empty list", 2),
    ("manifest duplicate", "components:\n  - {name: a, kind: maven}\n  - {name: a, kind: maven}\n",
     "already defined at line 2", 3),
    ("manifest bad default", "defaults:\n  java_version: 9\n" + ONE,
     "java_version must be one of", 2),
    ("manifest unknown default", "defaults:\n  nam: x\n" + ONE,
     "unknown key 'nam' in defaults", 2),
    ("yaml error", "name: [a\n", "YAML syntax error", 2),
    ("alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefg", "bcdefgh",
                                                                    strict=True))
     + "name: a\nkind: maven\n", "alias bomb", 2),
    ("empty", "", "the settings file is empty", 0),
]


@pytest.mark.parametrize(("text", "fragment", "line"),
                         [pytest.param(t, f, n, id=i) for i, t, f, n in BAD_SETTINGS])
def test_bad_settings(text: str, fragment: str, line: int) -> None:
    _, report = parse_settings(text, "settings.yml")
    shown = "\n".join(report.text_lines())
    matching = [p for p in report.errors if fragment in p.message]
    assert matching, shown
    assert matching[0].line == line, shown


def test_settings_error_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(textwrap.dedent("""\
        name: a
        kind: flutter
        flutter_version: 3.10
        java_version: 16
        """))
    with pytest.raises(SettingsInvalid) as info:
        load_settings(str(path))
    assert info.value.exit_code == 2
    details = info.value.details()
    assert len(details) == 2
    assert details[0].startswith(f"{path}:3:")
