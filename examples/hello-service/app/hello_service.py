#!/usr/bin/env python3
"""hello-service: the example component's application.

A small HTTP service with the life cycle of a JVM backend, stdlib only, so the
demo and the tests deploy something that behaves like the real thing:

* it listens at once, but ``GET /health`` answers 503 ``{"status": "STARTING"}``
  until the boot delay has passed (a JVM accepts connections before its
  application context is ready), then 200 ``{"status": "UP", "build_id": ...}``;
* as a Spring Boot service with its actuator does, ``GET /actuator/health``
  answers the same status without the build id (``{"status": "UP"}``) and
  ``GET /actuator/info`` the build (``{"build": {"version": ...}}``);
* ``GET /`` answers the greeting and the build id; ``GET /slow?seconds=N``
  answers after N seconds (to watch a graceful stop finish a request);
* on SIGTERM (or SIGINT) it stops accepting, lets in-flight requests finish,
  waits the stop delay (a slow JVM shutdown), then exits 0; the port is held
  until the process exits, as a JVM does;
* ``--fail-on-boot`` exits 3 when the boot delay ends (a context that failed
  to start); ``--unhealthy`` makes ``/health`` answer 500 ``{"status": "DOWN"}``.

Settings come from options, then ``HELLO_*`` environment variables, then
defaults. The config file (``--config``) is JSON or ``key=value`` lines and
holds at least ``build_id`` and ``greeting``. Logs go to stdout.

Exit codes: 0 after a clean stop, 2 bad usage or unreadable config, 3 failed
boot (``--fail-on-boot``), 4 port unavailable.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULTS = {"build_id": "dev", "greeting": "Hello"}


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
    print(f"{stamp} hello-service[{os.getpid()}] {message}", flush=True)


def parse_config(text: str) -> dict[str, str]:
    """Read JSON (an object) or ``key=value`` lines; ``#`` starts a comment."""
    if text.lstrip().startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("JSON config must be an object")
        return {str(k): str(v) for k, v in data.items()}
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"line {number}: expected key=value, got {line!r}")
        values[key.strip()] = value.strip()
    return values


def load_config(path: str | None) -> dict[str, str]:
    config = dict(DEFAULTS)
    if path:
        with open(path, encoding="utf-8") as f:
            config.update(parse_config(f.read()))
    return config


class App:
    """The state the request handler reads: config, readiness, flags."""

    def __init__(self, config: dict[str, str], boot_delay: float, unhealthy: bool,
                 fail_on_boot: bool = False) -> None:
        self.config = config
        # A boot that fails never becomes ready: no health check may see UP
        # in the moment between the boot delay and the exit.
        self.ready_at = float("inf") if fail_on_boot else time.monotonic() + boot_delay
        self.unhealthy = unhealthy
        self.stopping = False
        self.last_health = ""

    def health(self) -> tuple[int, dict[str, Any]]:
        build_id = self.config["build_id"]
        if self.stopping:
            return 503, {"status": "STOPPING", "build_id": build_id}
        if time.monotonic() < self.ready_at:
            return 503, {"status": "STARTING", "build_id": build_id}
        if self.unhealthy:
            return 500, {"status": "DOWN", "build_id": build_id}
        return 200, {"status": "UP", "build_id": build_id, "pid": os.getpid()}


class Handler(BaseHTTPRequestHandler):
    server_version = "hello-service/1"
    app: App  # set on the subclass made in serve()

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/health":
            code, body = self.app.health()
            if body["status"] != self.app.last_health:
                self.app.last_health = body["status"]
                log(f"health {code} {body['status']}")
            self._send(code, json.dumps(body) + "\n", "application/json")
        elif self.path.split("?")[0] == "/actuator/health":
            code, body = self.app.health()
            self._send(code, json.dumps({"status": body["status"]}) + "\n", "application/json")
        elif self.path.split("?")[0] == "/actuator/info":
            info = {"build": {"version": self.app.config["build_id"]}}
            self._send(200, json.dumps(info) + "\n", "application/json")
        elif self.path.startswith("/slow"):
            self._slow()
        elif self.path.split("?")[0] == "/":
            c = self.app.config
            self._send(200, f"{c['greeting']} from build {c['build_id']}\n", "text/plain")
        else:
            self._send(404, "not found\n", "text/plain")

    def _slow(self) -> None:
        """``/slow?seconds=N``: a long request, to see a graceful stop finish it."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        seconds = min(30.0, float(query.get("seconds", ["1"])[0]))
        log(f"slow request started ({seconds:g}s)")
        time.sleep(seconds)
        self._send(200, "done\n", "text/plain")

    def _send(self, code: int, text: str, ctype: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        if not self.path.startswith(("/health", "/actuator/")):
            log(f"{self.address_string()} {format % args}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="hello-service", description=__doc__.split("\n")[0])
    p.add_argument("--host", default=env("HELLO_HOST", "0.0.0.0"))
    p.add_argument("--port", type=int, default=int(env("HELLO_PORT", "8080")))
    p.add_argument("--config", default=env("HELLO_CONFIG"))
    p.add_argument("--boot-delay", type=float, default=float(env("HELLO_BOOT_DELAY", "0")))
    p.add_argument("--stop-delay", type=float, default=float(env("HELLO_STOP_DELAY", "0")))
    p.add_argument("--fail-on-boot", action="store_true", default=env("HELLO_FAIL_ON_BOOT") == "1")
    p.add_argument("--unhealthy", action="store_true", default=env("HELLO_UNHEALTHY") == "1")
    return p.parse_args(argv)


def serve(args: argparse.Namespace, config: dict[str, str]) -> int:
    app = App(config, args.boot_delay, args.unhealthy, args.fail_on_boot)
    handler = type("BoundHandler", (Handler,), {"app": app})
    try:
        server = ThreadingHTTPServer((args.host, args.port), handler)
    except OSError as e:
        log(f"cannot listen on {args.host}:{args.port}: {e.strerror}")
        return 4
    server.daemon_threads = False  # server_close() then waits for in-flight requests
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if not stop.is_set():
            log(f"received {signal.Signals(signum).name}, stopping")
            app.stopping = True
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # The monotonic clock is system-wide: benchmarks read ready_at to time health checks.
    log(f"build {config['build_id']} listening on {args.host}:{server.server_address[1]}"
        f" (ready in {args.boot_delay:g}s, ready_at={app.ready_at:.6f})")
    if args.fail_on_boot:
        threading.Thread(target=fail_after, args=(args.boot_delay,), daemon=True).start()
    server.serve_forever(poll_interval=0.05)
    if args.stop_delay > 0:
        log(f"shutting down (takes {args.stop_delay:g}s)")
        time.sleep(args.stop_delay)
    server.server_close()
    log("stopped")
    return 0


def fail_after(delay: float) -> None:
    time.sleep(delay)
    log("boot failed: application context did not start (--fail-on-boot)")
    os._exit(3)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = load_config(args.config)
    except (OSError, ValueError) as e:
        log(f"cannot read config {args.config}: {e}")
        return 2
    return serve(args, config)


if __name__ == "__main__":
    sys.exit(main())
