"""Running external commands: the one place hdhooks calls subprocess.

``run()`` returns a :class:`Result` with the exit status, the combined output
(and its tail) and the duration, so callers and error messages can explain a
failure without re-running anything. ``kill_tree()`` ends a process and all
its descendants: TERM, a short grace, then KILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

from hdhooks.errors import CommandFailed
from hdhooks.record import Record


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
        raise CommandFailed(
            f"{name} {status}",
            argv=self.argv,
            exit_status=self.returncode,
            output_tail=self.tail(),
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
    """TERM ``pid`` and every descendant, KILL whatever is left after ``grace``.

    Returns ``(pid, command line)`` of every process that was signalled, so a
    caller can say what it killed.
    """
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    killed: list[tuple[int, str]] = []
    for p in procs:
        try:
            killed.append((p.pid, " ".join(p.cmdline()) or p.name()))
            p.send_signal(signal.SIGTERM)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    psutil.wait_procs(alive, timeout=grace)
    return killed


def which(name: str) -> str | None:
    """Like ``shutil.which`` but cheap to import."""
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
