"""The AppSpec model: what a valid appspec.yml means to the CodeDeploy agent.

Frozen dataclasses produced by :func:`hdhooks.appspec.read.parse` after
validation; the local agent and the lint use them and never see YAML. Every
element keeps the line of the YAML it came from, so later steps (install
conflicts, unknown events at Install) can still point at the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hdhooks.events import (
    BUILTIN_EVENTS,
    FILE_EXISTS_BEHAVIORS,
    PREVIOUS_REVISION_EVENTS,
    SCRIPTABLE_EVENTS,
)

__all__ = [
    "BUILTIN_EVENTS",
    "FILE_EXISTS_BEHAVIORS",
    "PREVIOUS_REVISION_EVENTS",
    "SCRIPTABLE_EVENTS",
    "AppSpec",
    "FileMapping",
    "HookScript",
    "Permission",
    "SelinuxContext",
]

DEFAULT_TIMEOUT = 3600


@dataclass(frozen=True)
class HookScript:
    """One entry of ``hooks.<Event>``."""

    location: str  # stripped of surrounding white space
    timeout: int = DEFAULT_TIMEOUT
    runas: str | None = None
    sudo: bool = False
    line: int = 0


@dataclass(frozen=True)
class FileMapping:
    """One entry of ``files``: copy ``source`` (bundle-relative) to ``destination``."""

    source: str
    destination: str
    line: int = 0


@dataclass(frozen=True)
class SelinuxContext:
    user: str | None
    type: str
    range: str | None


@dataclass(frozen=True)
class Permission:
    """One entry of ``permissions``; defaults as the agent applies them."""

    object: str
    pattern: str = "**"
    excepts: tuple[str, ...] = ()
    owner: str | None = None
    group: str | None = None
    mode: str | None = None  # octal digits, padded to at least three ("644")
    acls: tuple[str, ...] = ()
    context: SelinuxContext | None = None
    types: tuple[str, ...] = ("file", "directory")
    line: int = 0


@dataclass(frozen=True)
class AppSpec:
    """A parsed, valid appspec file."""

    path: str  # the file it was read from
    version: float = 0.0
    os: str = "linux"
    files: tuple[FileMapping, ...] = ()
    permissions: tuple[Permission, ...] = ()
    # event name -> scripts, in file order; events whose value was null are absent
    hooks: dict[str, tuple[HookScript, ...]] = field(default_factory=dict)
    file_exists_behavior: str | None = None
    event_lines: dict[str, int] = field(default_factory=dict)

    def scripts(self, event: str) -> tuple[HookScript, ...]:
        return self.hooks.get(event, ())
