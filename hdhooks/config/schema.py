"""The schema of ``deploy/hdhooks.yml``: every key, its type, its default.

``TOP`` holds what exists once per file (component, environment selection,
the overlays themselves); ``SECTIONS`` holds what an environment overlay may
change. docs/config.md documents the same keys for users; keep them in step.
"""

from __future__ import annotations

import re
from typing import Any

from hdhooks.appspec.model import SCRIPTABLE_EVENTS
from hdhooks.yamlsrc.checks import (
    EMPTY_SECTION,
    INVALID,
    Checker,
    Field,
    Section,
    anything,
    boolean,
    check_section,
    choice,
    env_value,
    file_mode,
    integer,
    map_of,
    number,
    scalar,
    section,
    seq_of,
    string,
    suggest,
    type_error,
    value_error,
)
from hdhooks.yamlsrc.node import YNode
from hdhooks.yamlsrc.problems import Problem

DEFAULT_TAG_FILE = "/etc/hdhooks/environment"
NAME_RE = r"[a-z0-9][a-z0-9._-]{0,62}"
IDENT_RE = r"[A-Za-z_][A-Za-z0-9_]*"
ABS_PATH = (r"/.*", "must be an absolute path")
TG_NAME_RE = (
    r"arn:aws[a-z-]*:elasticloadbalancing:\S+"
    r"|[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?"
)


def bundle_path() -> Any:
    """A path inside the bundle: relative, no ``..`` leaving it."""
    base = string()

    def check(node: YNode, problems: list[Problem]) -> Any:
        text = base(node, problems)
        if text is INVALID:
            return text
        parts = text.split("/")
        if text.startswith("/") or ".." in parts:
            return value_error(
                node,
                f"'{node.path}' must be a path inside the bundle (relative, no '..'): '{text}'",
                problems,
            )
        return text

    return check


MAX_ID = 2**32 - 2  # (uid_t)-1 means "unchanged" to chown; larger ids overflow


def _plain(checker: Checker | None = None) -> Checker:
    """A value that reaches a systemd unit or a process: no NUL, newline or control char.

    A newline in ``service.workdir`` would add a directive to the rendered
    unit; a NUL cannot be passed to any system call.
    """
    inner = checker or string()

    def check(node: YNode, problems: list[Problem]) -> Any:
        value = inner(node, problems)
        if isinstance(value, str):
            bad = next((c for c in value if ord(c) < 0x20 or ord(c) == 0x7F), None)
            if bad is not None:
                return value_error(node, f"'{node.path}' contains a control character "
                                   f"({bad!r}); write it on one line without control "
                                   "characters", problems)
        return value

    return check


def _owner(node: YNode, problems: list[Problem]) -> Any:
    """A user or group name, or a numeric id within 0..2**32-2."""
    value = _plain()(node, problems)
    if isinstance(value, str) and value.isdigit() and int(value) > MAX_ID:
        return value_error(node, f"'{node.path}' must be an id from 0 to {MAX_ID}, "
                           f"not {value}", problems)
    return value


def _health_url(node: YNode, problems: list[Problem]) -> Any:
    """An http(s) URL that urllib can take apart: host, port 1..65535, no spaces."""
    import urllib.parse

    text = _plain(string(r"\S+", "must not contain spaces"))(node, problems)
    if not isinstance(text, str):
        return text
    try:
        url = urllib.parse.urlsplit(text)
        port = url.port
    except ValueError as exc:
        return value_error(node, f"'{node.path}' is not a usable URL ({exc}): '{text}'",
                           problems)
    if url.scheme not in ("http", "https") or not url.hostname:
        return value_error(node, f"'{node.path}' must be an http:// or https:// URL with a "
                           f"host: '{text}'", problems)
    if port == 0:
        return value_error(node, f"'{node.path}' port must be from 1 to 65535: '{text}'",
                           problems)
    return text


def _command_item(node: YNode, problems: list[Problem]) -> Any:
    if node.is_scalar:
        name = string(r"[^\s/]+", "must be a command name (no spaces or '/')")(node, problems)
        return None if name is INVALID else {"name": name, "min_version": None,
                                             "version_args": None}
    return check_section(node, COMMAND_REQ, problems)


