"""The local HTTP health check: is the freshly started release really up?

It replaces the hand-written ``until curl ...; do sleep 10; done`` loops: a
GET of the application's health URL every ``interval`` seconds until
``successes`` consecutive answers pass, or the deadline. An answer passes
when its status is one of ``expect_status`` and, if asked, its body contains
``body_contains`` and/or the JSON field ``json_field`` (dotted path) equals
``json_equals`` (typically the build id, proving the *new* release answers).
An ``identity`` check is a second URL asked once the first passes: a Spring
Boot service answers ``/actuator/health`` with only ``{"status": "UP"}`` and
tells its build in ``/actuator/info`` (``build.version``).

http.client is used rather than requests: it costs nothing to import in a
hook process. The clock and sleep are parameters, with real defaults.

When the check fails, :func:`diagnose` gathers what explains it: the
service's state, the last lines of its log, and who holds the port.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence

from hdhooks import __version__
from hdhooks.instance.service.base import Service
from hdhooks.record import EMPTY_MAP, Record

USER_AGENT = f"hdhooks/{__version__} (health-check)"
SNIPPET = 200
#: A dead service is looked for at most this often (a status() may run systemctl).
ALIVE_CHECK_EVERY = 1.0


class HealthCheck(Record):
    """What to ask and what counts as healthy."""

    url: str
    expect_status: Sequence[int] = (200,)
    body_contains: str | None = None
    json_field: str | None = None
    json_equals: str | None = None
    # more (dotted field, expected text) pairs, all of which must hold
    json_expect: tuple[tuple[str, str], ...] = ()
    deadline: float = 60.0
    interval: float = 0.2
    successes: int = 1
    request_timeout: float = 2.0
    headers: Mapping[str, str] = EMPTY_MAP
    # a second URL that must pass too (its deadline and interval are unused)
    identity: HealthCheck | None = None


class Probe(Record):
    """One answer (or the lack of one) and whether it passed."""

    ok: bool
    status: int | None
    body: str
    reason: str  # why it failed, empty when ok


class HealthResult(Record):
    """The outcome of a health check: attempts, timing, the last answer."""

    ok: bool
    attempts: int
    elapsed: float
    last: Probe | None
    reason: str = ""
    diagnostics: tuple[str, ...] = ()

    def one_line(self, url: str = "") -> str:
        where = f" {url}" if url else ""
        if self.ok:
            return f"healthy{where} after {self.attempts} attempt(s) in {self.elapsed:.2f}s"
        return (f"unhealthy{where}: {self.reason}"
                f" ({self.attempts} attempt(s) in {self.elapsed:.1f}s)")


def json_field_value(data: object, path: str) -> object:
    """``data`` at a dotted path (``a.b.0.c``); raises KeyError when absent."""
    node = data
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(path)
    return node


def evaluate(check: HealthCheck, status: int, body: str) -> str:
    """Why an answer fails ``check``; empty string when it passes. Pure."""
    if status not in check.expect_status:
        expected = "/".join(str(s) for s in check.expect_status)
        return f"HTTP {status} (expected {expected})"
    if check.body_contains is not None and check.body_contains not in body:
        return f"body does not contain {check.body_contains!r}"
    expectations: list[tuple[str, str | None]] = list(check.json_expect)
    if check.json_field:
        expectations.insert(0, (check.json_field, check.json_equals))
    if not expectations:
        return ""
    if _nesting(body) > MAX_JSON_DEPTH:
        return f"body is JSON nested deeper than {MAX_JSON_DEPTH} levels; refused unread"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return f"body has no JSON field {expectations[0][0]!r} (it is not JSON)"
    for field_path, wanted in expectations:
        try:
            value = json_field_value(data, field_path)
        except KeyError:
            return f"body has no JSON field {field_path!r}"
        if wanted is not None and _text(value) != wanted:
            return f"{field_path} is {_text(value)!r}, expected {wanted!r}"
    return ""


MAX_JSON_DEPTH = 64


def _nesting(body: str) -> int:
    """How deep brackets nest in ``body`` (strings skipped): bounds json.loads' recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in body:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def probe(check: HealthCheck) -> Probe:
    """One GET of ``check.url`` (then of its identity URL) with fresh connections."""
    first = get(check)
    if not first.ok or check.identity is None:
        return first
    second = get(check.identity)
    if second.ok:
        return first
    return Probe(False, second.status, second.body, f"{check.identity.url}: {second.reason}")


