"""The release pipeline end to end: wheelhouse from this tree, offline bake, doctor.

The wheelhouse is built once per module from the working tree (x86_64 or
aarch64, whichever this machine is: the bake then runs what it installed).
Every bake runs with pip's network cut off: ``--no-index`` in the script,
and proxies pointing at a closed port, so a download attempt would fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.hookkit import SYSTEMCTL

REPO = Path(__file__).resolve().parents[2]
BAKE = REPO / "scripts" / "bake-ami.sh"
ARCH = platform.machine()
OLD_PYTHON = Path.home() / ".pyenv" / "versions" / "3.9.18" / "bin" / "python3.9"

pytestmark = [
    pytest.mark.skipif(ARCH not in ("x86_64", "aarch64"), reason=f"no wheelhouse for {ARCH}"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the bake sets root ownership"),
    pytest.mark.skipif(not os.access(SYSTEMCTL, os.X_OK), reason="daemonless systemctl "
                       "missing (the bake's doctor needs one): run scripts/test-setup.sh"),
    pytest.mark.timeout(600),
]


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-wheelhouse.sh"), "--python", sys.executable,
         "--out", str(out), "--arch", ARCH],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    house = out / f"wheelhouse-cp311-{ARCH}"
    assert (out / f"wheelhouse-cp311-{ARCH}.tar.gz").is_file()
    return house


def offline_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "HDHOOKS_"))}
    dead = "http://127.0.0.1:9"
    env.update(http_proxy=dead, https_proxy=dead, HTTP_PROXY=dead, HTTPS_PROXY=dead,
               HDHOOKS_SYSTEMCTL=str(SYSTEMCTL), **extra)
    return env


def bake(root: Path, *args: str, umask: int = 0o077,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run bake-ami.sh under a hostile umask (its modes must not depend on it)."""
    return subprocess.run(
        ["bash", "-c", f"umask {umask:03o}; exec bash \"$0\" \"$@\"", str(BAKE),
         "--root", str(root), "--python", sys.executable, *args],
        capture_output=True, text=True, timeout=300, env=env or offline_env())


def agent_installed(root: Path, version: str = "OFFICIAL_1.7.1-110_rpm") -> None:
    (root / "opt" / "codedeploy-agent").mkdir(parents=True, exist_ok=True)
    (root / "opt" / "codedeploy-agent" / ".version").write_text(version + "\n")


