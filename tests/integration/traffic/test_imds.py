"""The IMDSv2 client against the local metadata server (real HTTP, no boto3)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hdhooks.aws import imds
from tests.support.imds_server import ImdsServer


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    imds.forget_token()
    yield
    imds.forget_token()


def test_reads_identity_with_a_token(imds_server: ImdsServer, endpoint: None,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ident = imds_server.identity("i-0123456789abcdef0", region="eu-central-1",
                                 lifecycle="InService")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ident.url)
    assert imds.on_ec2()
    assert imds.instance_id() == "i-0123456789abcdef0"
    assert imds.region() == "eu-central-1"
    assert imds.lifecycle_state() == "InService"
    ident.lifecycle = None  # outside any Auto Scaling group: 404
    assert imds.lifecycle_state() is None
    puts = [r for r in ident.requests if r.method == "PUT"]
    gets = [r for r in ident.requests if r.method == "GET"]
    assert len(puts) == 1  # one token for the process
    assert gets and all(r.token_valid for r in gets)


def test_no_answer_fails_after_three_quick_tries(imds_server: ImdsServer, endpoint: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ident = imds_server.identity("i-0aaaaaaaaaaaaaaa1")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ident.url)
    ident.hang = True
    began = time.monotonic()
    try:
        with pytest.raises(imds.ImdsError, match=r"no answer .* after 3 tries"):
            imds.instance_id()
    finally:
        ident.hang = False
    assert time.monotonic() - began < 3 * imds.TIMEOUT + 2


def test_disabled_and_off_ec2_ask_nothing(tmp_path: Path, endpoint: None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", raising=False)
    asset = tmp_path / "board_asset_tag"
    asset.write_text("Default string\n")
    assert not imds.on_ec2(((str(asset), "i-"),))
    asset.write_text("i-0abc\n")
    assert imds.on_ec2(((str(asset), "i-"),))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert not imds.on_ec2(((str(asset), "i-"),))
    with pytest.raises(imds.ImdsError, match="disabled by AWS_EC2_METADATA_DISABLED"):
        imds.get("meta-data/instance-id")


class _V1Only(BaseHTTPRequestHandler):
    """An old metadata service: no token endpoint, GETs answered without one."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: str = "") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        self._answer(404)

    def do_GET(self) -> None:
        if self.path == "/latest/meta-data/instance-id":
            self._answer(200, "i-0v1v1v1v1v1v1v1v1")
        else:
            self._answer(404)


@pytest.fixture
def v1_only(endpoint: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _V1Only)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT",
                       f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_imdsv1_is_used_only_when_allowed(v1_only: None) -> None:
    with pytest.raises(imds.ImdsError, match="IMDSv1 is not allowed") as exc:
        imds.instance_id()
    assert "traffic.imds_v1: true" in exc.value.one_line()
    assert imds.instance_id(allow_v1=True) == "i-0v1v1v1v1v1v1v1v1"
