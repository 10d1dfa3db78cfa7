"""Component build settings: one component's YAML, or a manifest of many.

A component file holds one mapping (``name``, ``kind``, ...). A manifest holds
``defaults`` and ``components``; each component is its defaults overlaid with
its own keys (``sonar`` and ``env`` merge key by key). Values keep the position
where they were written, so a problem points at the defaults or at the
component, wherever the bad value came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hdhooks.build.install import InstallSource, default_source, read_install
from hdhooks.errors import ConfigError
from hdhooks.yamlsrc.checks import type_error, unknown_keys
from hdhooks.yamlsrc.loader import HDHOOKS, load, read_file
from hdhooks.yamlsrc.merge import merge_nodes
from hdhooks.yamlsrc.node import YNode
from hdhooks.yamlsrc.problems import ERROR, Problem, Report

KINDS = ("maven", "flutter")
JAVA_VERSIONS = (8, 11, 17, 21)
COMPONENT_KEYS = ("name", "kind", "build_info", "java_version", "flutter_version", "python_version",
                  "module", "artifact", "appspec", "hooks_dir", "config_dir",
                  "hdhooks_install", "env", "sonar")
# Read by hdhooks.provision.manifest from the same file; ignored by the build.
PROVISION_TOP_KEYS = ("platform", "parameters", "accounts")
PROVISION_COMPONENT_KEY = "provision"
SONAR_KEYS = ("enabled", "project_key", "host", "token_secret", "timeout", "ca_bundle",
              "scanner_version", "maven_plugin_version")
RESERVED_ENV = ("COMPONENT", "HDHOOKS_INSTALL", "HDHOOKS", "SONAR_HOST_URL", "SONAR_TOKEN",
                "SONAR_PROJECT_KEY", "QUALITY_GATE_STATUS", "FLUTTER_HOME", "MAVEN_OPTS")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
_PYTHON_RE = re.compile(r"^3\.(1[0-9])$")
_KEY_RE = re.compile(r"^(?=.*[A-Za-z_.:-])[A-Za-z0-9_.:-]{1,400}$")
_JAR_RE = re.compile(r"^[A-Za-z0-9._-]+\.jar$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SAFE_RE = re.compile(r"^[^\s'\"`$\\;&|<>]+$")  # pasted into shell words unquoted


@dataclass(frozen=True)
class SonarSettings:
    """The SonarQube step: analysis then ``hdhooks sonar gate``."""

    enabled: bool = False
    project_key: str = ""
    host: str = ""
    token_secret: str = "sonarqube/ci-token:token"
    timeout: int = 300
    ca_bundle: str = ""
    scanner_version: str = "5.0.1.3006"
    # Pinned, as SonarSource advises: a bare ``sonar:sonar`` takes whatever is newest.
    maven_plugin_version: str = "5.0.0.4389"


@dataclass(frozen=True)
class ComponentSettings:
    """Everything a buildspec template needs for one component."""

    name: str
    kind: str
    java_version: int = 17
    flutter_version: str = ""
    python_version: str = "3.11"
    module: str = "."
    artifact: str = "app.jar"
    appspec: str = "appspec.yml"
    hooks_dir: str = "hooks"
    config_dir: str = "deploy"
    hdhooks_install: InstallSource = field(default_factory=default_source)
    # maven: the build id becomes the project version and build-info.properties
    # (Spring Boot's /actuator/info build.version)
    build_info: bool = True
    env: tuple[tuple[str, str], ...] = ()
    sonar: SonarSettings = field(default_factory=SonarSettings)


class SettingsInvalid(ConfigError):
    """The settings file has errors; every one is listed, with its position."""

    def __init__(self, report: Report) -> None:
        count = len(report.errors)
        super().__init__(f"{report.file}: {count} error{'s' if count != 1 else ''} in the "
                         "component settings")
        self.report = report

    def details(self) -> list[str]:
        return self.report.text_lines()


def load_settings(path: str) -> tuple[list[ComponentSettings], Report]:
    """Read a component file or a manifest; raises SettingsInvalid on any error."""
    components, report = parse_settings(read_file(path), path)
    if report.errors:
        raise SettingsInvalid(report)
    return components, report


def parse_settings(text: str, file: str) -> tuple[list[ComponentSettings], Report]:
    """Components found in ``text`` and the report of what is wrong with it."""
    report = Report(file)
    doc = load(text, HDHOOKS)
    report.extend(doc.problems)
    if doc.empty:
        report.add(Problem(ERROR, "the settings file is empty", "settings-empty"))
    if doc.root is None or not doc.ok:
        return [], report
    root = doc.root
    if not root.is_map:
        type_error(root, "a mapping", report.problems, code="settings-type", what="settings")
        return [], report
    if root.get("components") is not None or root.get("defaults") is not None:
        return _parse_manifest(root, report), report
    component = _Reader(report).component(dict(root.items()), root)
    return ([component] if component else []), report


def _parse_manifest(root: YNode, report: Report) -> list[ComponentSettings]:
    _unknown_keys(root, ("defaults", "components", *PROVISION_TOP_KEYS), "a manifest", report)
    defaults = root.get("defaults")
    base = YNode("map", {}, root.line, root.column, "defaults", tag="map")
    if defaults is not None:
        if defaults.is_map:
            _unknown_keys(defaults, COMPONENT_KEYS[1:], "defaults", report)
            base = defaults
        else:
            type_error(defaults, "a mapping", report.problems, code="settings-type",
                       what="defaults")
    listed = root.get("components")
    if listed is None or not listed.is_seq or not listed.children():
        where = listed or root
        report.add(where.error("settings-components",
                               "components must be a non-empty list of component mappings"))
        return []
    found: list[ComponentSettings] = []
    seen: dict[str, int] = {}
    reader = _Reader(report)
    for item in listed.children():
        if not item.is_map:
            type_error(item, "a mapping", report.problems, code="settings-type",
                       what="a component")
            continue
        merged = merge_nodes(base, item, nested=("sonar", "env"), null_removes=False,
                             at_over=True)
        component = reader.component(dict(merged.items()), item)
        if component is None:
            continue
        if component.name in seen:
            report.add(item.error("settings-duplicate",
                                  f"component '{component.name}' is already defined at "
                                  f"line {seen[component.name]}"))
            continue
        seen[component.name] = item.line
        found.append(component)
    return found


def _unknown_keys(node: YNode, allowed: tuple[str, ...], what: str, report: Report) -> None:
    unknown_keys(node, allowed, report.problems, code="settings-unknown-key", what=what)


class _Reader:
    """Turns one component's merged nodes into ComponentSettings, noting problems."""

    def __init__(self, report: Report) -> None:
        self.report = report

    def fail(self, node: YNode, message: str) -> None:
        self.report.add(node.error("settings-value", message))

    def component(self, nodes: dict[str, YNode], at: YNode) -> ComponentSettings | None:
        before = len(self.report.errors)
        own = YNode("map", nodes, at.line, at.column, at.path, tag="map",
                    keys={k: at.key_node(k) or v for k, v in nodes.items()})
        _unknown_keys(own, (*COMPONENT_KEYS, PROVISION_COMPONENT_KEY), "a component",
                      self.report)
        name = self.text(nodes, "name", at, _NAME_RE, "lowercase letters, digits and -")
        kind = self.text(nodes, "kind", at, None, "")
        if kind and kind not in KINDS:
            self.fail(nodes["kind"], f"kind must be maven or flutter, not '{kind}'")
        values = {
            "java_version": self.java(nodes.get("java_version")),
            "flutter_version": self.version(nodes, "flutter_version", at, kind == "flutter"),
            "python_version": self.text(nodes, "python_version", at, _PYTHON_RE,
                                        "3.10 or later, quoted: \"3.11\"", "3.11"),
            "module": self.path(nodes, "module", "."),
            "artifact": self.text(nodes, "artifact", at, _JAR_RE, "a file name ending in .jar",
                                  "app.jar"),
            "appspec": self.path(nodes, "appspec", "appspec.yml"),
            "hooks_dir": self.path(nodes, "hooks_dir", "hooks"),
            "config_dir": self.path(nodes, "config_dir", "deploy"),
            "hdhooks_install": read_install(nodes.get("hdhooks_install"), self.fail,
                                            self.unknown),
            "build_info": self.flag(nodes.get("build_info"), "build_info", True),
            "env": self.env(nodes.get("env")),
            "sonar": self.sonar(nodes.get("sonar"), name),
        }
        sonar = values["sonar"]
        if kind == "maven" and isinstance(sonar, SonarSettings) and sonar.enabled \
                and values["java_version"] == 8:
            self.fail(nodes.get("java_version") or at,
                      "SonarScanner for Maven 4 and later does not run on Java 8: set "
                      "java_version to 11 or later (17 for SonarQube 10), or sonar.enabled: "
                      "false")
        if len(self.report.errors) > before:
            return None
        return ComponentSettings(name=name, kind=kind, **values)  # type: ignore[arg-type]

    def unknown(self, node: YNode, allowed: tuple[str, ...], what: str) -> None:
        _unknown_keys(node, allowed, what, self.report)

    def flag(self, node: YNode | None, key: str, default: bool) -> bool:
        if node is None:
            return default
        if node.tag != "bool":
            self.fail(node, f"{key} must be true or false")
            return default
        return bool(node.value)

    def text(self, nodes: dict[str, YNode], key: str, at: YNode, pattern: re.Pattern[str] | None,
             expected: str, default: str | None = None) -> str:
        node = nodes.get(key)
        if node is None:
            if default is None:
                self.fail(at, f"the component needs '{key}'")
                return ""
            return default
        if node.is_scalar and node.tag == "float" and node.raw != str(node.value):
            self.fail(node, f"{key}: unquoted {node.raw} is read as the number {node.value}; "
                            f"quote it: \"{node.raw}\"")
            return ""
        if not node.is_scalar or node.is_null or node.tag == "bool":
            type_error(node, "a string", self.report.problems, code="settings-value", what=key)
            return ""
        value = node.text()
        if pattern is not None and not pattern.match(value):
            self.fail(node, f"{key} '{value}' is not valid: expected {expected}")
        return value

    def version(self, nodes: dict[str, YNode], key: str, at: YNode, needed: bool) -> str:
        if key not in nodes and not needed:
            return ""
        return self.text(nodes, key, at, _VERSION_RE, "a pinned version such as \"3.24.3\"")

    def path(self, nodes: dict[str, YNode], key: str, default: str) -> str:
        node = nodes.get(key)
        if node is None:
            return default
        value = node.text() if node.is_str else ""
        parts = value.split("/")
        if not value or value.startswith("/") or ".." in parts or not _SAFE_RE.match(value):
            self.fail(node, f"{key} must be a relative path inside the source, without "
                            "'..', spaces or quotes")
        return value.rstrip("/") or default

    def java(self, node: YNode | None) -> int:
        if node is None:
            return 17
        value = node.value if node.tag in ("int", "str") else None
        if str(value) not in {str(v) for v in JAVA_VERSIONS}:
            self.fail(node, f"java_version must be one of {', '.join(map(str, JAVA_VERSIONS))} "
                            f"(Amazon Corretto), not {node.raw or node.kind_name()}")
            return 17
        return int(str(value))

    def env(self, node: YNode | None) -> tuple[tuple[str, str], ...]:
        if node is None:
            return ()
        if not node.is_map:
            type_error(node, "a mapping of NAME: value", self.report.problems,
                       code="settings-value", what="env")
            return ()
        pairs = []
        for name, value in node.items():
            where = node.key_node(name) or value
            if not _ENV_RE.match(name) or name.startswith(("CODEBUILD_", "AWS_")):
                self.fail(where, f"env name '{name}' is not allowed: letters, digits and _, "
                                 "not starting with CODEBUILD_ or AWS_")
            elif name in RESERVED_ENV:
                self.fail(where, f"env name '{name}' is set by the template itself")
            if not value.is_scalar or value.is_null or value.tag == "bool":
                self.fail(value, f"env.{name} must be a string (quote yes/no/on/off), "
                                 f"not {value.kind_name()}")
                continue
            pairs.append((name, value.text()))
        return tuple(pairs)

    def sonar(self, node: YNode | None, name: str) -> SonarSettings:
        if node is None:
            return SonarSettings()
        if not node.is_map:
            type_error(node, "a mapping (enabled, project_key, host, ...)", self.report.problems,
                       code="settings-value", what="sonar")
            return SonarSettings()
        _unknown_keys(node, SONAR_KEYS, "sonar", self.report)
        nodes = dict(node.items())
        enabled_node = nodes.get("enabled")
        enabled = bool(enabled_node.value) if enabled_node is not None else False
        if enabled_node is not None and enabled_node.tag != "bool":
            self.fail(enabled_node, "sonar.enabled must be true or false")
        host = self.text(nodes, "host", node, re.compile(r"^https?://[^\s'\"]+$"),
                         "an http:// or https:// URL", None if enabled else "")
        timeout_node = nodes.get("timeout")
        timeout = 300
        if timeout_node is not None:
            if timeout_node.tag != "int" or not 0 < int(timeout_node.value) <= 3600:
                self.fail(timeout_node, "sonar.timeout must be seconds, 1..3600")
            else:
                timeout = int(timeout_node.value)
        return SonarSettings(
            enabled=enabled,
            project_key=self.text(nodes, "project_key", node, _KEY_RE,
                                  "letters, digits, -, _, . and :", name),
            host=host.rstrip("/"),
            token_secret=self.text(nodes, "token_secret", node, _SAFE_RE,
                                   "secret-id[:json-key]", SonarSettings.token_secret),
            timeout=timeout,
            ca_bundle=self.text(nodes, "ca_bundle", node, _SAFE_RE,
                                "a path without spaces or quotes", ""),
            scanner_version=self.text(nodes, "scanner_version", node,
                                      re.compile(r"^\d+(\.\d+)+$"), "a version such as 5.0.1.3006",
                                      SonarSettings.scanner_version),
            maven_plugin_version=self.text(nodes, "maven_plugin_version", node,
                                           re.compile(r"^\d+(\.\d+)+$"),
                                           "a version such as 5.0.0.4389",
                                           SonarSettings.maven_plugin_version),
        )

