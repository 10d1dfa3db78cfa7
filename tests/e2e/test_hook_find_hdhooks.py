"""The shims find hdhooks without PATH's help; each hook leaves its metric in a file.

The shims look at ``$HDHOOKS``, then PATH, then ``/opt/hdhooks/venv/bin/hdhooks``;
``hdhooks local deploy`` hands its own path to the hooks it runs. Every hook
appends its CloudWatch EMF line to a JSON-lines file of its own, which the
CloudWatch agent can read as EMF (the CodeDeploy agent's log prefixes lines).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hookkit import EVENTS, GROUP, HDHOOKS, Machine, assert_outcome

BARE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
AMI_HDHOOKS = "/opt/hdhooks/venv/bin/hdhooks"


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    m = Machine(tmp_path)
    yield m
    m.cleanup()


def bare_env(machine: Machine, event: str | None, deployment_id: str | None,
             path: str = BARE_PATH) -> dict[str, str]:
    """The machine's environment with no HDHOOKS and a PATH without hdhooks on it."""
    env = machine.env(event, deployment_id)
    env.pop("HDHOOKS", None)
    env["PATH"] = path
    return env


def no_hdhooks_installed() -> None:
    for folder in BARE_PATH.split(":"):
        if os.access(os.path.join(folder, "hdhooks"), os.X_OK):
            pytest.skip(f"hdhooks is installed in {folder}")
    if os.path.exists(AMI_HDHOOKS):
        pytest.skip(f"{AMI_HDHOOKS} exists on this machine")


