"""Buildspec 0.2 rules for the top level, ``env`` and ``proxy``.

The key sets and value ranges follow the CodeBuild buildspec reference; the
rules for ``phases`` and for the output sections live next to this module.
"""

from __future__ import annotations

import re

from hdhooks.build.buildspec.checks import Checks
from hdhooks.yamlsrc.node import YNode

TOP_KEYS = ("version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts",
            "cache")
ENV_KEYS = ("shell", "variables", "parameter-store", "secrets-manager", "exported-variables",
            "git-credential-helper")
SHELLS = ("bash", "/bin/sh", "powershell.exe", "cmd.exe")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_top(root: YNode, checks: Checks) -> None:
    """Known top-level keys, ``version`` 0.2, ``phases`` present, ``run-as``."""
    checks.keys(root, TOP_KEYS, ("version", "phases"), what="the buildspec")
    version = root.get("version")
    if version is not None:
        _check_version(version, checks)
    run_as = root.get("run-as")
    if run_as is not None:
        checks.string(run_as, "run-as")


def _check_version(node: YNode, checks: Checks) -> None:
    text = node.text().strip() if node.is_scalar else ""
    if text == "0.2":
        return
    if text == "0.1":
        checks.warning(node, "bs-version",
                       "version 0.1 runs every command in a fresh shell; use version: 0.2")
        return
    checks.error(node, "bs-version", f"version must be 0.2, not {node.raw or node.kind_name()}")


def check_env(env: YNode, checks: Checks) -> None:
    """The ``env`` section: shell, variable maps, exported variables."""
    if not checks.mapping(env, "env"):
        return
    checks.keys(env, ENV_KEYS, what="env")
    shell = env.get("shell")
    if shell is not None and checks.string(shell, "env.shell") and shell.text() not in SHELLS:
        checks.error(shell, "bs-env-shell",
                     f"env.shell must be one of {', '.join(SHELLS)}, not '{shell.text()}'")
    for section in ("variables", "parameter-store", "secrets-manager"):
        node = env.get(section)
        if node is not None:
            _check_variable_map(node, f"env.{section}", checks)
    exported = env.get("exported-variables")
    if exported is not None:
        for item in checks.string_list(exported, "env.exported-variables"):
            name = item.text()
            if name.startswith("AWS_"):
                checks.error(item, "bs-env-name",
                             f"exported variable '{name}': names starting with AWS_ "
                             "cannot be exported")
            else:
                _check_name(item, name, checks)
    helper = env.get("git-credential-helper")
    if helper is not None:
        checks.yes_no(helper, "env.git-credential-helper")


def _check_variable_map(node: YNode, what: str, checks: Checks) -> None:
    if not checks.mapping(node, what):
        return
    for name, value in node.items():
        _check_name(node.key_node(name) or node, name, checks)
        if value.is_null:
            checks.error(value, "bs-env-value",
                         f"{what}.{name} has no value; give one or remove the line")
            continue
        plain_string = what == "env.variables" and value.is_scalar and value.tag == "str"
        if not plain_string and not checks.string(value, f"{what}.{name}"):
            continue
        _check_number_text(value, f"{what}.{name}", checks)
        if what == "env.secrets-manager" and value.is_str:
            _check_secret_reference(value, f"{what}.{name}", checks)


def _check_number_text(node: YNode, what: str, checks: Checks) -> None:
    """An unquoted number whose text YAML changes: 3.10 becomes "3.1", 0755 "493"."""
    if node.quoted or node.tag not in ("int", "float") or node.raw == str(node.value):
        return
    if node.tag == "int" and node.raw.lstrip("+-").isdigit() and not node.is_plain_octal:
        return  # +5 or 00 : only the sign or zeros change
    checks.warning(node, "bs-yaml-number",
                   f"{what}: unquoted {node.raw} is read as the number {node.value}, so the "
                   f"build sees '{node.value}'; quote it: \"{node.raw}\"")


def _check_secret_reference(node: YNode, what: str, checks: Checks) -> None:
    """``secret-id[:json-key[:version-stage[:version-id]]]``; the id may be an ARN."""
    text = node.text()
    fields = text.split(":")
    if text.startswith("arn:"):
        if len(fields) < 7 or fields[2] != "secretsmanager" or fields[5] != "secret":
            checks.error(node, "bs-env-secret",
                         f"{what}: '{text}' is not a Secrets Manager secret ARN "
                         "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)")
            return
        secret, rest = ":".join(fields[:7]), fields[7:]
    else:
        secret, rest = fields[0], fields[1:]
    usage = "secret-id[:json-key[:version-stage[:version-id]]] (a stage or an id)"
    if not secret.strip() or secret != secret.strip():
        checks.error(node, "bs-env-secret", f"{what}: the secret id is empty; expected {usage}")
    elif len(rest) > 3:
        checks.error(node, "bs-env-secret",
                     f"{what}: '{text}' has {len(rest) + 1} ':'-separated parts; expected "
                     f"{usage}")
    elif len(rest) == 3 and rest[1] and rest[2]:
        checks.error(node, "bs-env-secret",
                     f"{what}: give a version stage ('{rest[1]}') or a version id "
                     f"('{rest[2]}'), not both; leave one empty: {secret}:{rest[0]}:{rest[1]}:")


def _check_name(node: YNode, name: str, checks: Checks) -> None:
    if name.startswith("CODEBUILD_"):
        checks.error(node, "bs-env-name",
                     f"variable '{name}': names starting with CODEBUILD_ are reserved")
    elif not _NAME_RE.match(name):
        checks.error(node, "bs-env-name",
                     f"variable '{name}' is not a valid name (letters, digits, _; "
                     "not starting with a digit)")


def check_proxy(proxy: YNode, checks: Checks) -> None:
    """``proxy``: two yes/no flags."""
    if not checks.mapping(proxy, "proxy"):
        return
    checks.keys(proxy, ("upload-artifacts", "logs"), what="proxy")
    for key, value in proxy.items():
        if key in ("upload-artifacts", "logs"):
            checks.yes_no(value, f"proxy.{key}")
