"""The provisioning part of the manifest: accounts, regions and every component's fleet.

The build settings (``defaults``, ``components``) are read by
:mod:`hdhooks.build.settings`; this module reads ``platform``,
``parameters`` and ``accounts`` and each component's ``provision`` mapping
from the same file, with the same positions, and resolves the parameter
hierarchy (global -> environment -> component -> component in that
environment) for every component in every environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hdhooks.build.settings import ComponentSettings, SettingsInvalid, parse_settings
from hdhooks.errors import ConfigError
from hdhooks.provision import schema
from hdhooks.yamlsrc.checks import INVALID, check_section, type_error
from hdhooks.yamlsrc.loader import HDHOOKS, load, read_file
from hdhooks.yamlsrc.merge import merge_nodes
from hdhooks.yamlsrc.node import YNode
from hdhooks.yamlsrc.problems import Problem, Report

DEFAULT_PORTS = {"maven": 8080, "flutter": 80}
DEFAULT_HEALTH = {"maven": "/health", "flutter": "/"}


@dataclass(frozen=True)
class Alarms:
    p99_latency_ms: int
    target_5xx: int
    unhealthy_hosts: int
    hook_failures: int


@dataclass(frozen=True)
class Fleet:
    """A component's settings in one environment, the hierarchy resolved."""

    instance_type: str
    min_size: int
    desired_capacity: int
    max_size: int
    deployment_config: str
    traffic: str
    approval: bool
    build_compute: str
    alarms: Alarms


@dataclass(frozen=True)
class Region:
    name: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    certificate_arn: str
    connection_arn: str
    ami_id: str
    ami_parameter: str


@dataclass(frozen=True)
class Account:
    """One environment: its own AWS account, its branch, its regions."""

    environment: str
    account_id: str
    branch: str
    source_branch: str
    domain: str
    hosted_zone_id: str
    regions: tuple[Region, ...]


@dataclass(frozen=True)
class Component:
    """What is provisioned for one component; ``fleets`` is keyed by environment."""

    build: ComponentSettings
    port: int
    health_path: str
    repository: str
    priority: int
    fleets: dict[str, Fleet]

    @property
    def name(self) -> str:
        return self.build.name


@dataclass(frozen=True)
class Manifest:
    path: str
    platform: str
    workspace: str
    build_image: str
    accounts: tuple[Account, ...]
    components: tuple[Component, ...]

    def account(self, environment: str) -> Account:
        for account in self.accounts:
            if account.environment == environment:
                return account
        known = ", ".join(a.environment for a in self.accounts)
        raise ConfigError(f"{self.path}: no account for environment '{environment}'",
                          hint=f"known: {known}")


class ManifestInvalid(SettingsInvalid):
    """The manifest has errors; every one is listed with its position."""

    def __init__(self, report: Report) -> None:
        super().__init__(report)
        count = len(report.errors)
        self.message = f"{report.file}: {count} error{'s' if count != 1 else ''} in the manifest"


def load_manifest(path: str) -> Manifest:
    """Read and check a manifest; raises ManifestInvalid listing every problem."""
    manifest, report = parse_manifest(read_file(path), path)
    if manifest is None or report.errors:
        raise ManifestInvalid(report)
    return manifest


def parse_manifest(text: str, file: str) -> tuple[Manifest | None, Report]:
    """The manifest in ``text`` and the report of what is wrong with it."""
    builds, report = parse_settings(text, file)
    doc = load(text, HDHOOKS)
    root = doc.root
    if root is None or not doc.ok or not root.is_map:
        return None, report
    problems: list[Problem] = []
    reader = _Reader(problems)
    platform = check_section(_need(root, "platform", problems), schema.PLATFORM, problems)
    accounts = reader.accounts(_need(root, "accounts", problems))
    components = reader.components(root, builds, accounts)
    seen = set()
    for problem in problems:  # a bad global value is found once per component
        key = (problem.line, problem.column, problem.message)
        if key not in seen:
            seen.add(key)
            report.add(problem)
    if platform is INVALID or report.errors:
        return None, report
    return Manifest(file, platform["name"], platform["bitbucket_workspace"],
                    platform["build_image"], tuple(accounts), tuple(components)), report


def _need(root: YNode, key: str, problems: list[Problem]) -> YNode:
    node = root.get(key)
    if node is None:
        problems.append(root.error("provision-missing", f"the manifest needs '{key}' to "
                                   "provision (see docs/provision.md)"))
        return YNode("map", {}, root.line, root.column, key, tag="map")
    return node


def _empty(at: YNode, path: str) -> YNode:
    return YNode("map", {}, at.line, at.column, path, tag="map")


