"""A service that runs as its own user must be able to read its release (root only).

The agent unpacks a revision as root with the archive's modes; a build made
under a strict umask (077) gives 0600 files and 0700 directories. hdhooks
gives the service's group read access to what it copied, keeps the code
root's (no group write), and creates the base directories 0755 whatever the
hook's umask.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hookkit import Machine, assert_outcome
from tests.support.users import ensure_user

USER, GROUP = "hdhooks-app", "hdhooks-grp"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("useradd") is None,
                       reason="needs root and useradd to create real users"),
    pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK),
                       reason="the service user runs /usr/bin/python3"),
]


@pytest.fixture(scope="module")
def app_user() -> str:
    return ensure_user(USER, GROUP)


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    """A machine whose base dir the service user can reach (pytest's tmp is 0700)."""
    m = Machine(tmp_path)
    opt = Path(tempfile.mkdtemp(prefix="hdhooks-opt-"))
    opt.chmod(0o755)
    m.base_dir = opt / "hello-service"
    yield m
    m.cleanup()
    shutil.rmtree(opt, ignore_errors=True)


def strict_umask_build(bundle: Path) -> None:
    """What a build under umask 077 uploads: nothing for the group or others."""
    for dirpath, dirnames, filenames in os.walk(bundle):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o700)
        for name in filenames:
            path = os.path.join(dirpath, name)
            os.chmod(path, 0o700 if os.access(path, os.X_OK) else 0o600)
    bundle.chmod(0o700)


def test_a_service_user_reads_a_release_copied_from_a_strict_build(
        machine: Machine, app_user: str) -> None:
    def as_service_user(cfg: dict[str, Any]) -> None:
        service = cfg["environments"]["demo"]["service"]
        service["user"] = app_user
        service["command"][0] = "/usr/bin/python3"  # the venv may be closed to other users

    bundle = machine.bundle("v1", "hello-1.0.0", edit=as_service_user)
    strict_umask_build(bundle)
    old = os.umask(0o027)  # a hardened shell; the hooks inherit it
    try:
        runs = machine.deploy(bundle, "d-UUUUUUUU1")
    finally:
        os.umask(old)
    assert all(r.returncode == 0 for r in runs.values()), [r.describe() for r in runs.values()]
    assert_outcome(runs["ValidateService"], "OK", "ValidateService", 0)
    assert machine.build_answering() == "hello-1.0.0"

    gid = pwd.getpwnam(app_user).pw_gid
    release = machine.base_dir / "releases" / "d-UUUUUUUU1"
    for path in (machine.base_dir, release.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o755
    app = release / "app" / "hello_service.py"
    for path, mode in ((release, 0o750), (app.parent, 0o750), (app, 0o640),
                       (release / "hooks" / "application-stop.sh", 0o750)):
        st = path.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, gid, mode), path
    rendered = (release / "conf" / "hello.json").stat()  # its own mode from the config
    assert (rendered.st_gid, stat.S_IMODE(rendered.st_mode)) == (gid, 0o644)
