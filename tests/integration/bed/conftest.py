"""A health endpoint the tests switch between answers, for the emulator to check."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class Switchable:
    """An HTTP server whose status (and delay) the test changes at any time."""

    def __init__(self) -> None:
        self.status = 200
        self.delay = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if owner.delay:
                    time.sleep(owner.delay)
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service() -> Iterator[Switchable]:
    made = Switchable()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(autouse=True)
def clean_emulator(alb_emulator: Any) -> Iterator[None]:
    """Each test starts with no faults, full buckets and an empty call log."""
    alb_emulator.reset()
    yield
    alb_emulator.reset()