def emf_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the metrics file, each one a whole EMF document (no prefix)."""
    docs = [json.loads(line) for line in path.read_text().splitlines()]
    for doc in docs:
        spec = doc["_aws"]["CloudWatchMetrics"][0]
        assert isinstance(doc["_aws"]["Timestamp"], int)
        assert spec["Namespace"] == "hdhooks"
        for dimensions in spec["Dimensions"]:
            assert all(isinstance(doc[name], str) for name in dimensions)
        for metric in spec["Metrics"]:
            assert isinstance(doc[metric["Name"]], (int, float))
    return docs


def test_without_hdhooks_anywhere_the_shim_says_how_to_install_it(machine: Machine) -> None:
    no_hdhooks_installed()
    bundle = machine.bundle("v1", "hello-1")
    p = subprocess.run(["sh", str(bundle / "hooks" / "before-install.sh")], cwd=machine.tmp,
                       env=bare_env(machine, "BeforeInstall", "d-FFFFFFFF1"),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 127
    assert p.stdout == ""
    assert len(p.stderr.splitlines()) == 1
    assert p.stderr.startswith(f"hdhooks: cannot run {AMI_HDHOOKS} (looked at $HDHOOKS, "
                               "PATH, /opt/hdhooks/venv/bin/hdhooks): install it there with "
                               "scripts/bake-ami.sh")
    assert not machine.base_dir.exists()


def test_without_hdhooks_on_path_the_shim_runs_the_ami_s(machine: Machine) -> None:
    """/opt/hdhooks/venv/bin/hdhooks, seen through a private mount of a tmp /opt."""
    no_hdhooks_installed()
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private mount namespace")
    opt = machine.tmp / "opt-root"
    venv_bin = opt / "hdhooks" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "hdhooks").symlink_to(HDHOOKS)
    bundle = machine.bundle("v1", "hello-1")
    script = f'mount --bind "{opt}" /opt && exec sh "{bundle}/hooks/before-install.sh"'
    p = subprocess.run(["unshare", "--mount", "sh", "-c", script], cwd=machine.tmp,
                       env=bare_env(machine, "BeforeInstall", "d-FFFFFFFF4"),
                       capture_output=True, text=True, timeout=90)
    if p.returncode != 0 and "mount" in p.stderr and "OK BeforeInstall" not in p.stdout:
        pytest.skip(f"no private mount here: {p.stderr.strip()}")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "\nOK BeforeInstall hello-service " in p.stdout


def test_hdhooks_that_is_not_a_program_is_named(machine: Machine) -> None:
    bundle = machine.bundle("v1", "hello-1")
    env = bare_env(machine, "BeforeInstall", "d-FFFFFFFF2")
    env["HDHOOKS"] = str(machine.tmp)  # a directory
    p = subprocess.run(["sh", str(bundle / "hooks" / "before-install.sh")], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 127
    assert p.stderr.startswith(f"hdhooks: cannot run {machine.tmp} (looked at")


def test_the_shim_finds_hdhooks_on_path(machine: Machine) -> None:
    folder = machine.tmp / "bin"
    folder.mkdir()
    (folder / "hdhooks").symlink_to(HDHOOKS)
    bundle = machine.bundle("v1", "hello-1")
    p = subprocess.run(["sh", str(bundle / "hooks" / "before-install.sh")], cwd=machine.tmp,
                       env=bare_env(machine, "BeforeInstall", "d-FFFFFFFF3",
                                    f"{folder}:{BARE_PATH}"),
                       capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "\nOK BeforeInstall hello-service " in p.stdout


def test_local_deploy_gives_its_hooks_hdhooks_and_each_hook_a_metric_line(
        machine: Machine) -> None:
    metrics = machine.tmp / "metrics" / "hdhooks.log"
    machine.extra_env["HDHOOKS_METRICS_FILE"] = str(metrics)
    bundle = machine.bundle("v1", "hello-1")
    p = subprocess.run([HDHOOKS, "local", "deploy", "--bundle-location", str(bundle),
                        "--deployment-group-name", GROUP, "--root", str(machine.tmp / "root")],
                       env=bare_env(machine, None, None), capture_output=True, text=True,
                       timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    assert machine.build_answering() == "hello-1"
    docs = emf_lines(metrics)
    # the first deployment has no previous revision to stop
    assert [d["Event"] for d in docs if d["Event"] in EVENTS] == list(EVENTS[1:])
    assert {d["Component"] for d in docs} == {"hello-service"}
    assert {d["Result"] for d in docs} == {"Succeeded"}
    assert oct(metrics.stat().st_mode & 0o777) == "0o644"


def test_a_hook_appends_one_whole_line_and_never_follows_a_link(machine: Machine) -> None:
    metrics = machine.tmp / "metrics.log"
    machine.extra_env["HDHOOKS_METRICS_FILE"] = str(metrics)
    bundle = machine.bundle("v1", "hello-1")
    for n in (1, 2):
        run = machine.hook("BeforeAllowTraffic", bundle, f"d-MMMMMMMM{n}")
        assert_outcome(run, "OK", "BeforeAllowTraffic", 0)
    docs = emf_lines(metrics)
    assert [d["DeploymentId"] for d in docs] == ["d-MMMMMMMM1", "d-MMMMMMMM2"]
    assert docs[1] == run.emf()  # the very line the hook printed

    target = machine.tmp / "elsewhere"
    target.write_text("")
    metrics.unlink()
    metrics.symlink_to(target)
    run = machine.hook("BeforeAllowTraffic", bundle, "d-MMMMMMMM3")
    assert_outcome(run, "OK", "BeforeAllowTraffic", 0)  # a metric never fails a hook
    assert f"warning: metric not written to {metrics}" in run.stdout
    assert target.read_text() == ""


def test_the_metrics_file_defaults_beside_the_service_logs(machine: Machine) -> None:
    bundle = machine.bundle("v1", "hello-1")
    run = machine.hook("AfterAllowTraffic", bundle, "d-MMMMMMMM4")
    assert_outcome(run, "OK", "AfterAllowTraffic", 0)
    docs = emf_lines(machine.state_dir / "log" / "metrics.log")
    assert [d["Event"] for d in docs] == ["AfterAllowTraffic"]


def test_no_metric_for_a_usage_error(machine: Machine, tmp_path: Path) -> None:
    metrics = machine.tmp / "metrics.log"
    machine.extra_env["HDHOOKS_METRICS_FILE"] = str(metrics)
    env = machine.env("BeforeInstall")
    env.pop("DEPLOYMENT_ID", None)
    empty = tmp_path / "not-a-bundle"
    empty.mkdir()
    run = machine.run([HDHOOKS, "hook", "--bundle", empty], env)
    assert run.returncode == 2
    assert '"_aws"' not in run.output
    back = machine.run([HDHOOKS, "rollback", "nosuch"], machine.env())
    assert back.returncode == 2
    assert '"_aws"' not in back.output
    assert not metrics.exists()


def test_rollback_prints_its_metric_only_when_asked(machine: Machine) -> None:
    metrics = machine.tmp / "metrics.log"
    machine.extra_env["HDHOOKS_METRICS_FILE"] = str(metrics)
    for n in (1, 2):
        runs = machine.deploy(machine.bundle(f"v{n}", f"hello-{n}"), f"d-MMMMMMMN{n}")
        assert all(r.returncode == 0 for r in runs.values()), runs
    quiet = machine.run([HDHOOKS, "rollback"], machine.env())
    assert quiet.returncode == 0, quiet.describe()
    assert '"_aws"' not in quiet.output
    assert quiet.stdout.splitlines()[-1].startswith("OK Rollback hello-service ")
    assert emf_lines(metrics)[-1]["Event"] == "Rollback"
