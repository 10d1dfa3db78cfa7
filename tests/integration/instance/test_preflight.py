"""Preflight: version parsing, disk, commands (real executables), ports."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from hdhooks.instance.ports import PortHolder
from hdhooks.instance.preflight import (
    PreflightSpec,
    Requirement,
    check_command,
    check_disk,
    check_port,
    failures,
    parse_version,
    run_preflight,
    version_at_least,
)


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ('openjdk version "17.0.2" 2022-01-18\nOpenJDK Runtime Environment', (17, 0, 2)),
        ('java version "1.8.0_292"\nJava(TM) SE Runtime Environment', (8, 0, 292)),
        ('openjdk version "21" 2023-09-19', (21,)),
        ("openjdk 17.0.9 2023-10-17", (17, 0, 9)),
        ("Python 3.11.7", (3, 11, 7)),
        ("nginx version: nginx/1.24.0", (1, 24, 0)),
        ("node v18.19.0", (18, 19, 0)),
        ("Linux x86_64 kernel 6.1", (6, 1)),
        ("no digits here", None),
    ],
)
def test_parse_version(text: str, version: tuple[int, ...] | None) -> None:
    assert parse_version(text) == version


@pytest.mark.parametrize(
    ("found", "wanted", "ok"),
    [((17,), (17, 0, 0), True), ((17, 0, 2), (17, 0, 10), False), ((21,), (17,), True),
     ((8, 0, 292), (11,), False)],
)
def test_version_at_least(found: tuple[int, ...], wanted: tuple[int, ...], ok: bool) -> None:
    assert version_at_least(found, wanted) is ok


def test_disk(tmp_path: Path) -> None:
    assert check_disk(str(tmp_path / "not" / "yet"), 1).ok
    bad = check_disk(str(tmp_path), 10**9)
    assert not bad.ok and bad.message.startswith(f"{tmp_path}: ")
    assert "MB free, need 1000000000 MB" in bad.message
    assert bad.line().startswith("FAILED disk: ")


@pytest.fixture
def fake_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `java` on PATH that prints what Java 17 prints, on stderr."""
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text('#!/bin/sh\necho \'openjdk version "17.0.2" 2022-01-18\' >&2\n')
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{java.parent}{os.pathsep}{os.environ['PATH']}")
    return java


def test_command_versions(fake_java: Path) -> None:
    assert check_command(Requirement("java", "17")).ok
    old = check_command(Requirement("java", "21"))
    assert not old.ok
    assert old.message == f"java 17.0.2 is older than 21 ({fake_java}; install a newer one)"
    missing = check_command(Requirement("hdhooks-no-such-tool"))
    assert missing.message == "hdhooks-no-such-tool not found on PATH (install it in the AMI)"


def test_port_findings() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        ours = check_port(port, own_pids={os.getpid()})
        assert ours.ok and ours.message == f"port {port} is held by this service"
        theirs = check_port(port)
        assert not theirs.ok
        assert theirs.message.startswith(f"port {port} is held by pid {os.getpid()} (")
        assert theirs.message.endswith("not by this service (stop that process or change the port)")
    assert check_port(port).message == f"port {port} is free"
    unknown = check_port(80, holders=lambda p: [PortHolder(p, "0.0.0.0")])
    assert "an unknown process on 0.0.0.0:80" in unknown.message and not unknown.ok


def test_run_preflight_reports_every_failure_at_once(tmp_path: Path) -> None:
    spec = PreflightSpec(disk=((str(tmp_path), 10**9),),
                         commands=(Requirement("sh"), Requirement("hdhooks-none")))
    found = run_preflight(spec)
    assert [f.ok for f in found] == [False, True, False]
    assert len(failures(found)) == 2
