"""The process backend: a detached process and a pidfile, for hosts without systemd.

It behaves like a systemd simple service so the hooks need not care:

* the process gets its own session (setsid), stdin from /dev/null and its
  stdout/stderr appended to ``<log_dir>/<name>.log``, so it never holds the
  hook's pipes open (the CodeDeploy agent waits for those to close);
* the environment is clean, as under systemd: a fixed PATH, LANG/LC_ALL/TZ
  from the caller, HOME/USER/LOGNAME for the user, then the spec's ``env``;
* with ``user`` it runs as that user (and the user's groups), with ``group``
  as its primary group when given (systemd's ``Group=``); needs root;
* stop sends SIGTERM to the main process and everything in its session or
  process tree (systemd's KillMode=control-group), waits up to the stop
  timeout, then SIGKILLs what is left; stopping an absent or stopped
  service succeeds.

The pidfile holds the pid and the process's start time, so a pid reused by
an unrelated process after a reboot or crash is never signalled.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable

import psutil

from hdhooks.errors import CommandFailed, ConfigError
from hdhooks.instance.service.base import (
    Service,
    ServiceSpec,
    ServiceStatus,
    StopResult,
    check_port_released,
    tail_file,
)
from hdhooks.proc import STDOUT, Child, TimeoutExpired, spawn

SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PASSED_THROUGH = ("LANG", "LC_ALL", "TZ")
#: How long a start waits to see the process survive its first moments, so
#: an immediate failure (bad executable, missing library) fails the start.
START_SETTLE = 0.05
KILL_WAIT = 5.0


def read_pidfile(path: str) -> tuple[int, float | None] | None:
    """(pid, start time) from a pidfile; None when absent or unreadable."""
    try:
        with open(path, encoding="ascii") as f:
            parts = f.read().split()
        pid = int(parts[0])
        started = float(parts[1]) if len(parts) > 1 else None
    except (OSError, ValueError, IndexError):
        return None
    return (pid, started) if pid > 0 else None


def write_pidfile(path: str, pid: int, started: float) -> None:
    """Atomically write ``pid start-time`` (0644: status is readable by anyone)."""
    from hdhooks.fsutil import atomic_write

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    atomic_write(path, f"{pid}\n{started!r}\n", mode=0o644)


def service_env(spec: ServiceSpec, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the service gets (see the module docstring)."""
    base = dict(os.environ) if base is None else base
    env = {"PATH": SERVICE_PATH}
    env.update({k: base[k] for k in _PASSED_THROUGH if k in base})
    if spec.user:
        import pwd

        pw = pwd.getpwnam(spec.user)
        env.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name)
    env.update(spec.env)
    return env