class _Reader:
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems

    def accounts(self, node: YNode) -> list[Account]:
        if not node.is_map or not node.value:
            type_error(node, "a mapping of environment names to accounts", self.problems,
                       code="provision-type")
            return []
        found: list[Account] = []
        owners: dict[str, str] = {}
        for env, item in node.items():
            where = node.key_node(env) or item
            if not re.fullmatch(schema.ENV_RE, env):
                self.problems.append(where.error("provision-value", f"environment '{env}' "
                                     "must be 1-10 lower-case letters and digits"))
                continue
            account = self.account(env, item)
            if account is None:
                continue
            if account.account_id in owners:
                self.problems.append((item.get("account_id") or item).error(
                    "provision-isolation", f"environment '{env}' uses account "
                    f"{account.account_id} of '{owners[account.account_id]}': each "
                    "environment needs its own AWS account"))
            owners[account.account_id] = env
            found.append(account)
        return found

    def account(self, env: str, node: YNode) -> Account | None:
        values = check_section(node, schema.ACCOUNT, self.problems)
        if values is INVALID:
            return None
        branch = values.get("branch") or schema.BRANCHES.get(env)
        if branch is None:
            self.problems.append(node.error("provision-missing", f"accounts.{env} needs "
                                            "'branch' (the git branch it deploys from)"))
            return None
        source = values.get("source_branch") or ("" if "*" in branch else branch)
        if not source:
            self.problems.append(node.error("provision-missing", f"accounts.{env}: branch "
                                            f"'{branch}' is a glob; give source_branch, the "
                                            "branch a manual run builds"))
            return None
        regions = self.regions(values["regions"])
        if not regions:
            return None
        return Account(env, values["account_id"], branch, source, values["domain"],
                       values["hosted_zone_id"], tuple(regions))

    def regions(self, node: YNode) -> list[Region]:
        if not node.is_map or not node.value:
            type_error(node, "a mapping of region names to their network settings",
                       self.problems, code="provision-type")
            return []
        found = []
        for name, item in node.items():
            if not re.fullmatch(schema.REGION_RE, name):
                self.problems.append((node.key_node(name) or item).error(
                    "provision-value", f"'{name}' is not an AWS region name"))
                continue
            values = check_section(item, schema.REGION, self.problems)
            if values is INVALID:
                continue
            if bool(values.get("ami_id")) == bool(values.get("ami_parameter")):
                self.problems.append(item.error("provision-ami", f"region {name}: give "
                                     "ami_id or ami_parameter (one of them)"))
                continue
            found.append(Region(name, values["vpc_id"], tuple(values["subnet_ids"]),
                                values["certificate_arn"], values["connection_arn"],
                                values.get("ami_id") or "", values.get("ami_parameter") or ""))
        return found

    def components(self, root: YNode, builds: list[ComponentSettings],
                   accounts: list[Account]) -> list[Component]:
        listed = root.get("components")
        items = [i for i in listed.children() if i.is_map] if listed is not None else []
        by_name = {b.name: b for b in builds}
        top = root.get("parameters") or _empty(root, "parameters")
        levels = {}
        for account_node_env, node in (root.get("accounts") or _empty(root, "")).items():
            levels[account_node_env] = (node.get("parameters") if node.is_map else None) \
                or _empty(node, f"accounts.{account_node_env}.parameters")
        found: list[Component] = []
        priorities: dict[int, str] = {}
        for index, item in enumerate(items):
            name_node = item.get("name")
            build = by_name.get(name_node.text()) if name_node is not None else None
            if build is None:
                continue
            component = self.component(item, build, top, levels, accounts, index)
            if component is None:
                continue
            if component.priority in priorities:
                self.problems.append((item.get("provision") or item).error(
                    "provision-priority", f"listener rule priority {component.priority} of "
                    f"'{build.name}' is already used by '{priorities[component.priority]}'"))
            priorities[component.priority] = build.name
            found.append(component)
        return found

    def component(self, item: YNode, build: ComponentSettings, top: YNode,
                  levels: dict[str, YNode], accounts: list[Account],
                  index: int) -> Component | None:
        own = item.get("provision") or _empty(item, f"{item.path}.provision")
        if not own.is_map:
            type_error(own, "a mapping", self.problems, code="provision-type")
            return None
        mine = {k: v for k, v in own.items() if k in schema.COMPONENT}
        rest = {k: v for k, v in own.items() if k not in schema.COMPONENT}
        fixed = check_section(_sub(own, mine), schema.COMPONENT, self.problems)
        overlays = mine.get("environments") or _empty(own, f"{own.path}.environments")
        if not overlays.is_map:
            type_error(overlays, "a mapping of environment names", self.problems,
                       code="provision-type")
            return None
        for env, node in overlays.items():
            if env not in levels:
                self.problems.append((overlays.key_node(env) or node).error(
                    "provision-value", f"'{env}' is not an environment under accounts"))
        fleets = {}
        for account in accounts:
            env = account.environment
            merged = top
            for level in (levels.get(env), _sub(own, rest), overlays.get(env)):
                if level is not None:
                    merged = merge_nodes(merged, level, nested=None, null_removes=False,
                                         at_over=True)
            fleet = self.fleet(merged, build.name, env)
            if fleet is not None:
                fleets[env] = fleet
        if fixed is INVALID or len(fleets) != len(accounts):
            return None
        return Component(
            build=build,
            port=fixed.get("port") or DEFAULT_PORTS[build.kind],
            health_path=fixed.get("health_path") or DEFAULT_HEALTH[build.kind],
            repository=fixed.get("repository") or "",
            priority=fixed.get("priority") or 10 * (index + 1),
            fleets=fleets,
        )

    def fleet(self, merged: YNode, name: str, env: str) -> Fleet | None:
        values = check_section(merged, schema.FLEET, self.problems)
        if values is INVALID:
            return None
        alarms = {**{k: f.default for k, f in schema.ALARMS.items()}, **values["alarms"]}
        values = {**values, "alarms": Alarms(**alarms)}
        if not values["min_size"] <= values["desired_capacity"] <= values["max_size"]:
            self.problems.append(merged.error(
                "provision-capacity", f"component '{name}' in {env}: min_size "
                f"{values['min_size']} <= desired_capacity {values['desired_capacity']} <= "
                f"max_size {values['max_size']} does not hold"))
            return None
        return Fleet(**values)


def _sub(node: YNode, nodes: dict[str, Any]) -> YNode:
    return YNode("map", nodes, node.line, node.column, node.path, tag="map",
                 keys={k: node.key_node(k) or v for k, v in nodes.items()})
