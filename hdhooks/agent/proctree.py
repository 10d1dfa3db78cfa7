"""Processes of a hook script, read straight from /proc (no psutil on the hot path).

A script runs in a session of its own; with ``runas``, ``su`` starts yet
another session for the user's shell. So "the script's processes" are its
descendants plus every process still in its session (daemons that double
forked keep the session). :func:`terminate` ends them all: TERM, a short
grace, KILL. :func:`pipe_holders` names the processes that keep a pipe open.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    sid: int
    state: str
    cmdline: str

    def describe(self) -> str:
        return f"pid {self.pid} ({self.cmdline})"


def _read_stat(pid: int) -> ProcInfo | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    close = raw.rfind(")")
    comm = raw[raw.find("(") + 1 : close]
    fields = raw[close + 2 :].split()
    return ProcInfo(pid, int(fields[1]), int(fields[3]), fields[0], cmdline(pid) or comm)


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            data = fh.read()
    except OSError:
        return ""
    return data.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")


def _pids() -> list[int]:
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def snapshot() -> dict[int, ProcInfo]:
    out: dict[int, ProcInfo] = {}
    for pid in _pids():
        info = _read_stat(pid)
        if info is not None:
            out[pid] = info
    return out


def script_tree(pid: int) -> list[ProcInfo]:
    """``pid``, its descendants and the other members of its session, leader first."""
    procs = snapshot()
    me = os.getpid()
    found: dict[int, ProcInfo] = {}
    if pid in procs:
        found[pid] = procs[pid]
    changed = True
    while changed:
        changed = False
        for p in procs.values():
            if p.pid in found or p.pid == me:
                continue
            if p.ppid in found or p.sid == pid:
                found[p.pid] = p
                changed = True
    return [p for p in found.values() if p.state != "Z" or p.pid == pid]


def _alive(pid: int) -> bool:
    info = _read_stat(pid)
    return info is not None and info.state != "Z"


def terminate(pid: int, grace: float = 2.0) -> list[ProcInfo]:
    """End ``pid``'s whole tree: TERM, wait up to ``grace`` seconds, KILL the rest.

    Returns the processes that were signalled, so the caller can name them.
    """
    victims = [p for p in script_tree(pid) if p.state != "Z"]
    for p in victims:
        _signal(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = [p for p in victims if _alive(p.pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [p for p in left if _alive(p.pid)]
    # Anything the tree spawned meanwhile is KILLed too.
    for p in left + [q for q in script_tree(pid) if q.pid not in {v.pid for v in victims}]:
        _signal(p.pid, signal.SIGKILL)
    return victims


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def pipe_holders(fds: list[int]) -> list[ProcInfo]:
    """Other processes that hold the pipes behind our read ends ``fds``."""
    wanted = {f"pipe:[{os.fstat(fd).st_ino}]" for fd in fds}
    me = os.getpid()
    holders: list[ProcInfo] = []
    for pid in _pids():
        if pid == me:
            continue
        try:
            names = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for name in names:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue
            if link in wanted:
                info = _read_stat(pid)
                if info is not None:
                    holders.append(info)
                break
    return holders
