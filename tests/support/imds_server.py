"""A local EC2 instance metadata service (IMDSv2), one identity per simulated instance.

``ImdsServer().identity(instance_id, region=..., lifecycle=...)`` starts a
small HTTP server on 127.0.0.1 (its own port) that answers as the metadata
service of that instance does:

* ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds``
  (1..21600) returns a token; without the header 400, with
  ``X-Forwarded-For`` 403 (IMDS refuses proxied token requests);
* every ``GET`` needs ``X-aws-ec2-metadata-token`` with a live token, else
  401 — unless the identity allows IMDSv1 (``ident.allow_v1 = True``);
* ``meta-data/instance-id``, ``meta-data/placement/region``,
  ``meta-data/placement/availability-zone``,
  ``meta-data/autoscaling/target-lifecycle-state`` (404 when the lifecycle is
  ``None``: an instance outside any Auto Scaling group) and
  ``dynamic/instance-identity/document`` (JSON); anything else 404.

Test controls, changed at any time: ``ident.lifecycle``, ``ident.allow_v1``,
``ident.down = True`` (the port is closed: connection refused; ``False``
listens again on the same port), ``ident.hang = True`` (connections are
accepted but never answered, as a black-holed route), and
``ident.requests`` (every request seen: method, path, whether a valid token
came with it, the status answered). Point a process at it with
``AWS_EC2_METADATA_SERVICE_ENDPOINT=ident.url``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_TTL = 21600


@dataclass(frozen=True)
class ImdsRequest:
    """One request an identity received."""

    method: str
    path: str
    token_valid: bool
    status: int
    time: float


@dataclass
class Identity:
    """One simulated instance's metadata, and the switches a test flips."""

    instance_id: str
    region: str
    lifecycle: str | None
    availability_zone: str
    account_id: str = "123456789012"
    allow_v1: bool = False
    hang: bool = False
    requests: list[ImdsRequest] = field(default_factory=list)
    _tokens: dict[str, float] = field(default_factory=dict, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/"

    @property
    def port(self) -> int:
        return self._port

    @property
    def down(self) -> bool:
        return self._server is None

    @down.setter
    def down(self, value: bool) -> None:
        if value and self._server is not None:
            self._stop()
        elif not value and self._server is None:
            self._start(self._port)

    # -- what the handler asks ---------------------------------------------------
    def new_token(self, ttl: int) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + ttl
        return token

    def token_valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            expires = self._tokens.get(token)
        return expires is not None and expires > time.monotonic()

    def expire_tokens(self) -> None:
        """Make every token issued so far invalid (as after their TTL ran out)."""
        with self._lock:
            self._tokens.clear()

    def record(self, method: str, path: str, token_valid: bool, status: int) -> None:
        with self._lock:
            self.requests.append(ImdsRequest(method, path, token_valid, status, time.time()))

    def document(self) -> str:
        return json.dumps({
            "accountId": self.account_id,
            "architecture": "x86_64",
            "availabilityZone": self.availability_zone,
            "imageId": "ami-12c6146b",
            "instanceId": self.instance_id,
            "instanceType": "t3.micro",
            "privateIp": "10.0.0.10",
            "region": self.region,
            "version": "2017-09-30",
        })

    def answer(self, path: str) -> str | None:
        """The body for a GET of ``path`` (without /latest/), or None for 404."""
        values = {
            "meta-data/instance-id": self.instance_id,
            "meta-data/placement/region": self.region,
            "meta-data/placement/availability-zone": self.availability_zone,
            "meta-data/autoscaling/target-lifecycle-state": self.lifecycle,
            "dynamic/instance-identity/document": self.document(),
        }
        return values.get(path.strip("/"))

    # -- the server ----------------------------------------------------------------
    def _start(self, port: int) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        server.daemon_threads = True
        server.identity = self  # type: ignore[attr-defined]
        self._port = int(server.server_address[1])
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         name=f"imds-{self.instance_id}", daemon=True).start()

    def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def close(self) -> None:
        self.hang = False
        self._stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EC2ws"
    sys_version = ""

    @property
    def ident(self) -> Identity:
        ident: Identity = self.server.identity  # type: ignore[attr-defined]
        return ident

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _hang(self) -> bool:
        """Hold the connection without answering while the identity hangs."""
        if not self.ident.hang:
            return False
        while self.ident.hang and not self.ident.down:
            time.sleep(0.05)
        self.close_connection = True
        return True

    def _send(self, status: int, body: str = "", ctype: str = "text/plain") -> None:
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (its 1 s timeout): as IMDS sees it

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self._hang():
            return
        status, body = self._token_answer()
        self.ident.record("PUT", self.path, False, status)
        self._send(status, body)

    def _token_answer(self) -> tuple[int, str]:
        if self.path.rstrip("/") != "/latest/api/token":
            return 404, "Not Found"
        if self.headers.get("X-Forwarded-For"):
            return 403, "Forbidden"
        raw = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        try:
            ttl = int(raw or "")
        except ValueError:
            return 400, "Bad Request"
        if not 1 <= ttl <= MAX_TTL:
            return 400, "Bad Request"
        return 200, self.ident.new_token(ttl)

    def do_GET(self) -> None:
        if self._hang():
            return
        ident = self.ident
        valid = ident.token_valid(self.headers.get("X-aws-ec2-metadata-token"))
        status, body, ctype = 200, "", "text/plain"
        if not valid and not ident.allow_v1:
            status, body = 401, "Unauthorized"
        elif not self.path.startswith("/latest/"):
            status, body = 404, "Not Found"
        else:
            found = ident.answer(self.path[len("/latest/"):])
            if found is None:
                status, body = 404, "Not Found"
            else:
                body = found
                if self.path.endswith("/document"):
                    ctype = "application/json"
        ident.record("GET", self.path, valid, status)
        self._send(status, body, ctype)


class ImdsServer:
    """Hands out identities; closes them all at the end of the session."""

    def __init__(self) -> None:
        self._identities: list[Identity] = []

    def identity(
        self,
        instance_id: str,
        *,
        region: str = "eu-west-1",
        lifecycle: str | None = "InService",
        availability_zone: str | None = None,
        allow_v1: bool = False,
    ) -> Identity:
        """A new metadata endpoint for ``instance_id``, listening on its own port."""
        ident = Identity(instance_id, region, lifecycle,
                         availability_zone or f"{region}a", allow_v1=allow_v1)
        ident._start(0)
        self._identities.append(ident)
        return ident

    def close(self) -> None:
        for ident in self._identities:
            ident.close()
        self._identities.clear()
