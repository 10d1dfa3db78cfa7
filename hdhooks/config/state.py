"""The component state file: what the last successful ApplicationStart recorded.

``<state dir>/components/<component>.json`` tells ``hdhooks rollback`` and
``hdhooks restart`` where a component lives, and gives ApplicationStop the
config a revision was started with when that revision's own config can no
longer be read. Each record carries a ``version``; a record written by an
older hdhooks (no ``version``: the first format) is read with defaults for
what it lacks, and one from a newer hdhooks is refused with a message that
says so, never a KeyError. One hook at a time may act on a component: see
:func:`component_lock`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import MappingProxyType

from hdhooks.errors import CheckFailed, HdhooksError, UsageError
from hdhooks.fsread import open_nofollow, read_regular
from hdhooks.fsutil import atomic_write, ensure_dir
from hdhooks.record import EMPTY_MAP, Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import Any

#: The format this hdhooks writes. 1 was the unversioned record.
STATE_VERSION = 2
#: A state record is small; anything bigger is not one.
STATE_LIMIT = 4 * 1024 * 1024


class StateError(UsageError):
    """A state record that cannot be used; names the file and what is wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}",
                         hint="remove the file; the next successful ApplicationStart "
                              "writes it again")
        self.path = path
        self.problem = problem


class ComponentState(Record):
    """Where a component lives and how its running release was deployed.

    A Record, not a dataclass: ApplicationStop reads it on every deployment,
    and importing dataclasses (with inspect) would double that hook's start.
    """

    component: str
    base_dir: str
    environment: str | None = None
    deployment_group: str | None = None
    deployment_id: str | None = None
    config: dict[str, Any] | None = None  # what config.cache.load_config_data returned
    version: int = STATE_VERSION
    hdhooks_version: str = ""
    extra: dict[str, Any] = EMPTY_MAP  # type: ignore[assignment]  # keys of a newer format


def components_dir(state_dir: str) -> str:
    return os.path.join(state_dir, "components")


def state_path(state_dir: str, component: str) -> str:
    return os.path.join(components_dir(state_dir), f"{component}.json")


def parse_state(data: object, path: str) -> ComponentState:
    """A record as read from JSON; the first format gets defaults for the new keys."""
    if not isinstance(data, dict):
        raise StateError(path, "not a component state record (expected a JSON object)")
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StateError(path, f"version {version!r} is not a state format version")
    if version > STATE_VERSION:
        raise StateError(path, f"written by a newer hdhooks (state format {version}; this "
                               f"one reads up to {STATE_VERSION})")
    for key in ("component", "base_dir"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise StateError(path, f"'{key}' is missing or not a string")
    config = data.get("config")
    known = {f for f in ComponentState._field_names if f != "extra"}
    return ComponentState(
        component=data["component"],
        base_dir=data["base_dir"],
        environment=_opt_str(data.get("environment")),
        deployment_group=_opt_str(data.get("deployment_group")),
        deployment_id=_opt_str(data.get("deployment_id")),
        config=config if isinstance(config, dict) and _usable_config(config) else None,
        version=version,
        hdhooks_version=str(data.get("hdhooks_version") or ""),
        extra={k: v for k, v in data.items() if k not in known},
    )


def _plain(value: object) -> object:
    """A Record's read-only mapping back as a dict, for JSON."""
    return dict(value) if isinstance(value, MappingProxyType) else value


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _usable_config(data: dict[str, Any]) -> bool:
    """Whether a recorded config has the parts config.cache.config_from_data reads."""
    return (isinstance(data.get("top"), dict) and isinstance(data.get("sections"), dict)
            and all(k in data for k in ("env", "env_source", "path", "bundle_dir")))


def read_state(path: str) -> ComponentState:
    """One record; StateError when it is not a usable one (never KeyError)."""
    raw = read_regular(path, STATE_LIMIT)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StateError(path, f"not JSON ({exc})") from None
    return parse_state(data, path)


def read_all(state_dir: str) -> tuple[list[ComponentState], list[StateError]]:
    """Every record under the state dir, and the ones that could not be read."""
    directory = components_dir(state_dir)
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    except OSError:
        return [], []
    found: list[ComponentState] = []
    bad: list[StateError] = []
    for name in names:
        try:
            found.append(read_state(os.path.join(directory, name)))
        except StateError as exc:
            bad.append(exc)
        except HdhooksError as exc:
            bad.append(StateError(os.path.join(directory, name), exc.message))
    return found, bad


def write_state(state_dir: str, state: ComponentState) -> str:
    """Write the record atomically (0644: rollback runs as root, readers may not)."""
    ensure_dir(state_dir, 0o755)
    ensure_dir(components_dir(state_dir), 0o755)
    path = state_path(state_dir, state.component)
    record: dict[str, object] = dict(state.extra)
    record.update((name, _plain(getattr(state, name)))
                  for name in ComponentState._field_names if name != "extra")
    record["version"] = STATE_VERSION
    atomic_write(path, json.dumps(record, indent=2, default=str) + "\n", mode=0o644)
    return path


# --- one hook at a time per component -------------------------------------------

class Busy(CheckFailed):
    """Another hdhooks run holds the component's lock."""

    def __init__(self, component: str, holder: str, path: str) -> None:
        super().__init__(
            f"component {component} is busy: {holder or 'another hdhooks run'} holds "
            f"{path}", hint="wait for it to finish, then run again")
        self.component = component
        self.holder = holder


@contextmanager
def component_lock(state_dir: str, component: str, what: str) -> Iterator[None]:
    """Hold ``<state dir>/locks/<component>.lock`` for one hook, rollback or restart.

    Two ApplicationStart runs at once would start two servers; the second
    run gets :class:`Busy` (exit 1) at once instead of waiting, since the
    agent retries nothing and a person who runs ``rollback`` during a
    deployment should be told. The lock file is opened without following a
    link, in a directory hdhooks made with a safe mode whatever the umask.
    """
    import fcntl

    ensure_dir(state_dir, 0o755)
    locks = ensure_dir(os.path.join(state_dir, "locks"), 0o700)
    path = os.path.join(locks, f"{component}.lock")
    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip()
            raise Busy(component, holder, path) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{what} (pid {os.getpid()})\n".encode(), 0)
        yield
    finally:
        os.close(fd)
