"""The traffic journal: every mutating AWS action, written with its inverse before it is made.

A deployment that fails, is rolled back (a new deployment id) or whose hook
is killed mid-drain must never leave the instance in Standby or out of its
target groups. So before hdhooks calls EnterStandby or DeregisterTargets it
writes one entry, fsynced, saying what it is about to do and how to undo it.
The deployment's own allow step settles the entry ("completed");
``hdhooks reconcile`` settles what a finished, failed or abandoned
deployment left open ("undone").

Layout under the state directory (0700 directories, 0600 files)::

    journal/<id>.json           open entries, one file each
    journal/history/<id>.json   settled entries, the newest HISTORY_KEEP kept

The id is made by hdhooks (time + random hex), so a file name never depends
on a deployment group or deployment id string, whatever characters they hold.
Files are read without following links, bounded in size.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from hdhooks.errors import CheckFailed, HdhooksError
from hdhooks.fsread import read_regular
from hdhooks.fsutil import atomic_write, ensure_dir, fsync_dir

#: Actions hdhooks journals, each with the inverse reconcile performs.
INVERSES = {
    "EnterStandby": "ExitStandby",
    "DeregisterTargets": "RegisterTargets",
    "SuspendProcesses": "ResumeProcesses",
}
SETTLED_HOW = ("undone", "completed")
#: How many settled entries the history keeps (for status and post-mortems).
HISTORY_KEEP = 50
#: An entry is a few hundred bytes; a bigger file is not one.
ENTRY_LIMIT = 256 * 1024
_SUFFIX = ".json"


class JournalError(CheckFailed):
    """A journal file that cannot be used; names the file and what is wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}",
                         hint="inspect it; hdhooks reconcile cannot undo what it cannot read")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class Entry:
    """One mutating action and its inverse, as written before the action was made.

    ``params`` / ``inverse_params`` are plain JSON dicts, for example
    ``{"asg": "api-prod", "instance_id": "i-0abc", "decrement": true}`` or
    ``{"instance_id": "i-0abc", "targets": [{"arn": "...", "port": 8080}]}``.
    ``settled`` / ``how`` are set only on history entries.
    """

    id: str
    component: str
    region: str
    deployment_group: str
    deployment_id: str
    action: str
    params: dict[str, Any]
    inverse: str
    inverse_params: dict[str, Any]
    created: float
    event: str
    settled: float | None = None
    how: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The entry as the plain JSON object stored on disk (and shown by status)."""
        doc: dict[str, Any] = {
            "version": 1, "id": self.id, "component": self.component,
            "region": self.region, "deployment_group": self.deployment_group,
            "deployment_id": self.deployment_id, "action": self.action,
            "params": self.params, "inverse": self.inverse,
            "inverse_params": self.inverse_params, "created": self.created,
            "event": self.event,
        }
        if self.settled is not None:
            doc["settled"] = self.settled
            doc["how"] = self.how
        doc.update(self.extra)
        return doc

    def describe(self) -> str:
        """One line for humans: what was done and what undoing it means."""
        return (f"{self.action} by {self.event} of {self.deployment_group or '-'} "
                f"{self.deployment_id or '-'} ({self.component}); undo: {self.inverse}")


_KNOWN = ("id", "component", "region", "deployment_group", "deployment_id", "action",
          "params", "inverse", "inverse_params", "created", "event", "settled", "how")


def parse_entry(data: object, path: str) -> Entry:
    """An entry from its JSON object; wrong shapes name the file and the key."""
    if not isinstance(data, dict):
        raise JournalError(path, "not a journal entry (expected a JSON object)")
    strings = {}
    for key in ("id", "component", "region", "deployment_group", "deployment_id",
                "action", "inverse", "event"):
        value = data.get(key, "")
        if not isinstance(value, str):
            raise JournalError(path, f"{key} must be a string")
        strings[key] = value
    if not strings["id"] or not strings["action"] or not strings["inverse"]:
        raise JournalError(path, "id, action and inverse are required")
    dicts = {}
    for key in ("params", "inverse_params"):
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise JournalError(path, f"{key} must be an object")
        dicts[key] = value
    created = data.get("created", 0)
    settled = data.get("settled")
    if not _number(created) or (settled is not None and not _number(settled)):
        raise JournalError(path, "created/settled must be numbers (epoch seconds)")
    extra = {k: v for k, v in data.items() if k not in _KNOWN and k != "version"}
    return Entry(**strings, **dicts, created=float(created),  # type: ignore[arg-type]
                 settled=None if settled is None else float(settled),
                 how=str(data.get("how", "")), extra=extra)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _new_id(now: float) -> str:
    """Sortable by creation time, unique without coordination, safe as a file name."""
    return f"{int(now * 1000):013d}-{os.getpid()}-{os.urandom(4).hex()}"


class Journal:
    """The open traffic actions of every component on this instance."""

    def __init__(self, state_dir: str, *, clock: Any = time.time) -> None:
        self.state_dir = state_dir
        self.dir = os.path.join(state_dir, "journal")
        self.history_dir = os.path.join(self.dir, "history")
        self._clock = clock

    def _ensure(self) -> None:
        ensure_dir(self.dir, 0o700)
        ensure_dir(self.history_dir, 0o700)

    def begin(self, *, component: str, region: str, deployment_group: str,
              deployment_id: str, action: str, params: dict[str, Any],
              inverse_params: dict[str, Any], event: str,
              inverse: str | None = None) -> Entry:
        """Record ``action`` (durably) before the caller makes it; returns the entry.

        ``inverse`` defaults to :data:`INVERSES`; an action without a known
        inverse must name one, since an entry reconcile cannot undo is useless.
        """
        undo = inverse or INVERSES.get(action)
        if not undo:
            raise ValueError(f"no inverse known for {action}")
        now = float(self._clock())
        entry = Entry(id=_new_id(now), component=component, region=region,
                      deployment_group=deployment_group, deployment_id=deployment_id,
                      action=action, params=dict(params), inverse=undo,
                      inverse_params=dict(inverse_params), created=now, event=event)
        self._ensure()
        atomic_write(self._open_path(entry.id), json.dumps(entry.to_dict(), indent=1) + "\n",
                     mode=0o600)
        return entry

    def settle(self, entry: Entry, how: str) -> Entry:
        """Close ``entry``: "undone" (reconcile ran the inverse) or "completed".

        "completed" means the deployment's own allow step reversed it. The
        entry moves to the history; settling one already settled is a no-op,
        so a reconcile racing the hook that finished cannot fail either.
        """
        if how not in SETTLED_HOW:
            raise ValueError(f"settle how must be one of {SETTLED_HOW}, not {how!r}")
        self._ensure()
        done = Entry(**{**entry.__dict__, "settled": float(self._clock()), "how": how})
        open_path = self._open_path(entry.id)
        if os.path.lexists(open_path):
            atomic_write(os.path.join(self.history_dir, entry.id + _SUFFIX),
                         json.dumps(done.to_dict(), indent=1) + "\n", mode=0o600)
            try:
                os.unlink(open_path)
            except FileNotFoundError:
                pass
            fsync_dir(self.dir)
            self._trim_history()
        return done

    def adopt(self, entry: Entry, *, deployment_group: str, deployment_id: str,
              event: str) -> Entry:
        """Hand an open entry to a newer deployment of the same group.

        When a new deployment's block step finds the instance already out of
        traffic because of an older deployment's entry, keeping that state
        (and re-keying the entry) beats undoing it only to redo it. The
        entry keeps its id; ``extra["adopted_from"]`` records the old key.
        """
        adopted = Entry(**{**entry.__dict__, "deployment_group": deployment_group,
                           "deployment_id": deployment_id, "event": event,
                           "extra": {**entry.extra, "adopted_from": entry.deployment_id}})
        self._ensure()
        atomic_write(self._open_path(entry.id), json.dumps(adopted.to_dict(), indent=1) + "\n",
                     mode=0o600)
        return adopted

    def open_entries(self, component: str | None = None) -> list[Entry]:
        """Open entries, oldest first; ``component`` limits them to one component.

        An unreadable file raises :class:`JournalError`: silently skipping it
        would let reconcile report "whole" with an action still outstanding.
        """
        entries = [self._read(p) for p in self._files(self.dir)]
        return [e for e in entries if component is None or e.component == component]

    def history(self, component: str | None = None) -> list[Entry]:
        """Settled entries, oldest first (the newest :data:`HISTORY_KEEP`)."""
        entries = []
        for path in self._files(self.history_dir):
            try:
                entries.append(self._read(path))
            except JournalError:
                continue
        return [e for e in entries if component is None or e.component == component]

    def has_open(self) -> bool:
        """Cheap test (no JSON parse) for the start of every hook."""
        return bool(self._files(self.dir))

    def _open_path(self, entry_id: str) -> str:
        if not entry_id or "/" in entry_id or entry_id.startswith("."):
            raise ValueError(f"not a journal entry id: {entry_id!r}")
        return os.path.join(self.dir, entry_id + _SUFFIX)

    @staticmethod
    def _files(directory: str) -> list[str]:
        try:
            names = sorted(n for n in os.listdir(directory)
                           if n.endswith(_SUFFIX) and not n.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [os.path.join(directory, n) for n in names]

    @staticmethod
    def _read(path: str) -> Entry:
        try:
            raw = read_regular(path, ENTRY_LIMIT)
            data = json.loads(raw.decode("utf-8"))
        except (OSError, HdhooksError) as exc:
            raise JournalError(path, f"cannot read: {exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise JournalError(path, f"not valid JSON ({exc})") from None
        return parse_entry(data, path)

    def _trim_history(self) -> None:
        files = self._files(self.history_dir)
        for path in files[:-HISTORY_KEEP] if len(files) > HISTORY_KEEP else []:
            try:
                os.unlink(path)
            except OSError:
                pass
