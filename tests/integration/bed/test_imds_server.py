"""The local IMDSv2 server answers as the EC2 metadata service does."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest
from botocore.utils import InstanceMetadataRegionFetcher

from tests.support.imds_server import ImdsServer


def call(url: str, method: str = "GET", headers: dict[str, str] | None = None
         ) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def token(url: str) -> str:
    status, body = call(f"{url}latest/api/token", "PUT",
                        {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert status == 200
    return body


def test_reads_need_a_token_unless_v1_is_allowed(imds_server: ImdsServer) -> None:
    ident = imds_server.identity("i-0aaa111", region="eu-west-1", lifecycle="InService")
    path = f"{ident.url}latest/meta-data/instance-id"
    assert call(path)[0] == 401
    assert call(path, headers={"X-aws-ec2-metadata-token": "forged"})[0] == 401
    assert call(path, headers={"X-aws-ec2-metadata-token": token(ident.url)}) == (
        200, "i-0aaa111")
    ident.allow_v1 = True
    assert call(path) == (200, "i-0aaa111")
    assert [(r.method, r.token_valid, r.status) for r in ident.requests] == [
        ("GET", False, 401), ("GET", False, 401), ("PUT", False, 200), ("GET", True, 200),
        ("GET", False, 200)]


def test_token_request_rules(imds_server: ImdsServer) -> None:
    ident = imds_server.identity("i-0aaa222")
    url = f"{ident.url}latest/api/token"
    assert call(url, "PUT")[0] == 400
    assert call(url, "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": "0"})[0] == 400
    assert call(url, "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": "60",
                             "X-Forwarded-For": "10.0.0.1"})[0] == 403
    ttl = token(ident.url)
    ident.expire_tokens()
    assert call(f"{ident.url}latest/meta-data/instance-id",
                headers={"X-aws-ec2-metadata-token": ttl})[0] == 401


def test_metadata_paths_and_lifecycle_changes(imds_server: ImdsServer) -> None:
    ident = imds_server.identity("i-0aaa333", region="eu-central-1", lifecycle="Pending:Wait")
    head = {"X-aws-ec2-metadata-token": token(ident.url)}
    base = f"{ident.url}latest/"
    assert call(base + "meta-data/placement/region", headers=head) == (200, "eu-central-1")
    assert call(base + "meta-data/placement/availability-zone", headers=head) == (
        200, "eu-central-1a")
    lifecycle = base + "meta-data/autoscaling/target-lifecycle-state"
    assert call(lifecycle, headers=head) == (200, "Pending:Wait")
    ident.lifecycle = "Terminated"
    assert call(lifecycle, headers=head) == (200, "Terminated")
    ident.lifecycle = None
    assert call(lifecycle, headers=head)[0] == 404
    status, doc = call(base + "dynamic/instance-identity/document", headers=head)
    assert status == 200 and '"instanceId": "i-0aaa333"' in doc
    assert call(base + "meta-data/nothing-here", headers=head)[0] == 404


def test_botocore_reads_the_region_from_it(imds_server: ImdsServer) -> None:
    ident = imds_server.identity("i-0aaa444", region="ap-southeast-2")
    fetcher = InstanceMetadataRegionFetcher(timeout=1, num_attempts=1, base_url=ident.url)
    assert fetcher.retrieve_region() == "ap-southeast-2"
    assert ident.requests[0].method == "PUT"


def test_down_refuses_connections_and_comes_back_on_the_same_port(
        imds_server: ImdsServer) -> None:
    ident = imds_server.identity("i-0aaa555")
    port = ident.port
    ident.down = True
    with pytest.raises(ConnectionRefusedError), socket.create_connection(
            ("127.0.0.1", port), timeout=1):
        pass
    ident.down = False
    assert ident.port == port
    assert token(ident.url)


def test_hang_accepts_but_never_answers(imds_server: ImdsServer) -> None:
    ident = imds_server.identity("i-0aaa666")
    ident.hang = True
    try:
        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            urllib.request.urlopen(urllib.request.Request(
                f"{ident.url}latest/api/token", method="PUT",
                headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}), timeout=0.5)
    finally:
        ident.hang = False
    assert token(ident.url)
