"""``hdhooks init``: scaffold a component's deployment files from package templates.

The templates live in ``hdhooks/templates/init/``: the appspec per kind, the
nine hook shims, and per kind a ``deploy/`` tree (``hdhooks.yml`` and the
config templates it renders). The repository's top-level ``appspec/`` and
``hooks/`` directories are the same files, kept identical by a unit test.

Plan, then write: the whole list of files is made first and checked for
files that already exist, so a refused ``init`` writes nothing at all.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from hdhooks.errors import UsageError
from hdhooks.fsutil import atomic_write

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent / "templates" / "init"
KINDS: dict[str, str] = {"jvm": "jvm-service.yml", "flutter-web": "flutter-web.yml"}
DEFAULT_PORTS: dict[str, int] = {"jvm": 8080, "flutter-web": 80}
NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")  # the config's component names


@dataclass(frozen=True)
class PlannedFile:
    """One file ``init`` writes: bundle-relative path, content and mode."""

    path: str
    content: str
    mode: int

    @property
    def executable(self) -> bool:
        return bool(self.mode & 0o111)


def shim_names() -> list[str]:
    """The shim file names (``application-stop.sh``...), sorted."""
    return sorted(p.name for p in (TEMPLATE_ROOT / "hooks").glob("*.sh"))


def plan(kind: str, name: str, port: int | None = None) -> list[PlannedFile]:
    """The files of a new component of ``kind`` named ``name``, in writing order."""
    if kind not in KINDS:
        raise UsageError(f"unknown kind '{kind}'", hint=f"use one of {', '.join(KINDS)}")
    if not NAME_RE.fullmatch(name):
        raise UsageError(
            f"'{name}' cannot name a component",
            hint="use lower-case letters, digits, '.', '_' or '-' (at most 63)",
        )
    words = {"__NAME__": name, "__PORT__": str(port or DEFAULT_PORTS[kind])}
    files = [PlannedFile("appspec.yml", _read(TEMPLATE_ROOT / "appspec" / KINDS[kind]), 0o644)]
    files += [
        PlannedFile(f"hooks/{shim}", _read(TEMPLATE_ROOT / "hooks" / shim), 0o755)
        for shim in shim_names()
    ]
    kind_root = TEMPLATE_ROOT / kind
    for source in sorted(p for p in kind_root.rglob("*") if p.is_file()):
        text = _substitute(_read(source), words)
        files.append(PlannedFile(source.relative_to(kind_root).as_posix(), text, 0o644))
    return files


def conflicts(target: str | os.PathLike[str], files: list[PlannedFile]) -> list[str]:
    """Planned paths that already exist under ``target`` (as bundle-relative paths)."""
    root = Path(target)
    return [f.path for f in files if (root / f.path).exists() or (root / f.path).is_symlink()]


def write(target: str | os.PathLike[str], files: list[PlannedFile], *, force: bool = False
          ) -> list[Path]:
    """Write ``files`` under ``target``; refuses (UsageError) to replace any without ``force``.

    Nothing is written when a file would be replaced without ``force``. Each
    file is written atomically (temporary file, fsync, rename).
    """
    root = Path(target)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    blocked = _blocked_dirs(root, files)
    if blocked:
        raise UsageError(f"{blocked[0]}: exists and is not a directory, but the scaffold "
                         "puts files in it", hint="move or rename it, then run init again")
    existing = [] if force else conflicts(root, files)
    if existing:
        shown = os.path.join(str(root), existing[0])
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UsageError(f"{os.path.normpath(shown)} already exists{more}",
                         hint="use --force to replace the scaffold's files")
    written = []
    for item in files:
        path = root / item.path
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(atomic_write(path, item.content, mode=item.mode))
    return written


def _blocked_dirs(root: Path, files: list[PlannedFile]) -> list[str]:
    """Folders the scaffold needs (``hooks``, ``deploy``...) that exist as files or links.

    Checked before anything is written, so ``--force`` never half-writes a tree.
    """
    blocked: list[str] = []
    for item in files:
        for parent in reversed(Path(item.path).parents[:-1]):
            folder = root / parent
            if (folder.is_symlink() or folder.exists()) and (
                    folder.is_symlink() or not folder.is_dir()):
                name = os.path.normpath(str(folder))
                if name not in blocked:
                    blocked.append(name)
    return blocked


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _substitute(text: str, words: dict[str, str]) -> str:
    for placeholder, value in words.items():
        text = text.replace(placeholder, value)
    return text
