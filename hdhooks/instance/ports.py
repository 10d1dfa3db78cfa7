"""Who listens on a TCP port, and waiting until nobody does.

"Free" means no socket is in LISTEN state on the port, on any address:
connections in TIME_WAIT do not stop a server that sets SO_REUSEADDR (the
JVM and most servers do). The cheap test reads /proc/net/tcp{,6} (a pure
parser, fast enough to poll); naming the holder needs psutil, which maps
sockets to processes (as root it sees every process; otherwise the holder of
another user's socket shows as unknown).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from hdhooks.record import Record

PROC_NET_FILES = ("/proc/net/tcp", "/proc/net/tcp6")
_LISTEN = "0A"  # TCP_LISTEN in the kernel's st column


class PortHolder(Record):
    """A process listening on a port (pid None when it cannot be seen)."""

    port: int
    address: str
    pid: int | None = None
    name: str = ""
    cmdline: str = ""
    user: str = ""

    def describe(self) -> str:
        """``pid 123 (java, user app): java -jar app.jar on 0.0.0.0:8080``."""
        where = f"{self.address}:{self.port}"
        if self.pid is None:
            return f"an unknown process on {where} (run as root to see it)"
        who = f"pid {self.pid} ({self.name or '?'}" + (f", user {self.user})" if self.user else ")")
        cmd = " ".join(self.cmdline.split())  # one line, even for `python -c` code
        cmd = cmd if len(cmd) <= 160 else cmd[:157] + "..."
        return f"{who}: {cmd} on {where}" if cmd else f"{who} on {where}"


def listening_ports(proc_net_text: str) -> set[int]:
    """Ports in LISTEN state in the text of /proc/net/tcp or /proc/net/tcp6."""
    ports: set[int] = set()
    for line in proc_net_text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != _LISTEN:
            continue
        _, _, port_hex = fields[1].rpartition(":")
        try:
            ports.add(int(port_hex, 16))
        except ValueError:
            continue
    return ports


def is_free(port: int, files: Iterable[str] = PROC_NET_FILES) -> bool:
    """True when nothing listens on ``port`` (TCP, IPv4 or IPv6)."""
    for path in files:
        try:
            with open(path, encoding="ascii", errors="replace") as f:
                if port in listening_ports(f.read()):
                    return False
        except OSError:
            continue
    return True


def holders(port: int) -> list[PortHolder]:
    """Every process listening on ``port``, described for a message."""
    import psutil

    found: list[PortHolder] = []
    seen: set[tuple[int | None, str]] = set()
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status != psutil.CONN_LISTEN or not conn.laddr or conn.laddr.port != port:
            continue
        key = (conn.pid, conn.laddr.ip)
        if key in seen:
            continue
        seen.add(key)
        found.append(_describe(port, conn.laddr.ip, conn.pid))
    return found


def _describe(port: int, address: str, pid: int | None) -> PortHolder:
    import psutil

    if pid is None:
        return PortHolder(port, address)
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            return PortHolder(port, address, pid, p.name(), " ".join(p.cmdline()), p.username())
    except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError):
        # KeyError: a uid without a passwd entry.
        return PortHolder(port, address, pid)


def wait_free(
    port: int,
    timeout: float,
    *,
    interval: float = 0.02,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[PortHolder]:
    """Wait up to ``timeout`` for ``port`` to be free.

    Returns [] once it is free, else the holders at the deadline (at least
    one entry, so a caller can always say who is in the way).
    """
    deadline = clock() + timeout
    while not is_free(port):
        if clock() >= deadline:
            return holders(port) or [PortHolder(port, "*")]
        sleep(interval)
    return []
