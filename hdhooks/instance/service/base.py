"""Service control: one interface, two backends.

A component's application runs either as a systemd unit (``backend="systemd"``,
the normal case on an AMI) or as a plain detached process with a pidfile
(``backend="process"``, for hosts and containers without systemd). The hook
code only sees :class:`Service`; ``factory.make_service`` picks the backend from a
:class:`ServiceSpec`, which the component config builds.

Stopping always ends with the port check: when the spec names a port,
:meth:`Service.stop` waits briefly for it to be released and, if it is not,
names the process that still holds it in :class:`StopResult`, because "the
new release cannot bind its port" is the failure people then spend an hour on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from hdhooks.instance.ports import PortHolder
from hdhooks.record import EMPTY_MAP, Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import Literal

    Backend = Literal["systemd", "process"]
BACKENDS: tuple[str, ...] = ("systemd", "process")

DEFAULT_LOG_DIR = "/var/log/hdhooks"
DEFAULT_RUN_DIR = "/run/hdhooks"
#: How long stop() waits for the port to be released after the process ended
#: (a socket may linger for a moment in a process's last breath).
PORT_RELEASE_WAIT = 2.0


class ServiceSpec(Record):
    """Everything needed to control one component's service.

    ``command`` is the argv of the application (systemd: ExecStart when the
    unit is rendered). ``unit_template`` is None when the unit file is managed
    elsewhere (AMI, package), ``"builtin"`` for hdhooks' own template, or the
    path of a ``string.Template`` file (see docs/service.md for its variables).
    ``systemctl`` is the systemctl argv prefix, e.g. ``["systemctl"]`` or a
    daemonless systemctl with ``--root``; ``unit_dir`` is where a rendered
    unit is written. ``log_dir`` and ``pidfile`` default to
    /var/log/hdhooks/<name>.log and /run/hdhooks/<name>.pid.
    """

    name: str
    backend: Backend = "systemd"
    command: Sequence[str] = ()
    workdir: str | None = None
    env: Mapping[str, str] = EMPTY_MAP
    user: str | None = None
    group: str | None = None  # None: the user's own group
    stop_timeout: float = 30.0
    log_dir: str | None = None
    pidfile: str | None = None
    systemctl: Sequence[str] = ("systemctl",)
    unit_template: str | None = None
    unit_dir: str = "/etc/systemd/system"
    port: int | None = None

    def __post_init__(self) -> None:
        # Freeze the sequences so a spec can be shared and compared safely.
        object.__setattr__(self, "command", tuple(self.command))
        object.__setattr__(self, "systemctl", tuple(self.systemctl))
        object.__setattr__(self, "env", dict(self.env))

    @property
    def unit(self) -> str:
        """The systemd unit name (``<name>.service`` unless a suffix is given)."""
        return self.name if "." in self.name else f"{self.name}.service"

    @property
    def log_file(self) -> str:
        return os.path.join(self.log_dir or DEFAULT_LOG_DIR, f"{self.name}.log")

    @property
    def pid_path(self) -> str:
        return self.pidfile or os.path.join(DEFAULT_RUN_DIR, f"{self.name}.pid")


class ServiceStatus(Record):
    """The state of a service, in systemd's words for both backends.

    ``state`` is ActiveState (active, inactive, failed, activating,
    deactivating, unknown), ``substate`` is SubState (running, dead, exited,
    failed...), ``loaded`` says whether the unit/command is known at all.
    """

    active: bool
    main_pid: int | None
    state: str
    substate: str
    loaded: bool = True

    def describe(self) -> str:
        """One phrase for messages: ``active (running) pid 123``."""
        text = f"{self.state} ({self.substate})"
        if self.main_pid:
            text += f" pid {self.main_pid}"
        if not self.loaded:
            text += ", not installed"
        return text


class StopResult(Record):
    """What stop() did.

    ``stopped`` is true when nothing of the service runs any more (also when
    nothing ran: stopping an absent service succeeds). ``killed`` is true
    when the stop timeout passed and the processes were sent SIGKILL (None
    when the backend cannot tell). ``port_holders`` lists who still listens
    on the spec's port after the stop (empty when the port is free).
    """

    stopped: bool
    was_running: bool
    duration: float
    main_pid: int | None = None
    killed: bool | None = False
    port_holders: tuple[PortHolder, ...] = ()
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.stopped and not self.port_holders

    def describe(self) -> str:
        """One line for the hook's output."""
        if not self.was_running:
            text = "was not running"
        elif self.stopped:
            text = f"stopped in {self.duration:.2f}s"
            text += " (SIGKILL after timeout)" if self.killed else ""
        else:
            text = f"did not stop: {self.message}" if self.message else "did not stop"
        for h in self.port_holders:
            text += f"; port still held by {h.describe()}"
        return text


class Service:
    """What the hooks can do with a component's service; the backends subclass it."""

    spec: ServiceSpec

    def is_installed(self) -> bool:
        """True when the unit (systemd) or the command (process) exists."""
        raise NotImplementedError

    def install(self) -> bool:
        """Write the unit file when the spec asks for one; True if it changed."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the service; no-op when it already runs. Raises HdhooksError."""
        raise NotImplementedError

    def stop(self, timeout: float | None = None) -> StopResult:
        """Stop gracefully (TERM, then KILL after ``timeout`` or the spec's)."""
        raise NotImplementedError

    def reload(self) -> None:
        """Reload a running service's config (start it when it is not running)."""
        raise NotImplementedError

    def status(self) -> ServiceStatus:
        """The current state; never raises for an absent service."""
        raise NotImplementedError

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last lines of the service's output, for diagnostics."""
        raise NotImplementedError


def validate_spec(spec: ServiceSpec) -> list[str]:
    """Every problem of a spec, each one line (empty when it is usable)."""
    problems: list[str] = []
    if not spec.name or "/" in spec.name or spec.name.startswith("."):
        problems.append(f"invalid service name {spec.name!r}")
    if spec.backend not in BACKENDS:
        problems.append(f"backend must be one of {', '.join(BACKENDS)}, got {spec.backend!r}")
    if spec.backend == "process" and not spec.command:
        problems.append("the process backend needs a command")
    if spec.unit_template is not None and not spec.command:
        problems.append("rendering a unit needs a command (ExecStart)")
    if spec.backend == "systemd" and not spec.systemctl:
        problems.append("systemctl command is empty")
    if spec.stop_timeout <= 0:
        problems.append(f"stop_timeout must be positive, got {spec.stop_timeout}")
    if spec.port is not None and not 0 < spec.port < 65536:
        problems.append(f"port must be 1..65535, got {spec.port}")
    return problems


def check_port_released(port: int | None) -> tuple[PortHolder, ...]:
    """After a stop: wait a moment for ``port`` to be free; who holds it if not."""
    if port is None:
        return ()
    from hdhooks.instance import ports

    return tuple(ports.wait_free(port, timeout=PORT_RELEASE_WAIT))


def tail_file(path: str, lines: int = 20, max_bytes: int = 64 * 1024) -> list[str]:
    """The last ``lines`` lines of a file (reads at most ``max_bytes``)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace")
    return text.splitlines()[-lines:] if lines > 0 else []