def _shell_words(node: YNode, problems: list[Problem]) -> Any:
    """A command prefix: a list of words, or one string split like a shell would."""
    if node.is_seq:
        return seq_of(string(), min_items=1)(node, problems)
    text = string()(node, problems)
    if text is INVALID:
        return text
    import shlex

    try:
        return shlex.split(text)
    except ValueError as exc:
        return value_error(node, f"'{node.path}' cannot be split into words: {exc}", problems)


def _command_list(node: YNode, problems: list[Problem]) -> Any:
    if node.is_scalar and not node.is_null:
        return value_error(
            node,
            f"'{node.path}' must be a list of words, e.g. [\"/usr/bin/java\", \"-jar\", "
            "\"app.jar\"] (no shell is involved)",
            problems,
        )
    return seq_of(_plain(), min_items=1)(node, problems)


def _status_codes(node: YNode, problems: list[Problem]) -> Any:
    if node.is_seq:
        return seq_of(integer(100, 599), min_items=1)(node, problems)
    code = integer(100, 599)(node, problems)
    return code if code is INVALID else [code]


def _secret_ref(node: YNode, problems: list[Problem]) -> Any:
    if node.is_map:
        return check_section(node, SECRET_REF, problems)
    sid = string()(node, problems)
    return sid if sid is INVALID else {"id": sid, "key": None}


def _timeout_or_auto(node: YNode, problems: list[Problem]) -> Any:
    if node.is_scalar and node.text() == "auto":
        return "auto"
    return integer(0, 3660)(node, problems)


def _hook_timeouts(node: YNode, problems: list[Problem]) -> Any:
    values = map_of(integer(1, 3600))(node, problems)
    if values is INVALID:
        return values
    for key in values:
        if key not in SCRIPTABLE_EVENTS:
            where = node.key_node(key) or node
            problems.append(where.error(
                "config-unknown-key",
                f"'{key}' is not a lifecycle event with scripts{suggest(key, SCRIPTABLE_EVENTS)}",
            ))
            return INVALID
    return values


def _health_post(node: YNode, value: dict[str, Any], problems: list[Problem]) -> None:
    if value.get("url") is not None:
        for other in ("path", "port", "host"):
            if value.get(other) is not None:
                key_node = node.key_node(other) or node
                problems.append(key_node.error(
                    "config-value", f"'health.{other}' cannot be used with 'health.url': "
                    "give either url, or path (+ port)"))
    elif value.get("path") is None:
        problems.append(node.error(
            "config-missing", "'health' needs 'url' or 'path' (with 'port' or service.port)"))


def _identity_post(node: YNode, value: dict[str, Any], problems: list[Problem]) -> None:
    if (value.get("url") is None) == (value.get("path") is None):
        problems.append(node.error(
            "config-value", "'health.identity' needs either 'url' or 'path' (on the health "
            "check's host and port)"))
    if value.get("body_contains") is None and not value.get("json_fields"):
        problems.append(node.error(
            "config-missing", "'health.identity' needs 'json_fields' or 'body_contains': what "
            "proves the new build answers, such as build.version: \"{{ build_id }}\""))


def _service_post(node: YNode, value: dict[str, Any], problems: list[Problem]) -> None:
    if value.get("reload") and value.get("backend") == "process":
        where = node.get("reload") or node
        problems.append(where.error(
            "config-value", "'service.reload' needs backend: systemd (a supervised process "
            "has no reload); remove it or use systemd"))
    if value.get("backend") == "process" and not value.get("command"):
        problems.append(node.error(
            "config-missing", "'service.command' is required with backend: process"))
    elif value.get("unit_template") and not value.get("command"):
        # The rendered unit's ExecStart is the command: without one the unit
        # cannot be written, and ApplicationStart would fail after `current` moved.
        where = node.get("unit_template") or node
        problems.append(where.error(
            "config-missing", "'service.unit_template' needs 'service.command' (the unit's "
            "ExecStart); add the command or remove unit_template"))
    if "systemctl" in value and not value.get("systemctl") \
            and value.get("backend", "systemd") == "systemd":
        where = node.get("systemctl") or node
        problems.append(where.error(
            "config-value", "'service.systemctl' is empty: give the systemctl command "
            "(default 'systemctl') or remove the key"))