def tree(root: Path) -> dict[str, tuple[int, str]]:
    """path -> (mode, digest or link target) for everything under root."""
    found: dict[str, tuple[int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                what = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                what = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                what = "dir"
            found[str(path.relative_to(root))] = (st.st_mode, what)
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


BAKE_ARGS = ("--environment", "prod", "--component", "api", "--component", "web")


@pytest.fixture(scope="module")
def image(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One image tree baked once (the slow part: a venv and 17 wheels)."""
    root = tmp_path_factory.mktemp("image")
    agent_installed(root)
    first = bake(root, "--wheelhouse", str(wheelhouse), *BAKE_ARGS)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "doctor: OK" in first.stderr
    assert "created" in first.stdout
    return root


def test_bake_installs_hdhooks_offline_with_safe_modes(image: Path) -> None:
    root = image
    venv = root / "opt" / "hdhooks" / "venv"
    link = root / "usr" / "local" / "bin" / "hdhooks"
    assert os.readlink(link) == str(venv / "bin" / "hdhooks")
    version = subprocess.run([str(link), "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("hdhooks ")
    for directory in ("etc/hdhooks", "var/lib/hdhooks", "var/log/hdhooks"):
        assert mode(root / directory) == 0o755, directory
        assert (root / directory).stat().st_uid == 0
    assert (root / "etc" / "hdhooks" / "environment").read_text() == "prod\n"
    assert mode(root / "etc" / "hdhooks" / "environment") == 0o644

    units = root / "etc" / "systemd" / "system"
    for unit in ("hdhooks-reconcile.service", "hdhooks-reconcile.timer"):
        assert (units / unit).read_bytes() == (REPO / "scripts" / unit).read_bytes()
        assert mode(units / unit) == 0o644
    wants = units / "timers.target.wants" / "hdhooks-reconcile.timer"
    assert os.readlink(wants) == "/etc/systemd/system/hdhooks-reconcile.timer"


def test_installed_doctor_passes_the_image(image: Path) -> None:
    link = image / "usr" / "local" / "bin" / "hdhooks"
    doctor = subprocess.run([str(link), "doctor", "--bake", "--root", str(image),
                             "--format", "json"], capture_output=True, text=True,
                            timeout=120, env=offline_env())
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["ok"] is True and report["bake"] is True
    checks = {c["check"]: c["status"] for c in report["checks"]}
    assert checks["codedeploy agent"] == "ok" and checks["hdhooks on PATH"] == "ok"
    assert "imdsv2" not in checks and "credentials" not in checks


def test_second_bake_changes_nothing(image: Path, wheelhouse: Path) -> None:
    before = tree(image)
    second = bake(image, "--wheelhouse", str(wheelhouse), *BAKE_ARGS)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "created" not in second.stdout  # the venv was kept
    assert tree(image) == before


def test_cloudwatch_fragment_ships_metrics_and_logs_per_component(image: Path) -> None:
    fragment = (image / "opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d"
                / "hdhooks.json")
    assert mode(fragment) == 0o644
    doc = json.loads(fragment.read_text())
    assert "emf" in doc["logs"]["metrics_collected"]
    groups = {e["file_path"]: e["log_group_name"]
              for e in doc["logs"]["logs_collected"]["files"]["collect_list"]}
    assert groups["/var/log/hdhooks/metrics.log"] == "/hdhooks/prod/metrics"
    assert groups["/var/log/hdhooks/api.log"] == "/hdhooks/prod/api"
    assert groups["/var/log/hdhooks/web.log"] == "/hdhooks/prod/web"
    assert groups["/var/log/aws/codedeploy-agent/codedeploy-agent.log"] == (
        "/hdhooks/prod/codedeploy-agent")
    assert groups["/opt/codedeploy-agent/deployment-root/*/*/logs/scripts.log"] == (
        "/hdhooks/prod/scripts")


def test_doctor_failure_fails_the_bake(image: Path, wheelhouse: Path) -> None:
    version = image / "opt" / "codedeploy-agent" / ".version"
    version.write_text("OFFICIAL_1.1.2-9_rpm\n")  # too old for IMDSv2
    try:
        done = bake(image, "--wheelhouse", str(wheelhouse), *BAKE_ARGS)
    finally:
        version.write_text("OFFICIAL_1.7.1-110_rpm\n")
    assert done.returncode == 1
    assert "cannot use IMDSv2" in done.stdout
    assert "doctor: FAILED" in done.stderr


@pytest.mark.skipif(not OLD_PYTHON.exists(), reason=f"{OLD_PYTHON} is not installed")
def test_refuses_python_older_than_3_10(wheelhouse: Path, tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(BAKE), "--root", str(tmp_path), "--wheelhouse",
                           str(wheelhouse), "--python", str(OLD_PYTHON)],
                          capture_output=True, text=True, timeout=60, env=offline_env())
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("bake-ami: error: ") and "is Python 3.9" in lines[0]
    assert "needs 3.10 or newer" in lines[0]
    assert os.listdir(tmp_path) == []


def tampered(wheelhouse: Path, tmp_path: Path, how: str) -> Path:
    copy = tmp_path / "wheelhouse"
    subprocess.run(["cp", "-a", str(wheelhouse), str(copy)], check=True, timeout=60)
    if how == "changed":
        wheel = next(copy.glob("six-*.whl"))
        wheel.write_bytes(wheel.read_bytes() + b"\0")
    else:
        (copy / "evil-1.0-py3-none-any.whl").write_bytes(b"PK")
    return copy


@pytest.mark.parametrize(("how", "message"), [
    ("changed", "does not match its SHA-256 in SHA256SUMS (six-"),
    ("added", "do not match SHA256SUMS"),
])
def test_refuses_a_tampered_wheelhouse(wheelhouse: Path, tmp_path: Path, how: str,
                                       message: str) -> None:
    root = tmp_path / "image"
    root.mkdir()
    done = bake(root, "--wheelhouse", str(tampered(wheelhouse, tmp_path, how)))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bake-ami: error: "), lines
    assert message in lines[0]
    assert os.listdir(root) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--bogus"], "unknown argument '--bogus'"),
    (["--component"], "--component needs a value"),
    (["--component", "a b"], "'a b' is not a usable name"),
    (["--environment", "../x"], "'../x' is not a usable name"),
    (["--service-user", "svc"], "cannot be combined with --root"),
    (["--prefix", "relative"], "--prefix must be an absolute path"),
])
def test_usage_errors(wheelhouse: Path, tmp_path: Path, args: list[str], message: str) -> None:
    done = bake(tmp_path, "--wheelhouse", str(wheelhouse), *args)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert message in done.stderr
    assert os.listdir(tmp_path) == []


def test_refuses_a_state_dir_that_is_a_link(wheelhouse: Path, tmp_path: Path) -> None:
    root = tmp_path / "image"
    (root / "var" / "lib").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "var" / "lib" / "hdhooks").symlink_to(elsewhere)
    done = bake(root, "--wheelhouse", str(wheelhouse))
    assert done.returncode == 2
    assert "is a symbolic link; refusing to follow it" in done.stderr
    assert os.listdir(elsewhere) == []
