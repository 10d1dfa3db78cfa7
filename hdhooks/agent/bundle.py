"""DownloadBundle for local revisions: a directory, a .tar, a .tgz or a .zip.

Archives are unpacked keeping modes, times and symlinks (what the agent gets
from ``tar -xpsf`` and ``unzip``); members that would land outside the
destination are refused (:mod:`hdhooks.agent.archive`). When an archive
holds a single top-level directory and the appspec file is inside it, that
directory is stripped, as the agent does (its content is written one level
up; a link in it that reaches above it is refused). A directory bundle is copied as it
is, links as links (never entered).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from hdhooks.errors import InputError, UsageError

if TYPE_CHECKING:
    from hdhooks.agent.archive import Unpacker

TYPES = ("tgz", "tar", "zip", "directory")
APPSPEC_NAMES = ("appspec.yml", "appspec.yaml")


def resolve_type(location: str, given: str | None) -> str:
    """The bundle type: ``--type`` when given (checked like codedeploy-local), else guessed.

    codedeploy-local defaults to ``directory`` and fails on a file; hdhooks
    guesses from the name instead (``.tar``, ``.tgz``/``.tar.gz``, ``.zip``).
    """
    if "://" in location:
        raise UsageError(
            f"bundle location {location} is not a local file or directory",
            hint="local deploy takes a directory, .tar, .tgz/.tar.gz or .zip on this machine",
        )
    if not os.path.exists(location):
        raise InputError(
            f"location {location} is specified as a file or directory which does not exist"
        )
    is_dir = os.path.isdir(location)
    if given is None:
        return "directory" if is_dir else guess_type(location)
    if given == "directory" and not is_dir:
        raise InputError(f"location {location} is specified with type directory but it is a file")
    if given != "directory" and is_dir:
        raise InputError(
            f"location {location} is specified as a compressed local file but it is a directory"
        )
    return given


def guess_type(path: str) -> str:
    name = path.lower()
    if name.endswith((".tgz", ".tar.gz")):
        return "tgz"
    if name.endswith((".tar", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz")):
        return "tar"  # the extractor tells the compression from the content
    if name.endswith(".zip"):
        return "zip"
    raise UsageError(
        f"cannot tell the bundle type of {path}",
        hint="name it .tar, .tgz, .tar.gz, .tar.bz2, .tar.xz or .zip, or give --type",
    )


def appspec_names(appspec_filename: str | None) -> tuple[str, ...]:
    return (appspec_filename,) if appspec_filename else APPSPEC_NAMES


def unpack(location: str, kind: str, dest: str, appspec_filename: str | None) -> None:
    """Unpack or copy the bundle into ``dest`` (which must not exist yet).

    Archives go through the one checked extractor; a directory is copied
    without entering its links (they stay links) and refusing special files.
    """
    from hdhooks import fstree

    if kind == "directory":
        fstree.copy_tree(location, dest)
        return
    from hdhooks.agent import archive

    os.mkdir(dest, 0o700)
    archive.extract(location, kind, dest, appspec_names(appspec_filename))
    os.chmod(dest, 0o755)


def stage_appspec(unpacker: Unpacker, dest: str, appspec_filename: str | None) -> None:
    """Write only the appspec of a checked archive into the new directory ``dest``:
    enough to plan the deployment; the rest is unpacked in DownloadBundle."""
    from hdhooks.fsread import READ_LIMIT

    os.mkdir(dest, 0o700)
    for name in appspec_names(appspec_filename):
        rel = os.path.normpath(name)
        if rel.startswith(("/", "..")):
            continue  # the appspec is then not found, as it would not be once unpacked
        data = unpacker.read(f"{unpacker.strip}/{rel}" if unpacker.strip else rel,
                             READ_LIMIT + 1)
        if data is not None:
            path = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "xb") as fh:
                fh.write(data)


def root_option(root: str | None) -> str:
    """``--root`` as an absolute path: the default when not given; an empty or blank
    value is refused rather than quietly meaning the default."""
    from hdhooks.agent.layout import default_root

    if root is None:
        return os.path.abspath(default_root())
    if not root.strip():
        raise UsageError("--root is empty", hint="give a path, or leave --root out for the default")
    if "\0" in root:
        raise UsageError("--root holds a NUL character", hint="give a directory path")
    return os.path.abspath(root)


def check_root(location: str, kind: str, root: str) -> None:
    """Refuse a deployment root inside a directory bundle, before anything is written:
    each deployment copies the bundle into the root, which would copy the root again."""
    if kind != "directory":
        return
    bundle_dir = os.path.realpath(location)
    real_root = os.path.realpath(root)
    if real_root == bundle_dir or real_root.startswith(bundle_dir.rstrip("/") + "/"):
        raise UsageError(
            f"deployment root {root} is inside the bundle directory {location}",
            hint="give a --root outside the bundle (each deployment copies the whole bundle)",
        )