def _templates_post(node: YNode, items: Any, problems: list[Problem]) -> Any:
    if items is INVALID:
        return items
    seen: dict[str, int] = {}
    for i, (item, child) in enumerate(zip(items, node.children(), strict=True)):
        dest = item["destination"]
        if dest in seen:
            problems.append(child.error(
                "config-value",
                f"destination '{dest}' is also written by templates[{seen[dest]}]"))
            return INVALID
        seen[dest] = i
    return items


def _templates(node: YNode, problems: list[Problem]) -> Any:
    return _templates_post(node, seq_of(section(TEMPLATE))(node, problems), problems)


COMMAND_REQ: Section = {
    "name": Field(string(r"[^\s/]+", "must be a command name (no spaces or '/')"), True),
    "min_version": Field(string()),
    # default None: -version for java/javac, --version for anything else (preflight)
    "version_args": Field(seq_of(string())),
}

SECRET_REF: Section = {
    "id": Field(string(), required=True),
    "key": Field(string()),
}

TEMPLATE: Section = {
    "template": Field(bundle_path(), required=True),
    "destination": Field(string(), required=True),
    "mode": Field(file_mode(), default=0o640),
    "owner": Field(_owner),
    "group": Field(_owner),
}

SERVICE: Section = {
    "name": Field(string(NAME_RE, "must be lower-case letters, digits, '.', '_' or '-'")),
    "backend": Field(choice("systemd", "process"), default="systemd"),
    "command": Field(_command_list),
    "user": Field(_owner),
    "group": Field(_owner),
    "workdir": Field(_plain()),
    "env": Field(map_of(_plain(env_value()), IDENT_RE, "is not a valid environment variable name"),
                 default=dict),
    "stop_timeout": Field(number(1, 3600), default=30.0),
    "port": Field(integer(1, 65535)),
    "systemctl": Field(_shell_words, default=lambda: ["systemctl"]),
    "unit_template": Field(bundle_path()),
    "check_command": Field(_shell_words),
    "reload": Field(boolean(), default=False),
}

RELEASES: Section = {
    "base_dir": Field(string(*ABS_PATH)),
    "keep": Field(integer(2, 100), default=5),
    "source": Field(choice("bundle", "incoming"), default="bundle"),
}

# A second URL that must answer too, once the first passes: where the application
# tells which build it runs (Spring Boot: /actuator/info, build.version).
HEALTH_IDENTITY: Section = {
    "url": Field(_health_url),
    "path": Field(string(r"/\S*", "must start with '/'")),
    "expect_status": Field(_status_codes, default=lambda: [200]),
    "body_contains": Field(string()),
    "json_fields": Field(map_of(scalar()), default=dict),
}

HEALTH: Section = {
    "url": Field(_health_url),
    "path": Field(string(r"/\S*", "must start with '/'")),
    "port": Field(integer(1, 65535)),
    "host": Field(_plain(string(r"[^\s/]+", "must be a host name or address"))),
    "deadline": Field(number(1, 3600), default=60.0),
    "interval": Field(number(0.1, 60), default=1.0),
    "timeout": Field(number(0.1, 60), default=2.0),
    "successes": Field(integer(1, 100), default=1),
    "expect_status": Field(_status_codes, default=lambda: [200]),
    "body_contains": Field(string()),
    "json_fields": Field(map_of(scalar()), default=dict),
    "identity": Field(section(HEALTH_IDENTITY, _identity_post)),
}

PREFLIGHT: Section = {
    "min_free_disk_mb": Field(integer(0), default=100),
    "disk_path": Field(string(*ABS_PATH)),
    "commands": Field(seq_of(_command_item), default=list),
    "ports": Field(seq_of(integer(1, 65535))),
}

