"""Running one hook script the way the CodeDeploy agent does, and explaining it.

Command line (``su USER -c PATH``, ``sudo su USER -c PATH``, ``sudo PATH`` or
``PATH``), environment, ``chmod +x`` of a non-executable script, /bin/sh for a
script without a shebang, one deadline for the process and its output, and
the agent's result codes and messages. Output is read with a selector on the
two pipes and a pidfd, line by line into scripts.log, with no fixed sleeps.

Better than the agent: a timeout ends the whole tree (TERM, grace, KILL),
``su`` sessions included; an output pipe left open by a child is reported,
with the process holding it, as soon as the script itself exits.
"""

from __future__ import annotations

import os
import selectors
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hdhooks.agent.logs import ScriptLog
from hdhooks.appspec.model import HookScript
from hdhooks.proc import Child, pipe_holders, spawn, terminate

SUCCEEDED = 0
SCRIPT_MISSING = 1
NOT_EXECUTABLE = 2
TIMED_OUT = 3
FAILED = 4
UNKNOWN_ERROR = 5
OUTPUTS_LEFT_OPEN = 6
TAIL_BYTES = 2048  # the agent keeps about the last 2 KB of a script's output
TAIL_LINES = 256  # lines kept in memory to cut that tail from (each at least 9 chars)
# After the script exits, how long its pipes may stay open. The agent waits up to
# the timeout, so a child that finishes (and closes them) within a moment passes
# there: it must pass here too. Longer than that is a daemon holding the pipe.
OPEN_PIPE_GRACE = 2.0
KILL_GRACE = 2.0


@dataclass
class ScriptResult:
    """What one script did, with everything needed to explain a failure."""

    location: str
    code: int = SUCCEEDED
    message: str = ""
    exit_status: int | None = None
    duration: float = 0.0
    tail: list[str] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)  # "pid N (cmd)" of processes we ended
    holders: list[str] = field(default_factory=list)  # processes that kept an output open
    warnings: list[str] = field(default_factory=list)
    hint: str = ""  # how to fix it, when hdhooks can tell

    @property
    def ok(self) -> bool:
        return self.code == SUCCEEDED


def script_path(archive: str, location: str) -> str:
    """``location`` inside the archive, even when it starts with ``/``."""
    return os.path.join(archive, location.strip().lstrip("/"))


def output_tail(lines: Iterable[str], budget: int = TAIL_BYTES) -> list[str]:
    """The last lines that fit in ``budget`` characters, as the agent's ~2 KB tail;
    the line that does not fit keeps its end when there is room for it."""
    out: list[str] = []
    for line in reversed(list(lines)):
        if len(line) + 1 > budget:
            if budget > 80:
                out.append("..." + line[-(budget - 4):])
            break
        out.append(line)
        budget -= len(line) + 1
    return out[::-1]


def command_for(script: HookScript, path: str) -> list[str]:
    """The agent's command line for ``script`` at ``path``.

    With ``runas``, ``su`` hands its ``-c`` string to the user's shell, as the
    agent does; the path is quoted for that shell, so a deployment root with
    spaces, quotes, ``;``, ``$(...)`` or a newline names the script and runs
    nothing else.
    """
    if script.runas:
        import shlex

        base = ["su", script.runas, "-c", shlex.quote(path)]
        return ["sudo", *base] if script.sudo else base
    if script.sudo:
        return ["sudo", path]
    return [path] if _has_shebang(path) else ["/bin/sh", path]


