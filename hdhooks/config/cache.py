"""A per-instance cache of checked component configs, for the hooks' start-up.

Every lifecycle event is a new process that reads the same deploy/hdhooks.yml.
Loading YAML and checking the schema costs more than starting Python, so the
first hook of a deployment stores the checked, overlaid config under the
state directory, keyed by the file's identity (path, inode, size,
modification time), the hdhooks and Python versions and the environment
inputs; later hooks build the config from it. The format is :mod:`marshal`
(built in, nothing to import: ``json`` would pull in ``re``); a config whose
values marshal cannot hold is simply not cached. The tag file is read again
on every hook, so changing the environment of an instance is seen at once.
Any problem with the cache is a miss: the file is then read and checked as
usual.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib

from hdhooks import __version__
from hdhooks.config.model import ComponentConfig, build_config

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import Any

CONFIG_NAMES = ("deploy/hdhooks.yml", "deploy/hdhooks.yaml")


def load_config_cached(
    bundle_dir: str,
    *,
    cache_dir: str,
    deployment_group: str | None = None,
    environment: str | None = None,
) -> ComponentConfig:
    """Like :func:`hdhooks.config.load.load_config`, answered from the cache when it can."""
    return config_from_data(load_config_data(
        bundle_dir, cache_dir=cache_dir, deployment_group=deployment_group,
        environment=environment,
    ))


def load_config_data(
    bundle_dir: str,
    *,
    cache_dir: str,
    deployment_group: str | None = None,
    environment: str | None = None,
) -> dict[str, Any]:
    """The checked config as plain JSON-able data (cached); see :func:`config_from_data`."""
    key = _cache_key(bundle_dir, deployment_group, environment)
    path = os.path.join(cache_dir, f"config-{key}.marshal") if key else None
    if path:
        hit = _read(path)
        if hit is not None:
            return hit
    from hdhooks.config.load import check_config

    checked = check_config(bundle_dir, deployment_group=deployment_group,
                           environment=environment)
    data: dict[str, Any] = {
        "top": checked.top, "sections": checked.sections, "env": checked.env,
        "env_source": checked.env_source, "path": checked.path,
        "bundle_dir": checked.bundle_dir, "tag_file": checked.tag_file,
        "tag_value": checked.tag_value,
    }
    if path:
        _write(path, data)
        _prune(cache_dir)
    return data


def config_from_data(data: dict[str, Any]) -> ComponentConfig:
    """Build the config from what :func:`load_config_data` returned."""
    return build_config(data["top"], data["sections"], env=data["env"],
                        env_source=data["env_source"], path=data["path"],
                        bundle_dir=data["bundle_dir"])


def _cache_key(bundle_dir: str, group: str | None, environment: str | None) -> str | None:
    for name in CONFIG_NAMES:
        file = os.path.join(bundle_dir, name)
        try:
            st = os.stat(file)
        except OSError:
            continue
        # The bundle's own path too: the cached config holds it (bundle_dir), and
        # `current` and the release it points at share one real file.
        ident = (__version__, sys.hexversion, os.path.realpath(file),
                 os.path.abspath(bundle_dir), st.st_ino, st.st_size, st.st_mtime_ns, group,
                 environment)
        # zlib rather than hashlib: a cache name needs no cryptography, and
        # hashlib costs a few milliseconds to import in every hook.
        raw = repr(ident).encode()
        return f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}"
    return None


def _read(path: str) -> dict[str, Any] | None:
    """The entry at ``path``, or None (a miss).

    Root loads this file with ``marshal``: an entry not owned by this user,
    writable by anyone else or in such a directory is never trusted.
    """
    try:
        if not _trusted(os.path.dirname(path)):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            if not _trusted_stat(os.fstat(fd), regular=True):
                return None
            data: dict[str, Any] = marshal.load(fh)
        if data["env_source"].startswith("the tag file") and _tag(data["tag_file"]) != data[
            "tag_value"
        ]:
            return None
        config_from_data(data)  # proves the entry is complete
        return data
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None


def _trusted(directory: str) -> bool:
    try:
        return _trusted_stat(os.lstat(directory), regular=False)
    except OSError:
        return False


def _trusted_stat(st: os.stat_result, *, regular: bool) -> bool:
    """Owned by this user, writable by nobody else, and of the expected kind."""
    kind = st.st_mode & 0o170000
    if kind != (0o100000 if regular else 0o040000):
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _tag(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            words = fh.read().split()
    except OSError:
        return None
    return words[0] if words else None


#: Cache entries unused for this long are removed when a new one is written
#: (every deployment adds one or two; reading an entry does not refresh it).
MAX_AGE = 30 * 86400


def _prune(cache_dir: str, now: float | None = None) -> None:
    """Remove entries older than :data:`MAX_AGE`: the cache must not grow forever."""
    import time

    limit = (time.time() if now is None else now) - MAX_AGE
    try:
        entries = list(os.scandir(cache_dir))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.name.startswith("config-") and entry.stat().st_mtime < limit:
                os.unlink(entry.path)
        except OSError:
            pass


def _write(path: str, data: dict[str, object]) -> None:
    """Best effort: an unwritable state directory or odd values only cost speed."""
    from hdhooks.errors import HdhooksError
    from hdhooks.fsutil import atomic_write, ensure_dir, remove_stale_temps

    try:
        blob = marshal.dumps(data)
        directory = os.path.dirname(path)
        ensure_dir(directory, 0o700)  # entries 0600 in a 0700 dir, whatever the umask
        remove_stale_temps(directory)
        atomic_write(path, blob, mode=0o600)
    except (OSError, TypeError, ValueError, HdhooksError):
        pass