SSM: Section = {
    "paths": Field(seq_of(string(r"/\S*", "must start with '/'")), default=list),
    "parameters": Field(map_of(string(), IDENT_RE, "must be a template name (letters, digits, _)"),
                        default=dict),
}

DEREGISTRATION: Section = {
    "wait": Field(boolean(), default=True),
    "timeout": Field(_timeout_or_auto, default="auto"),
}

TRAFFIC: Section = {
    "mode": Field(choice("auto", "hdhooks", "codedeploy", "off"), default="auto"),
    "target_groups": Field(seq_of(string(TG_NAME_RE, "must be a target group ARN or name")),
                           default=list),
    "standby": Field(choice("auto", booleans=True), default="auto"),
    "deregistration": Field(section(DEREGISTRATION), default=EMPTY_SECTION),
    "port": Field(integer(1, 65535)),
    "fleet_concurrency": Field(integer(1, 10000), default=1),
    "imds_v1": Field(boolean(), default=False),
    "events": Field(seq_of(choice("BeforeBlockTraffic", "AfterAllowTraffic")), default=list),
}

METRICS: Section = {
    "put_metric_data": Field(boolean(), default=False),
    "namespace": Field(string(r"[A-Za-z0-9._/#:-]{1,255}", "must be a CloudWatch namespace"),
                       default="hdhooks"),
}

HOOKS: Section = {
    "timeouts": Field(_hook_timeouts, default=dict),
}

# What an environment overlay may change.
SECTIONS: Section = {
    "service": Field(section(SERVICE, _service_post), default=EMPTY_SECTION),
    "releases": Field(section(RELEASES), default=EMPTY_SECTION),
    "health": Field(section(HEALTH, _health_post)),
    "preflight": Field(section(PREFLIGHT), default=EMPTY_SECTION),
    "templates": Field(_templates, default=list),
    "values": Field(map_of(anything()), default=dict),
    "ssm": Field(section(SSM), default=EMPTY_SECTION),
    "secrets": Field(map_of(_secret_ref, IDENT_RE, "must be a template name (letters, digits, _)"),
                     default=dict),
    "traffic": Field(section(TRAFFIC), default=EMPTY_SECTION),
    "metrics": Field(section(METRICS), default=EMPTY_SECTION),
    "hooks": Field(section(HOOKS), default=EMPTY_SECTION),
}

ENVIRONMENT_FROM: Section = {
    "tag_file": Field(string(*ABS_PATH), default=DEFAULT_TAG_FILE),
    "deployment_groups": Field(map_of(string(NAME_RE, "is not an environment name")),
                               default=dict),
}


def _overlay_names(node: YNode, problems: list[Problem]) -> Any:
    """``environments``: names -> overlay mappings (their content is checked merged)."""
    if not node.is_map:
        return type_error(node, "a mapping of environment names to settings", problems)
    ok = True
    for name, overlay in node.items():
        key_node = node.key_node(name) or overlay
        if not re.fullmatch(NAME_RE, name):
            problems.append(key_node.error("config-value", f"'{name}' is not a valid "
                                           "environment name (lower-case letters, digits, -)"))
            ok = False
        if overlay.is_null:
            continue
        if not overlay.is_map:
            problems.append(overlay.error("config-type", f"'{overlay.path}' must be a mapping "
                                          f"of settings, not {overlay.kind_name()}"))
            ok = False
            continue
        for key, child in overlay.items():
            if key in TOP:
                where = overlay.key_node(key) or child
                problems.append(where.error(
                    "config-overlay-key", f"'{key}' cannot be set per environment"))
                ok = False
    return sorted(node.value) if ok else INVALID


TOP: Section = {
    "version": Field(integer(1, 1), default=1),
    "component": Field(string(NAME_RE, "must be lower-case letters, digits, '.', '_' or '-'"),
                       required=True),
    "environment": Field(string(NAME_RE, "is not an environment name")),
    "environment_from": Field(section(ENVIRONMENT_FROM), default=EMPTY_SECTION),
    "environments": Field(_overlay_names, default=list),
}
