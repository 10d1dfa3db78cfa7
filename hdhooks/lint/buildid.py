"""A health check must expect a build id the bundle can have.

ValidateService proves that the *new* build answers by comparing what the
application says with the bundle's build id (``deploy/build-id``, which the
rendered buildspecs write). A check that expects something no build can give
waits out its deadline at every deployment, after the old release was stopped:

* a fixed value for a build identity field (``build.version: "1.4.2"``): only
  one build ever has it;
* ``body_contains: "{{ build_id }}"``: body_contains is not a template, so the
  braces are looked for literally;
* ``deploy/build-id`` present but empty, or not one word: the id compared is
  not the one the build meant.

A site served by nginx whose check reads the body but compares no build id is a
warning: nginx answers its own welcome page, or the previous release, with the
same status and much the same body.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from hdhooks.config.model import ComponentConfig
from hdhooks.instance.runtime import BUILD_ID_FILE
from hdhooks.yamlsrc.node import YNode, child_path
from hdhooks.yamlsrc.problems import ERROR, WARNING, Problem

# JSON fields that name a build, in the spellings applications use.
_IDENTITY_RE = re.compile(r"(^|\.)(build[._-]?id|buildId|build\.version|build_version)$",
                          re.IGNORECASE)
_ID_RE = re.compile(r"^[A-Za-z0-9._:+-]{1,128}$")


def build_id_problems(root: YNode, config: ComponentConfig) -> list[Problem]:
    """Errors for health expectations that no build of this bundle can meet."""
    h = config.health
    if h is None:
        return []
    out = _fixed_ids(root, "health", h.json_fields)
    if h.identity is not None:
        out += _fixed_ids(root, "health.identity", h.identity.json_fields)
    if h.body_contains and _served_by_nginx(config) and not _expects_build_id(config):
        out.append(_node(root, "health").problem(
            WARNING, "lint-health-build",
            "nginx answers this health check whatever it serves (its welcome page, the "
            "previous release): compare the build id the build writes, e.g. path: "
            "/build-id.json with json_fields: {build_id: \"{{ build_id }}\"}",
            path="health"))
    for section, body in (("health", h.body_contains),
                          ("health.identity", h.identity.body_contains if h.identity else None)):
        if body and "{{" in body:
            out.append(_node(root, *section.split("."), "body_contains").problem(
                ERROR, "lint-build-id",
                f"{section}.body_contains is not a template: '{body}' would be looked for "
                "literally and never found; compare the build id with json_fields "
                "(build_id: \"{{ build_id }}\")", path=f"{section}.body_contains"))
    return out


def build_id_file_problems(bundle_dir: str, config: ComponentConfig) -> list[Problem]:
    """An unusable deploy/build-id when the health check compares the build id."""
    path = os.path.join(bundle_dir, BUILD_ID_FILE)
    if not _expects_build_id(config) or not os.path.isfile(path) or os.path.islink(path):
        return []
    try:
        with open(path, "rb") as fh:
            text = fh.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return []
    words = text.split()
    if len(words) == 1 and _ID_RE.match(words[0]):
        return []
    what = "is empty" if not words else (
        f"holds {len(words)} words" if len(words) > 1 else f"holds '{words[0][:40]}'")
    return [Problem(ERROR, f"{BUILD_ID_FILE} {what}, but the health check compares the build "
                    "id: it must be one word of letters, digits and . _ : + - (the rendered "
                    "buildspecs write <build number>-<source version>)", "lint-build-id", 1, 1)]


def _served_by_nginx(config: ComponentConfig) -> bool:
    svc = config.service
    words = (*svc.command[:1], *svc.check_command[:1])
    return svc.name == "nginx" or any(os.path.basename(w) == "nginx" for w in words)


def _expects_build_id(config: ComponentConfig) -> bool:
    h = config.health
    if h is None:
        return False
    fields = [*h.json_fields.values(), *(h.identity.json_fields.values() if h.identity else ())]
    return any("build_id" in str(v) for v in fields)


def _fixed_ids(root: YNode, section: str, fields: Mapping[str, object]) -> list[Problem]:
    out = []
    for name, expected in fields.items():
        text = str(expected)
        if not _IDENTITY_RE.search(name) or "{{" in text or "{%" in text:
            continue
        out.append(_node(root, *section.split("."), "json_fields", name).problem(
            ERROR, "lint-build-id",
            f"{section}.json_fields.{name} expects the fixed value '{text}', which only one "
            "build can have: every later deployment would fail ValidateService; expect "
            "\"{{ build_id }}\" (the bundle's deploy/build-id)",
            path=child_path(f"{section}.json_fields", name)))
    return out


def _node(root: YNode, *keys: str) -> YNode:
    """The deepest node written for ``keys`` (the top-level value; else its parent)."""
    node = root
    for key in keys:
        child = node.get(key) if node.is_map else None
        if child is None:
            return node
        node = child
    return node
