"""Checks of what would otherwise fail only once a deployment has stopped the service.

Templates are rendered with the hooks' own sandbox and context
(:func:`hdhooks.instance.render.check_templates`), SSM and Secrets Manager
values replaced by placeholders; the environments the deployment groups map
to must exist; the service user and group should exist where the hooks run.
"""

from __future__ import annotations

import grp
import os
import posixpath
from collections.abc import Callable
from typing import Any

from hdhooks.config.model import ComponentConfig
from hdhooks.yamlsrc.node import YNode, child_path
from hdhooks.yamlsrc.problems import ERROR, Problem

LINT_DEPLOYMENT_ID = "d-LINT00000"


class _Placeholders(dict[str, str]):
    """Any name is present: values that only the instance can fetch."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def __missing__(self, key: str) -> str:
        return f"<{self.kind} {key}>"


def group_exists(name: str) -> bool:
    """Whether ``name`` is a group on this machine."""
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def lint_context(config: ComponentConfig, deployment_group: str | None) -> dict[str, Any]:
    """The context AfterInstall would build, with placeholders for fetched values."""
    from hdhooks.instance.render import Fetched, build_context

    secrets = {ref.name: f"<secret {ref.name}>" for ref in config.secrets}
    ssm = {name: f"<ssm {name}>" for name in config.ssm.parameters}
    release = posixpath.join(config.releases.base_dir, "releases", LINT_DEPLOYMENT_ID)
    context = build_context(config, release_dir=release, fetched=Fetched(ssm, secrets),
                            deployment_id=LINT_DEPLOYMENT_ID,
                            deployment_group=deployment_group,
                            extra={"build_id": "<build id>"})
    if config.ssm.paths:  # names under a path are known only on the instance
        context["ssm"] = _Placeholders("ssm")
    context["env"] = _Placeholders("env")  # the instance's environment, not lint's
    return context


def template_problems(config: ComponentConfig, deployment_group: str | None
                      ) -> list[tuple[str, Problem]]:
    """(file, problem) for each template that AfterInstall would fail to render."""
    from hdhooks.instance.render import check_templates

    out = []
    for index, exc in check_templates(config, lint_context(config, deployment_group)):
        spec = config.templates[index]
        where, _, line = exc.location.rpartition(":")
        if not where or not line.isdigit():
            where, line = exc.location, "0"
        text = str(exc.args[0]) if exc.args else str(exc)
        prefix = f"{exc.location}: "
        text = text[len(prefix):] if text.startswith(prefix) else text
        file = os.path.join(config.bundle_dir, spec.template)
        out.append((file, Problem(ERROR, f"AfterInstall would fail: {text}",
                                  "lint-template", int(line), 1 if int(line) else 0,
                                  f"templates[{index}].template")))
    return out


def mapped_environments(root: YNode) -> list[Problem]:
    """Each deployment group mapped to an environment that ``environments`` lacks."""
    source = root.get("environment_from")
    groups = source.get("deployment_groups") if source is not None else None
    envs = root.get("environments")
    if groups is None or envs is None or not groups.is_map or not envs.is_map:
        return []
    defined = {name for name, _ in envs.items()}
    out = []
    for group, node in groups.items():
        name = str(node.value)
        if name not in defined:
            out.append(node.problem(
                ERROR, "lint-environment-unknown",
                f"deployment group '{group}' maps to environment '{name}', which is not "
                f"under environments ({', '.join(sorted(defined))}): a deployment to that "
                "group fails when the config is loaded; add it or fix the name",
                path=child_path("environment_from.deployment_groups", group)))
    return out


def account_problems(root: YNode, config: ComponentConfig,
                     known_user: Callable[[str], bool],
                     known_group: Callable[[str], bool] = group_exists) -> list[Problem]:
    """Warnings for a service user or group this machine does not have."""
    svc = config.service
    section = root.get("service")
    out = []
    for key, name, known in (("user", svc.user, known_user), ("group", svc.group, known_group)):
        if not name or known(name):
            continue
        node = (section.get(key) if section is not None else None) or section or root
        out.append(node.problem(
            "warning", "lint-service-account",
            f"service {key} '{name}' does not exist on this machine; the hooks fail on an "
            f"instance without it (create it when the AMI is baked; ignore this when lint "
            "runs off the instance)", path=f"service.{key}"))
    return out

