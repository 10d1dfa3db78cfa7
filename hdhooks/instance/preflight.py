"""Preflight: what must hold on the instance before a deployment touches it.

Free disk space, required commands (and their versions, e.g. ``java``), and
ports held by something other than the component's own service. Each check
returns a :class:`Finding`; a failed one is a single line that says what is
wrong and what to do, so a hook can print all of them at once and stop
before the first side effect.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence

from hdhooks import proc
from hdhooks.instance.ports import PortHolder
from hdhooks.record import Record

#: Version flags of commands that do not understand ``--version``.
VERSION_ARGS: dict[str, tuple[str, ...]] = {"java": ("-version",), "javac": ("-version",)}
_QUOTED_VERSION = re.compile(r'version\s+"([^"]+)"')
_VERSION = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)*)")


class Finding(Record):
    """The outcome of one preflight check."""

    check: str  # disk, command, port
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAILED'} {self.check}: {self.message}"


class Requirement(Record):
    """A command that must exist, optionally at least ``min_version``."""

    command: str
    min_version: str | None = None
    #: what makes it print its version; None: ``-version`` for java/javac, else ``--version``
    version_args: tuple[str, ...] | None = None


def parse_version(text: str) -> tuple[int, ...] | None:
    """The first version in a command's output, as integers. Pure.

    Handles ``openjdk version "17.0.2" 2022-01-18``, ``java version
    "1.8.0_292"`` (Java 8 is reported as (8, 0, 292)), ``Python 3.11.7``,
    ``nginx version: nginx/1.24.0``.
    """
    quoted = _QUOTED_VERSION.search(text)
    raw = quoted.group(1) if quoted else None
    if raw is None:
        m = _VERSION.search(text.replace("/", " "))
        if m is None:
            return None
        raw = m.group(1)
    parts = tuple(int(p) for p in re.findall(r"\d+", raw))
    if not parts:
        return None
    if quoted and len(parts) > 1 and parts[0] == 1:
        parts = parts[1:]  # Java's old "1.8" numbering
    return parts


def version_at_least(found: Sequence[int], wanted: Sequence[int]) -> bool:
    """Compare dotted versions, missing parts counting as 0 (17 >= 17.0.0)."""
    width = max(len(found), len(wanted))
    a = tuple(found) + (0,) * (width - len(found))
    b = tuple(wanted) + (0,) * (width - len(wanted))
    return a >= b


def check_disk(path: str, min_mb: int) -> Finding:
    """At least ``min_mb`` MiB free on the filesystem holding ``path``."""
    probe = path
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)  # the folder may not exist yet
    try:
        st = os.statvfs(probe)
    except OSError as e:
        return Finding("disk", False, f"cannot stat {path}: {e.strerror}")
    free_mb = st.f_bavail * st.f_frsize // (1024 * 1024)
    if free_mb < min_mb:
        return Finding("disk", False, f"{path}: {free_mb} MB free, need {min_mb} MB "
                                      "(remove old releases or logs, or grow the volume)")
    return Finding("disk", True, f"{path}: {free_mb} MB free (need {min_mb} MB)")


def check_command(
    req: Requirement, run: Callable[[Sequence[str]], proc.Result] | None = None
) -> Finding:
    """``req.command`` is on PATH and, if asked, at least ``req.min_version``."""
    path = proc.which(req.command)
    if path is None:
        return Finding("command", False, f"{req.command} not found on PATH (install it in the AMI)")
    if not req.min_version:
        return Finding("command", True, f"{req.command}: {path}")
    args = req.version_args if req.version_args is not None else VERSION_ARGS.get(
        req.command, ("--version",))
    argv = [path, *args]
    result = (run or _run_quick)(argv)
    found = parse_version(result.output)
    if found is None:
        return Finding("command", False, f"{req.command}: cannot read its version from "
                                         f"`{' '.join(argv)}`: {result.tail(1)!r}")
    wanted = parse_version(req.min_version) or ()
    have = ".".join(map(str, found))
    if not version_at_least(found, wanted):
        return Finding("command", False, f"{req.command} {have} is older than {req.min_version} "
                                         f"({path}; install a newer one)")
    return Finding("command", True, f"{req.command} {have} (need >= {req.min_version})")


def _run_quick(argv: Sequence[str]) -> proc.Result:
    return proc.run(argv, timeout=20.0)


def check_port(port: int, own_pids: Iterable[int] = (),
               holders: Callable[[int], list[PortHolder]] | None = None) -> Finding:
    """``port`` is free, or held only by the service's own processes.

    The own service holding its port is fine (ApplicationStop will stop
    it); anything else will make the new release fail to bind.
    """
    from hdhooks.instance import ports

    found = (holders or ports.holders)(port)
    own = set(own_pids)
    strangers = [h for h in found if h.pid is None or h.pid not in own]
    if strangers:
        who = "; ".join(h.describe() for h in strangers)
        return Finding("port", False, f"port {port} is held by {who}, not by this service "
                                      "(stop that process or change the port)")
    if found:
        return Finding("port", True, f"port {port} is held by this service")
    return Finding("port", True, f"port {port} is free")


def service_pids(main_pid: int | None) -> set[int]:
    """The service's main pid and its descendants (whose sockets are its own)."""
    if not main_pid:
        return set()
    import psutil

    try:
        main = psutil.Process(main_pid)
        return {main_pid, *(c.pid for c in main.children(recursive=True))}
    except psutil.NoSuchProcess:
        return set()


class PreflightSpec(Record):
    """What to check: (path, min MB) pairs, commands, ports."""

    disk: tuple[tuple[str, int], ...] = ()
    commands: tuple[Requirement, ...] = ()
    ports: tuple[int, ...] = ()


def run_preflight(spec: PreflightSpec, service_main_pid: int | None = None) -> list[Finding]:
    """Every finding, in order; the failures are those with ``ok`` False."""
    findings = [check_disk(path, mb) for path, mb in spec.disk]
    findings += [check_command(req) for req in spec.commands]
    own = service_pids(service_main_pid)
    findings += [check_port(port, own) for port in spec.ports]
    return findings


def failures(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if not f.ok]
