"""Render buildspecs from component settings, and refuse to write a bad one.

The only module that uses jinja2 for buildspecs; it is imported lazily so the
validator and the rest of the CLI start without it. Templates run in a sandbox
with strict undefined names: a typo in a template fails loudly instead of
rendering an empty string into a build. Every rendered buildspec is validated
before anything is written; one invalid output means nothing is written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hdhooks.build.buildspec.validate import validate_text
from hdhooks.build.settings import ComponentSettings
from hdhooks.errors import CheckFailed, InputError
from hdhooks.yamlsrc.problems import Report

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "buildspecs"
TEMPLATES = {"maven": "maven.yml.j2", "flutter": "flutter.yml.j2"}
#: Pinned, as for every plugin the templates call by coordinates.
VERSIONS_PLUGIN = "2.16.2"
#: The build id (docs/build.md): CodeBuild's build number and the first 12
#: characters of the resolved source version, anything but [A-Za-z0-9._-] as _.
BUILD_ID_COMMAND = (
    'BUILD_ID="${CODEBUILD_BUILD_NUMBER:-0}-$(printf \'%s\' '
    '"${CODEBUILD_RESOLVED_SOURCE_VERSION:-local}" | tr -c \'A-Za-z0-9._-\' _ | cut -c1-12)"'
)
SUFFIX = ".buildspec.yml"


@dataclass(frozen=True)
class Rendered:
    """One component's buildspec text and the validator's report on it."""

    name: str
    text: str
    report: Report


class RenderedInvalid(CheckFailed):
    """A template produced a buildspec that fails validation (a template bug)."""

    def __init__(self, bad: list[Rendered]) -> None:
        names = ", ".join(r.name for r in bad)
        super().__init__(f"rendered buildspec fails validation for: {names}; nothing written",
                         hint="fix the template or the settings")
        self.bad = bad

    def details(self) -> list[str]:
        return [line for r in self.bad for line in r.report.text_lines()]


def yaml_quote(value: object) -> str:
    """A YAML double-quoted scalar: safe for ': ', '#', '*', yes/no and 3.10."""
    return json.dumps(str(value), ensure_ascii=False)


@lru_cache(maxsize=1)
def environment() -> Environment:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["q"] = yaml_quote
    return env


def render_text(component: ComponentSettings, source: str) -> str:
    """The buildspec text for one component (not validated)."""
    template = environment().get_template(TEMPLATES[component.kind])
    from hdhooks.build.install import install_commands

    context: dict[str, Any] = {
        "c": component, "source": os.path.basename(source),
        "install": install_commands(component.hdhooks_install),
        "build_id_command": BUILD_ID_COMMAND, "versions_plugin": VERSIONS_PLUGIN,
    }
    text = template.render(context)
    return _tidy(text)


def _tidy(text: str) -> str:
    """Trailing spaces off, runs of blank lines folded, one final newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n") + "\n"


def render_components(components: list[ComponentSettings], source: str) -> list[Rendered]:
    """Render and validate each component; raise RenderedInvalid if any fails."""
    rendered = []
    for component in components:
        text = render_text(component, source)
        report = validate_text(text, f"{component.name}{SUFFIX}")
        rendered.append(Rendered(component.name, text, report))
    bad = [r for r in rendered if r.report.errors or r.report.warnings]
    if bad:
        raise RenderedInvalid(bad)
    return rendered


def select(components: list[ComponentSettings], name: str | None) -> list[ComponentSettings]:
    """All components, or the one called ``name`` (an unknown name is a usage error)."""
    if name is None:
        return components
    chosen = [c for c in components if c.name == name]
    if not chosen:
        known = ", ".join(c.name for c in components)
        raise InputError(f"no component named '{name}'", hint=f"known: {known}")
    return chosen


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (0644), creating the folder if needed."""
    from hdhooks.fsutil import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text, mode=0o644)


def write_all(rendered: list[Rendered], out_dir: Path) -> list[Path]:
    """Write every buildspec as ``<out_dir>/<name>.buildspec.yml``."""
    paths = []
    for item in rendered:
        path = out_dir / f"{item.name}{SUFFIX}"
        write_atomic(path, item.text)
        paths.append(path)
    return paths


def stale_outputs(rendered: list[Rendered], out_dir: Path) -> list[Path]:
    """Files in ``out_dir`` that are missing or differ from what would be written."""
    stale = []
    for item in rendered:
        path = out_dir / f"{item.name}{SUFFIX}"
        if not path.is_file() or path.read_text(encoding="utf-8") != item.text:
            stale.append(path)
    return stale
