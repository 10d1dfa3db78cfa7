"""ServiceSpec validation, result wording, pidfiles and the service environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hdhooks.errors import ConfigError
from hdhooks.instance.ports import PortHolder
from hdhooks.instance.service.base import (
    ServiceSpec,
    StopResult,
    tail_file,
    validate_spec,
)
from hdhooks.instance.service.factory import make_service
from hdhooks.instance.service.process import (
    ProcessService,
    read_pidfile,
    service_env,
    write_pidfile,
)
from hdhooks.instance.service.systemd import SystemdService


@pytest.mark.parametrize(
    ("kw", "problem"),
    [
        ({"name": ""}, "invalid service name ''"),
        ({"name": "../x"}, "invalid service name"),
        ({"backend": "upstart"}, "backend must be one of systemd, process, got 'upstart'"),
        ({"backend": "process", "command": []}, "the process backend needs a command"),
        ({"unit_template": "builtin", "command": []}, "rendering a unit needs a command"),
        ({"stop_timeout": 0}, "stop_timeout must be positive"),
        ({"port": 70000}, "port must be 1..65535, got 70000"),
    ],
)
def test_bad_specs_are_config_errors(kw: dict[str, object], problem: str) -> None:
    values: dict[str, object] = {"name": "api", "command": ["/bin/true"]}
    values.update(kw)
    spec = ServiceSpec(**values)  # type: ignore[arg-type]
    assert problem in validate_spec(spec)[0]
    with pytest.raises(ConfigError, match="service"):
        make_service(spec)


def test_factory_picks_the_backend() -> None:
    assert isinstance(make_service(ServiceSpec("api", "systemd", ["/bin/true"])), SystemdService)
    assert isinstance(make_service(ServiceSpec("api", "process", ["/bin/true"])), ProcessService)


def test_spec_defaults_and_freezing() -> None:
    cmd = ["/bin/true"]
    spec = ServiceSpec("api", command=cmd)
    cmd.append("changed")
    assert spec.command == ("/bin/true",)
    assert spec.unit == "api.service" and ServiceSpec("x.socket").unit == "x.socket"
    assert spec.log_file == "/var/log/hdhooks/api.log"
    assert spec.pid_path == "/run/hdhooks/api.pid"


def test_stop_result_wording() -> None:
    holder = PortHolder(8080, "0.0.0.0", 77, "java", "java -jar old.jar", "app")
    assert StopResult(True, False, 0.0).describe() == "was not running"
    assert StopResult(True, True, 1.234, killed=True).describe() == (
        "stopped in 1.23s (SIGKILL after timeout)")
    held = StopResult(True, True, 0.5, port_holders=(holder,))
    assert not held.ok
    assert held.describe() == ("stopped in 0.50s; port still held by pid 77 (java, user app): "
                               "java -jar old.jar on 0.0.0.0:8080")
    assert PortHolder(80, "::").describe() == (
        "an unknown process on :::80 (run as root to see it)")


def test_pidfile_round_trip(tmp_path: Path) -> None:
    path = str(tmp_path / "run" / "api.pid")
    assert read_pidfile(path) is None
    write_pidfile(path, 1234, 1700000000.25)
    assert read_pidfile(path) == (1234, 1700000000.25)
    Path(path).write_text("99\n")
    assert read_pidfile(path) == (99, None)
    Path(path).write_text("garbage")
    assert read_pidfile(path) is None


def test_service_env_is_clean_like_systemd() -> None:
    spec = ServiceSpec("api", "process", ["/bin/true"], env={"JAVA_OPTS": "-Xmx1g"})
    env = service_env(spec, {"LANG": "C.UTF-8", "DEPLOYMENT_ID": "d-1", "PATH": "/x"})
    assert env == {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "LANG": "C.UTF-8", "JAVA_OPTS": "-Xmx1g"}
    root = ServiceSpec("api", "process", ["/bin/true"], user="root")
    assert service_env(root, {})["HOME"] == "/root"


def test_tail_file(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail_file(str(path), 3) == ["line 97", "line 98", "line 99"]
    assert tail_file(str(tmp_path / "missing")) == []


def test_process_backend_status_of_never_started_and_crashed(tmp_path: Path) -> None:
    pidfile = tmp_path / "api.pid"
    svc = ProcessService(ServiceSpec("api", "process", ["/bin/true"], pidfile=str(pidfile)))
    assert svc.status().state == "inactive" and svc.is_installed()
    # A pidfile whose process is gone (a pid that cannot be ours: its start time differs).
    write_pidfile(str(pidfile), os.getpid(), 1.0)
    assert svc.status().describe() == "failed (failed)"
    missing = ProcessService(ServiceSpec("api", "process", ["no-such-command-hdhooks"]))
    assert not missing.is_installed()