def _has_shebang(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return True
    return head[:2] == b"#!" or head == b"\x7fELF"


def _prepare(script: HookScript, path: str, result: ScriptResult) -> bool:
    """The agent's checks before running: exists, executable (else chmod +x)."""
    loc = script.location
    if " " in loc or "\t" in loc:
        result.code = UNKNOWN_ERROR
        result.message = (
            f"Script at specified location: {loc} could not be run: the location contains "
            "white space, which the CodeDeploy agent splits into a command and arguments"
        )
        return False
    if not os.path.isfile(path):
        result.code = SCRIPT_MISSING
        result.message = f"Script does not exist at specified location: {path}"
        return False
    if not os.access(path, os.X_OK):
        result.warnings.append(
            f"Script at specified location: {loc} is not executable.  "
            "Trying to make it executable."
        )
        try:
            os.chmod(path, os.stat(path).st_mode | 0o111)
        except OSError:
            result.code = NOT_EXECUTABLE
            result.message = f"Unable to set script at specified location: {loc} as executable"
            return False
    return True


def run_script(
    script: HookScript,
    archive: str,
    env: Mapping[str, str],
    log: ScriptLog,
) -> ScriptResult:
    """Run one script; never raises for a script's failure (see ``result.code``)."""
    result = ScriptResult(script.location)
    path = script_path(archive, script.location)
    start = time.monotonic()
    if _prepare(script, path, result):
        log.line(f"Script - {script.location}")
        _execute(script, command_for(script, path), env, log, result)
    result.duration = time.monotonic() - start
    return result


def _execute(
    script: HookScript,
    argv: list[str],
    env: Mapping[str, str],
    log: ScriptLog,
    result: ScriptResult,
) -> None:
    try:
        proc = spawn(argv, env=env)
    except OSError as exc:
        result.code = UNKNOWN_ERROR
        result.message = (
            f"Script at specified location: {script.location} could not be started: "
            f"{exc.strerror or exc}"
        )
        return
    reader = _Reader(proc, log)
    try:
        outcome = reader.wait(script.timeout)
    except BaseException:  # Ctrl-C or SIGTERM: end the tree, keep the log, re-raise
        result.killed = [p.describe() for p in terminate(proc.pid, 1.0)]
        reader.close()
        proc.wait()
        log.line("[stderr][hdhooks] interrupted: the script's processes were ended")
        raise
    result.tail = output_tail(reader.tail)
    _conclude(script, proc, reader, outcome, result)


def _conclude(
    script: HookScript,
    proc: Child[bytes],
    reader: _Reader,
    outcome: str,
    result: ScriptResult,
) -> None:
    loc = script.location
    if outcome == "timeout":
        result.killed = [p.describe() for p in terminate(proc.pid, KILL_GRACE)]
        reader.drain()
        reader.close()
        proc.wait()
        result.tail = output_tail(reader.tail)
        result.code = TIMED_OUT
        result.message = (
            f"Script at specified location: {loc} failed to complete in {script.timeout} seconds"
        )
        return
    if outcome in ("stdout", "stderr"):
        result.holders = [p.describe() for p in pipe_holders(reader.open_fds())]
        reader.close()
        proc.wait()
        result.code = OUTPUTS_LEFT_OPEN
        result.message = f"Script at specified location: {loc} failed to close {outcome.upper()}"
        return
    reader.close()
    status = proc.wait()
    result.exit_status = status
    if status != 0:
        shown = "" if status < 0 else str(status)
        who = f" run as user {script.runas}" if script.runas else ""
        result.code = FAILED
        result.message = (
            f"Script at specified location: {loc}{who} failed with exit code {shown}"
        )
        if script.runas and os.geteuid() != 0:
            result.hint = ("runas needs a deployment run as root: su asks any other user "
                           "for a password, and a deployment has no terminal to type it")
        if status < 0:
            import signal

            result.tail.append(f"[hdhooks] the script was killed by {signal.Signals(-status).name}")


class _Reader:
    """Reads both pipes into scripts.log, watching the process exit through a pidfd."""

    def __init__(self, proc: Child[bytes], log: ScriptLog) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.log = log
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.sel = selectors.DefaultSelector()
        self.partial = {"stdout": b"", "stderr": b""}
        self.streams = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
        for fd, name in self.streams.items():
            self.sel.register(fd, selectors.EVENT_READ, name)
        self.pidfd = -1
        if hasattr(os, "pidfd_open"):
            try:
                self.pidfd = os.pidfd_open(proc.pid)
                self.sel.register(self.pidfd, selectors.EVENT_READ, "exit")
            except OSError:
                self.pidfd = -1

    def open_fds(self) -> list[int]:
        return list(self.streams)

    def wait(self, timeout: float) -> str:
        """Read until both pipes close: "done", "timeout", or the stream left open."""
        deadline = time.monotonic() + timeout
        exited_at: float | None = None
        while self.streams:
            now = time.monotonic()
            if now >= deadline:
                return "timeout"
            wait = deadline - now
            if exited_at is not None:
                if now - exited_at >= OPEN_PIPE_GRACE:
                    return "stdout" if "stdout" in self.streams.values() else "stderr"
                wait = min(wait, exited_at + OPEN_PIPE_GRACE - now)
            elif self.pidfd < 0:
                wait = min(wait, 0.02)
            for key, _ in self.sel.select(wait):
                if key.data == "exit":
                    self.sel.unregister(self.pidfd)
                    exited_at = time.monotonic()
                else:
                    self._read(key.fd, key.data)
            if exited_at is None and self.pidfd < 0 and self.proc.poll() is not None:
                exited_at = time.monotonic()
        return "done"

    def _read(self, fd: int, name: str) -> None:
        chunk = os.read(fd, 65536)
        if not chunk:
            self.sel.unregister(fd)
            del self.streams[fd]
            if self.partial[name]:
                self._emit(name, self.partial[name])
                self.partial[name] = b""
            return
        data = self.partial[name] + chunk
        *lines, self.partial[name] = data.split(b"\n")
        for line in lines:
            self._emit(name, line)

    def _emit(self, name: str, raw: bytes) -> None:
        text = f"[{name}]{raw.decode('utf-8', 'replace')}"
        self.log.line(text)
        self.tail.append(text if len(text) <= TAIL_BYTES else text[-TAIL_BYTES:])

    def drain(self) -> None:
        """Read what is already buffered, without waiting."""
        while self.streams:
            ready = self.sel.select(0)
            fds = [k for k, _ in ready if k.data != "exit"]
            if not fds:
                return
            for key in fds:
                self._read(key.fd, key.data)

    def close(self) -> None:
        for name, rest in self.partial.items():
            if rest:
                self._emit(name, rest)
                self.partial[name] = b""
        self.sel.close()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        self.streams = {}
