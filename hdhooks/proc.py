"""Running external commands: the one place hdhooks calls subprocess.

``run()`` returns a :class:`Result` with the exit status, the combined output
(and its tail) and the duration, so callers and error messages can explain a
failure without re-running anything. ``kill_tree()`` ends a process and all
its descendants: TERM, a short grace, then KILL.

Children are started in a session of their own; with ``runas``, ``su`` starts
yet another session for the user's shell. So "a command's processes" are its
descendants plus every process still in its session (daemons that double
forked keep the session). :func:`terminate` ends them all and
:func:`pipe_holders` names the processes that keep a pipe open. Everything
is read from /proc: psutil is too costly to import on a hook's path.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

from hdhooks.errors import CommandFailed
from hdhooks.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import IO


class Result(Record):
    """What a finished command did."""

    argv: tuple[str, ...]
    returncode: int
    output: str
    duration: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.output.splitlines()[-lines:])

    def check(self, what: str = "") -> Result:
        """Raise :class:`CommandFailed` unless the command succeeded."""
        if self.ok:
            return self
        name = what or " ".join(self.argv)
        status = "timed out" if self.timed_out else f"exited {self.returncode}"
        raise CommandFailed(f"{name} {status}", result=self)


PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT
TimeoutExpired = subprocess.TimeoutExpired
Child = subprocess.Popen  # a running child, as spawn() returns it


def spawn(
    argv: Sequence[str],
    *,
    stdout: int | IO[bytes] = PIPE,
    stderr: int | IO[bytes] = PIPE,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    user: int | None = None,
    group: int | None = None,
    extra_groups: Sequence[int] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own, stdin from /dev/null, no shell.

    The new session is what lets :func:`terminate` end the whole tree later,
    daemons that double forked included. OSError (no such program, no
    permission) reaches the caller, which knows how to word it.
    """
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        env=None if env is None else dict(env),
        cwd=cwd,
        start_new_session=True,
        close_fds=True,
        user=user,
        group=group,
        extra_groups=None if extra_groups is None else list(extra_groups),
    )


def run(
    argv: Sequence[str],
    *,
    timeout: float | None = 60.0,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    input: str | None = None,
) -> Result:
    """Run ``argv`` to completion; stdout and stderr are captured together."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            text=True,
            errors="replace",
        )
    except FileNotFoundError:
        return Result(tuple(argv), 127, f"{argv[0]}: command not found", 0.0)
    except PermissionError:
        return Result(tuple(argv), 126, f"{argv[0]}: permission denied", 0.0)
    try:
        output, _ = proc.communicate(input=input, timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        output, _ = proc.communicate()
        timed_out = True
    return Result(tuple(argv), proc.returncode, output or "", time.monotonic() - start, timed_out)


def kill_tree(pid: int, grace: float = 2.0) -> list[tuple[int, str]]:
    """:func:`terminate` ``pid``'s tree; ``(pid, command line)`` of each process signalled."""
    return [(p.pid, p.cmdline) for p in terminate(pid, grace)]


def which(name: str) -> str | None:
    """Like ``shutil.which`` but cheap to import."""
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


# --- process trees, read straight from /proc (no psutil on the hot path) -------

class ProcInfo(Record):
    """One process as /proc shows it."""

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