def get(check: HealthCheck) -> Probe:
    """One GET of ``check.url`` with a fresh connection (as a load balancer does)."""
    url = urllib.parse.urlsplit(check.url)
    host = url.hostname or "127.0.0.1"
    conn: http.client.HTTPConnection
    if url.scheme == "https":
        import ssl

        # The local application with its own certificate: nothing to verify against.
        ctx = ssl._create_unverified_context()
        conn = http.client.HTTPSConnection(host, url.port, timeout=check.request_timeout,
                                           context=ctx)
    else:
        conn = http.client.HTTPConnection(host, url.port, timeout=check.request_timeout)
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    try:
        conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Connection": "close",
                                           **check.headers})
        resp = conn.getresponse()
        body = resp.read(64 * 1024).decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return Probe(False, None, "", _connect_reason(e))
    finally:
        conn.close()
    reason = evaluate(check, resp.status, body)
    return Probe(not reason, resp.status, body[:SNIPPET], reason)


def _connect_reason(e: Exception) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, TimeoutError):
        return "request timed out"
    return f"{type(e).__name__}: {e}"


def wait_healthy(
    check: HealthCheck,
    *,
    alive: Callable[[], bool] | None = None,
    probe_fn: Callable[[HealthCheck], Probe] = probe,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> HealthResult:
    """Poll until ``check.successes`` consecutive passes or the deadline.

    ``alive`` (e.g. "the service still runs") is asked after failed probes,
    at most once a second; when it says no, the check fails at once instead
    of waiting for the deadline: a crash on boot is reported in seconds.
    """
    start = clock()
    attempts = streak = 0
    last: Probe | None = None
    next_alive = start + min(ALIVE_CHECK_EVERY, check.interval)
    while True:
        attempts += 1
        last = probe_fn(check)
        streak = streak + 1 if last.ok else 0
        now = clock()
        if streak >= check.successes:
            return HealthResult(True, attempts, now - start, last)
        if not last.ok and alive is not None and now >= next_alive:
            next_alive = now + ALIVE_CHECK_EVERY
            if not alive():
                why = "the service is not running"
                return HealthResult(False, attempts, now - start, last, why)
        remaining = start + check.deadline - now
        if remaining <= 0:
            why = last.reason or f"only {streak} of {check.successes} consecutive passes"
            why = f"deadline {check.deadline:g}s passed; last: {why}"
            return HealthResult(False, attempts, now - start, last, why)
        sleep(min(check.interval, remaining))


def diagnose(service: Service | None, port: int | None, last: Probe | None = None,
             log_lines: int = 20) -> list[str]:
    """Lines that explain a failed check: state, answer, port owner, log tail."""
    lines: list[str] = []
    if service is not None:
        lines.append(f"service {service.spec.name}: {service.status().describe()}")
    if last is not None and last.status is not None:
        lines.append(f"last answer: HTTP {last.status} {' '.join(last.body.split())[:SNIPPET]}")
    if port is not None:
        from hdhooks.instance import ports

        found = ports.holders(port)
        held = [f"port {port}: held by {h.describe()}" for h in found]
        lines += held or [f"port {port}: nothing listens"]
    if service is not None:
        tail = service.log_tail(log_lines)
        if tail:
            lines.append(f"last {len(tail)} log lines of {service.spec.name}:")
            lines += [f"  {t}" for t in tail]
    return lines


def check_service(check: HealthCheck, service: Service | None = None,
                  port: int | None = None) -> HealthResult:
    """Run ``check``; fail fast if ``service`` dies; attach diagnostics on failure."""
    result = wait_healthy(check, alive=_alive_check(service) if service else None)
    if result.ok:
        return result
    port = port if port is not None else (service.spec.port if service else None)
    return HealthResult(False, result.attempts, result.elapsed, result.last, result.reason,
                        tuple(diagnose(service, port, result.last)))


def _alive_check(service: Service) -> Callable[[], bool]:
    """False once the service has ended: failed, inactive, or waiting to be
    restarted by systemd after a crash (Restart=on-failure: auto-restart)."""

    def alive() -> bool:
        status = service.status()
        return status.state not in ("failed", "inactive") and status.substate != "auto-restart"

    return alive
