"""runas and owner/group permissions with real users (root only)."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.agent.bundles import deploy, make_bundle, pid_alive
from tests.support.users import ensure_user

USER, GROUP = "hdhooks-app", "hdhooks-grp"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None,
    reason="needs root and useradd to create real users",
)


@pytest.fixture(scope="module")
def app_user() -> str:
    return ensure_user(USER, GROUP)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temp directory other users can enter (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="hdhooks-users-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _runas_bundle(where: Path, body: str, timeout: int = 10) -> Path:
    b = make_bundle(
        where / "b",
        f"version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: who.sh\n"
        f"      runas: {USER}\n      timeout: {timeout}\n",
        scripts={"who.sh": body},
    )
    b.chmod(0o755)
    return b


def test_runas_runs_as_the_user(hdhooks_bin: str, app_user: str, open_tmp: Path) -> None:
    bundle = _runas_bundle(open_tmp, '#!/bin/sh\necho "user=$(id -un) home=$HOME"\n')
    r = deploy(hdhooks_bin, "-l", bundle, "--root", open_tmp / "root")
    assert r.returncode == 0, r.stderr
    log = next((open_tmp / "root").rglob("scripts.log")).read_text()
    home = pwd.getpwnam(app_user).pw_dir
    assert f"[stdout]user={app_user} home={home}" in log


def test_runas_failure_names_the_user(hdhooks_bin: str, app_user: str, open_tmp: Path) -> None:
    bundle = _runas_bundle(open_tmp, "#!/bin/sh\nexit 5\n")
    r = deploy(hdhooks_bin, "-l", bundle, "--root", open_tmp / "root")
    assert r.returncode == 1
    assert (f"Script at specified location: who.sh run as user {app_user} failed with exit "
            "code 5") in r.stderr


def test_runas_timeout_ends_children_under_su(hdhooks_bin: str, app_user: str,
                                              open_tmp: Path) -> None:
    bundle = _runas_bundle(open_tmp, "#!/bin/sh\nsleep 61 &\nsleep 61\n", timeout=1)
    r = deploy(hdhooks_bin, "-l", bundle, "--root", open_tmp / "root")
    assert r.returncode == 1
    assert "failed to complete in 1 seconds" in r.stderr
    pids = [int(p) for p in re.findall(r"ended: pid (\d+) \(sleep 61\)", r.stderr)]
    assert len(pids) == 2, r.stderr
    assert not any(pid_alive(p) for p in pids)


def _runs_as(user: str, command: str) -> bool:
    try:
        return subprocess.run([command, "--version"], user=user,
                              capture_output=True).returncode == 0
    except PermissionError:
        return False


@pytest.fixture(scope="module")
def user_hdhooks(hdhooks_bin: str, app_user: str) -> Iterator[str]:
    """An ``hdhooks`` command ``app_user`` can run. When the test venv's Python lives
    where others cannot read it (a pyenv build under /root), a venv on a system Python
    of the same version, world-readable, sees the test venv's packages: the layout of
    an instance, where hdhooks' venv sits on the python3.11 package."""
    if _runs_as(app_user, hdhooks_bin):
        yield hdhooks_bin
        return
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    python = next((p for p in (f"/usr/bin/{version}", f"/usr/local/bin/{version}")
                   if os.access(p, os.X_OK)), None)
    if python is None:
        pytest.fail(f"{app_user} cannot read {sys.executable} and there is no system "
                    f"{version}: install Debian's {version} package")
    where = Path(tempfile.mkdtemp(prefix="hdhooks-venv-"))
    try:
        where.chmod(0o755)
        venv = where / "venv"
        subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
        site_dir = next(p for p in sys.path if p.endswith("site-packages")
                        and p.startswith(sys.prefix))
        (venv / "lib" / version / "site-packages" / "hdhooks-tests.pth").write_text(
            f"import site; site.addsitedir({site_dir!r})\n")
        command = venv / "bin" / "hdhooks"
        body = Path(hdhooks_bin).read_text().split("\n", 1)[1]  # after the shebang
        command.write_text(f"#!{venv / 'bin' / 'python'}\n{body}")
        command.chmod(0o755)
        if not _runs_as(app_user, str(command)):
            pytest.fail(f"{app_user} cannot run {command} either")
        yield str(command)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_runas_without_root_says_why(user_hdhooks: str, app_user: str, open_tmp: Path) -> None:
    """A non-root caller's su asks for a password: the failure must say runas needs root."""
    bundle = _runas_bundle(open_tmp, "#!/bin/sh\necho never\n")
    root = open_tmp / "root"
    root.mkdir()
    os.chown(root, pwd.getpwnam(app_user).pw_uid, -1)
    r = subprocess.run([user_hdhooks, "local", "deploy", "-l", str(bundle), "--root", str(root)],
                       user=app_user, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL, cwd=open_tmp)
    assert r.returncode == 1, r.stderr
    assert f"who.sh run as user {app_user} failed with exit code" in r.stderr
    assert "hint: runas needs a deployment run as root" in r.stderr


def test_owner_and_group_permissions(hdhooks_bin: str, app_user: str, open_tmp: Path) -> None:
    dest = open_tmp / "dest"
    bundle = make_bundle(
        open_tmp / "b",
        f"""
        version: 0.0
        os: linux
        files:
          - source: app
            destination: {dest}
        permissions:
          - object: {dest}
            pattern: "*.conf"
            owner: {USER}
            group: {GROUP}
            mode: "640"
            type: [file]
          - object: {dest}/logs
            owner: {USER}
            type: [directory]
        """,
        files={"app/a.conf": "", "app/b.txt": "", "app/logs/2024/x.log": ""},
    )
    r = deploy(hdhooks_bin, "-l", bundle, "--root", open_tmp / "root")
    assert r.returncode == 0, r.stderr
    st = (dest / "a.conf").stat()
    assert pwd.getpwuid(st.st_uid).pw_name == USER
    assert grp.getgrgid(st.st_gid).gr_name == GROUP
    assert st.st_mode & 0o777 == 0o640
    assert (dest / "b.txt").stat().st_uid == 0
    assert pwd.getpwuid((dest / "logs" / "2024").stat().st_uid).pw_name == USER
    assert (dest / "logs" / "2024").stat().st_gid == 0  # owner alone leaves the group
    assert (dest / "logs" / "2024" / "x.log").stat().st_uid == 0  # type: [directory] only
    assert (dest / "logs").stat().st_uid == 0  # never the object itself


@pytest.mark.skipif(shutil.which("setfacl") is None,
                    reason="setfacl missing (scripts/test-setup.d/acl.sh installs it)")
def test_acls_are_set(hdhooks_bin: str, app_user: str, open_tmp: Path) -> None:
    dest = open_tmp / "dest"
    bundle = make_bundle(
        open_tmp / "b",
        f"""
        version: 0.0
        os: linux
        files:
          - source: app
            destination: {dest}
        permissions:
          - object: {dest}
            acls: ["u:{USER}:rw"]
            type: [file]
        """,
        files={"app/secret.txt": "s"},
    )
    r = deploy(hdhooks_bin, "-l", bundle, "--root", open_tmp / "root")
    assert r.returncode == 0, r.stderr
    acl = subprocess.run(["getfacl", "-p", str(dest / "secret.txt")], capture_output=True,
                         text=True, check=True).stdout
    assert f"user:{USER}:rw-" in acl
