"""Process backend specifics: detached from the caller's pipes, start failures, users."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from hdhooks.errors import CommandFailed, ConfigError
from hdhooks.instance.health import HealthCheck, check_service
from hdhooks.instance.service.base import ServiceSpec
from hdhooks.instance.service.factory import make_service
from tests.integration.service.conftest import HELLO, ServiceFactory, hello_command

HOOK = """
import sys
from hdhooks.instance.service.base import ServiceSpec
from hdhooks.instance.service.factory import make_service
spec = ServiceSpec(name="hello", backend="process", command=sys.argv[3:],
                   log_dir=sys.argv[1], pidfile=sys.argv[2])
make_service(spec).start()
print("hook done", flush=True)
"""


def test_a_started_service_does_not_hold_the_hooks_pipes(tmp_path: Path, port: int) -> None:
    """The agent reads a hook's output until EOF: the service must not keep it open."""
    pidfile = tmp_path / "hello.pid"
    hook = subprocess.run(
        [sys.executable, "-c", HOOK, str(tmp_path / "log"), str(pidfile), *hello_command(port)],
        capture_output=True, text=True, timeout=30,
    )
    svc = make_service(ServiceSpec("hello", "process", hello_command(port),
                                   log_dir=str(tmp_path / "log"), pidfile=str(pidfile)))
    try:
        assert hook.returncode == 0 and hook.stdout == "hook done\n", hook.stderr
        status = svc.status()
        assert status.active
        assert os.getsid(status.main_pid or 0) == status.main_pid  # its own session
        assert check_service(HealthCheck(f"http://127.0.0.1:{port}/health", deadline=15)).ok
    finally:
        assert svc.stop().stopped


def test_start_of_a_missing_executable(make: ServiceFactory, tmp_path: Path) -> None:
    svc = make("process", [str(tmp_path / "nope")])
    with pytest.raises(CommandFailed, match=r"cannot start hello: .*nope: No such file"):
        svc.start()
    assert svc.status().state == "inactive"


def test_start_of_a_command_that_exits_at_once(make: ServiceFactory) -> None:
    svc = make("process", ["/bin/sh", "-c", "echo no config >&2; exit 7"])
    with pytest.raises(CommandFailed, match="hello exited with status 7 right after start") as e:
        svc.start()
    assert "no config" in e.value.details()
    assert svc.status().state == "failed"


def test_unknown_user_is_a_config_error(make: ServiceFactory) -> None:
    svc = make("process", ["/bin/true"], user="hdhooks-no-such-user")
    with pytest.raises(ConfigError, match="no such user 'hdhooks-no-such-user'"):
        svc.start()


@pytest.fixture
def public_app() -> Iterator[Path]:
    """The app copied where any user can read it (pytest's tmp dirs are 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="hdhooks-public-"))
    folder.chmod(0o755)
    app = folder / "hello_service.py"
    shutil.copy(HELLO, app)
    app.chmod(0o644)
    yield app
    shutil.rmtree(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="starting as another user needs root")
@pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK), reason="needs /usr/bin/python3")
def test_runs_as_the_given_user(make: ServiceFactory, port: int, public_app: Path) -> None:
    user = pwd.getpwnam("nobody")
    command = ["/usr/bin/python3", str(public_app), "--host", "127.0.0.1", "--port", str(port)]
    svc = make("process", command, user="nobody")
    svc.start()
    pid = svc.status().main_pid
    assert pid and psutil.Process(pid).uids().real == user.pw_uid
    assert check_service(HealthCheck(f"http://127.0.0.1:{port}/health", deadline=15), svc).ok


@pytest.mark.skipif(os.geteuid() != 0, reason="starting as another user needs root")
@pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK), reason="needs /usr/bin/python3")
def test_runs_with_the_given_group(make: ServiceFactory, port: int, public_app: Path) -> None:
    """``group`` is the primary group, as systemd's Group= (not the user's own group)."""
    import grp

    group = grp.getgrnam("daemon" if _has_group("daemon") else "nogroup")
    command = ["/usr/bin/python3", str(public_app), "--host", "127.0.0.1", "--port", str(port)]
    svc = make("process", command, user="nobody", group=group.gr_name)
    svc.start()
    pid = svc.status().main_pid
    assert pid and psutil.Process(pid).gids().real == group.gr_gid
    assert psutil.Process(pid).uids().real == pwd.getpwnam("nobody").pw_uid


def test_unknown_group_is_a_config_error(make: ServiceFactory) -> None:
    svc = make("process", ["/bin/true"], group="hdhooks-no-such-group")
    with pytest.raises(ConfigError, match="no such group 'hdhooks-no-such-group'"):
        svc.start()


def _has_group(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True