class ProcessService(Service):
    """Service control for a detached process with a pidfile."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec

    # -- queries -------------------------------------------------------------
    def _process(self) -> psutil.Process | None:
        """The live main process named by the pidfile, if it is still ours."""
        entry = read_pidfile(self.spec.pid_path)
        if entry is None:
            return None
        pid, started = entry
        try:
            p = psutil.Process(pid)
            if started is not None and abs(p.create_time() - started) > 0.01:
                return None  # the pid was reused by another process
            if p.status() == psutil.STATUS_ZOMBIE:
                return None
            return p
        except psutil.NoSuchProcess:
            return None

    def is_installed(self) -> bool:
        exe = self.spec.command[0]
        if os.sep in exe:
            return os.access(exe, os.X_OK)
        from hdhooks.proc import which

        return which(exe) is not None

    def install(self) -> bool:
        return False  # nothing to install: the command is the release's

    def status(self) -> ServiceStatus:
        p = self._process()
        if p is not None:
            return ServiceStatus(True, p.pid, "active", "running", self.is_installed())
        if os.path.exists(self.spec.pid_path):
            # A pidfile without its process: it ended without being stopped.
            return ServiceStatus(False, None, "failed", "failed", self.is_installed())
        return ServiceStatus(False, None, "inactive", "dead", self.is_installed())

    def log_tail(self, lines: int = 20) -> list[str]:
        return tail_file(self.spec.log_file, lines)

    # -- actions -------------------------------------------------------------
    def start(self) -> None:
        """Start detached; raise CommandFailed when it cannot start or dies at once."""
        if self._process() is not None:
            return
        spec = self.spec
        proc = self._spawn()
        try:
            started = psutil.Process(proc.pid).create_time()
        except psutil.NoSuchProcess:
            started = time.time()
        write_pidfile(spec.pid_path, proc.pid, started)
        try:
            code = proc.wait(START_SETTLE)
        except TimeoutExpired:
            return
        raise CommandFailed(
            f"{spec.name} exited with status {code} right after start",
            argv=tuple(spec.command),
            exit_status=code,
            output_tail="\n".join(self.log_tail()),
        )

    def _spawn(self) -> Child[bytes]:
        spec = self.spec
        try:
            uid, gid, groups = _user_ids(spec.user)
            env = service_env(spec)
        except KeyError:
            raise ConfigError(f"service {spec.name}: no such user {spec.user!r}") from None
        if spec.group:
            gid = _group_id(spec.name, spec.group)
        os.makedirs(os.path.dirname(spec.log_file), exist_ok=True)
        with open(spec.log_file, "ab") as log:
            try:
                return spawn(
                    spec.command,
                    stdout=log,
                    stderr=STDOUT,
                    cwd=spec.workdir,
                    env=env,
                    user=uid,
                    group=gid,
                    extra_groups=groups,
                )
            except OSError as e:
                raise CommandFailed(
                    f"cannot start {spec.name}: {spec.command[0]}: {e.strerror or e}",
                    argv=tuple(spec.command),
                ) from None

    def reload(self) -> None:
        """A plain process has no reload protocol: stop it, start it again."""
        self.stop()
        self.start()

    def stop(self, timeout: float | None = None) -> StopResult:
        """TERM the service's processes, KILL them after the timeout."""
        timeout = self.spec.stop_timeout if timeout is None else timeout
        began = time.monotonic()
        main = self._process()
        if main is None:
            _remove(self.spec.pid_path)
            holders = check_port_released(self.spec.port)
            return StopResult(True, False, time.monotonic() - began, port_holders=holders)
        procs = service_processes(main)
        _signal_all(procs, signal.SIGTERM)
        alive = wait_gone(procs, timeout)
        killed = bool(alive)
        if alive:
            _signal_all(alive, signal.SIGKILL)
            alive = wait_gone(alive, KILL_WAIT)
        if not alive:
            _remove(self.spec.pid_path)
        duration = time.monotonic() - began
        message = f"pids {', '.join(str(p.pid) for p in alive)} survived SIGKILL" if alive else ""
        return StopResult(
            stopped=not alive,
            was_running=True,
            duration=duration,
            main_pid=main.pid,
            killed=killed,
            port_holders=check_port_released(self.spec.port),
            message=message,
        )


def service_processes(main: psutil.Process) -> list[psutil.Process]:
    """The main process, its descendants, and anything left in its session.

    The session catches daemonised grandchildren that were re-parented to
    init, as systemd's control group would.
    """
    procs = {main.pid: main}
    try:
        for child in main.children(recursive=True):
            procs[child.pid] = child
    except psutil.NoSuchProcess:
        pass
    for pid in psutil.pids():
        if pid in procs or pid == os.getpid():
            continue
        try:
            if os.getsid(pid) == main.pid:
                procs[pid] = psutil.Process(pid)
        except (OSError, psutil.NoSuchProcess):
            continue
    return list(procs.values())


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited; return those still alive at ``timeout``.

    A zombie counts as gone: its parent (maybe an init that never reaps)
    owns it, and it holds no resources. Our own children are reaped. The
    poll starts at 2 ms and grows to 20 ms, so a stop is noticed quickly
    without spinning (psutil.wait_procs waits up to 1/n s per process).
    """
    deadline = time.monotonic() + timeout
    interval = 0.002
    alive = list(procs)
    while True:
        alive = [p for p in alive if not _gone(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(interval * 2, 0.02)


def _gone(p: psutil.Process) -> bool:
    try:
        os.waitpid(p.pid, os.WNOHANG)  # reap it if it is our child
    except ChildProcessError:
        pass
    try:
        return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _signal_all(procs: Iterable[psutil.Process], sig: int) -> None:
    for p in procs:
        try:
            p.send_signal(sig)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def _user_ids(user: str | None) -> tuple[int | None, int | None, list[int] | None]:
    """uid, gid and groups to run the child as ``user`` (all None: as we are)."""
    if not user:
        return None, None, None
    import pwd

    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid, os.getgrouplist(pw.pw_name, pw.pw_gid)


def _group_id(service: str, group: str) -> int:
    """The gid of ``group`` (a name or a number), as systemd's ``Group=``."""
    if group.isdigit():
        return int(group)
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ConfigError(f"service {service}: no such group {group!r}") from None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
