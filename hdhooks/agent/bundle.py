"""DownloadBundle for local revisions: a directory, a .tar, a .tgz or a .zip.

Archives are unpacked keeping modes, times and symlinks (what the agent gets
from ``tar -xpsf`` and ``unzip``); members that would land outside the
destination are refused (:mod:`hdhooks.agent.archive`). When an archive
holds a single top-level directory and the appspec file is inside it, that
directory is stripped, as the agent does. A directory bundle is copied as it
is, links as links (never entered).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from hdhooks.errors import InputError, UsageError

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
    archive.extract(location, kind, dest)
    os.chmod(dest, 0o755)
    strip_single_top_dir(dest, appspec_filename)


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


def strip_single_top_dir(dest: str, appspec_filename: str | None) -> bool:
    """Move the contents of a lone top-level directory up when it holds the appspec."""
    names = (appspec_filename,) if appspec_filename else APPSPEC_NAMES
    if any(os.path.lexists(os.path.join(dest, n)) for n in names):
        return False
    entries = os.listdir(dest)
    if len(entries) != 1:
        return False
    top = os.path.join(dest, entries[0])
    if os.path.islink(top) or not os.path.isdir(top):
        return False
    if not any(os.path.lexists(os.path.join(top, n)) for n in names):
        return False
    taken = set(os.listdir(top))
    tmp = os.path.join(dest, next(n for n in _strip_names() if n not in taken))
    os.rename(top, tmp)
    for name in os.listdir(tmp):
        os.rename(os.path.join(tmp, name), os.path.join(dest, name))
    os.rmdir(tmp)
    return True


def _strip_names() -> Iterator[str]:
    """Temporary names for the top directory while its content moves up: the first
    one its content does not also use (a member may be called ``.hdhooks-strip``)."""
    yield ".hdhooks-strip"
    n = 1
    while True:
        yield f".hdhooks-strip-{n}"
        n += 1
