"""What ``hdhooks init --kind jvm`` writes, deployed twice with ``hdhooks local deploy``.

The scaffold is used as a team would: untouched except for one environment
overlay (``local``: the process backend, a base dir and state under tmp) and
the build output (``app.jar``, ``deploy/build-id``). This machine needs no
Java: a stand-in ``java`` earlier on PATH answers ``-version`` like OpenJDK 17
(for the preflight) and runs the example service for ``-jar app.jar``, with
the port and build id of the config that AfterInstall rendered.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.hookkit import EXAMPLE, HDHOOKS, free_port

FAKE_JAVA = '''#!{python}
"""java for a machine without Java: -version, and -jar app.jar (the example service)."""
import json, os, sys
if sys.argv[1:] == ["-version"]:
    print('openjdk version "17.0.9" 2023-10-17', file=sys.stderr)
    sys.exit(0)
if sys.argv[1:] != ["-jar", "app.jar"] or not os.path.isfile("app.jar"):
    sys.exit(f"fake java: cannot run {{sys.argv[1:]}} in {{os.getcwd()}}")
conf = {{}}
with open("conf/app.conf", encoding="utf-8") as fh:  # rendered by AfterInstall
    for line in fh:
        if "=" in line and not line.startswith("#"):
            key, _, value = line.strip().partition("=")
            conf[key] = value
own = os.path.join({state!r}, f"orders-{{os.getpid()}}.json")
with open(own, "w", encoding="utf-8") as fh:
    json.dump({{"build_id": conf["build.id"], "greeting": "Orders"}}, fh)
os.execv(sys.executable, [sys.executable, {hello!r}, "--host", "127.0.0.1",
                          "--port", conf["server.port"], "--config", own])
'''

OVERLAY = """
environment_from:
  deployment_groups: {{orders-local: local}}
environments:
  local:                          # this machine: no systemd, no service user
    service:
      backend: process
      command: [{java}, -jar, app.jar]
      user: null
      stop_timeout: 5
    releases: {{base_dir: {base}}}
    preflight: {{min_free_disk_mb: 10}}
"""


class Flow:
    """A scaffolded bundle, its builds, and the local deployments of them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.base = tmp / "opt" / "orders"
        self.root = tmp / "deployment-root"
        self.state = tmp / "state"
        self.fakebin = tmp / "fakebin"
        self.env = dict(os.environ, HDHOOKS=HDHOOKS, HDHOOKS_STATE_DIR=str(self.state),
                        HDHOOKS_DEBUG_LOG=str(tmp / "debug.log"),
                        PATH=f"{self.fakebin}{os.pathsep}{os.environ.get('PATH', '')}")

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HDHOOKS, *map(str, args)], env=self.env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)

    def scaffold(self) -> Path:
        bundle = self.tmp / "x"
        made = self.run("init", bundle, "--kind", "jvm", "--name", "orders",
                        "--port", str(self.port))
        assert made.returncode == 0, made.stderr
        self.fakebin.mkdir()
        self.state.mkdir()
        java = self.fakebin / "java"
        java.write_text(FAKE_JAVA.format(python=sys.executable, state=str(self.state),
                                         hello=str(EXAMPLE / "app" / "hello_service.py")))
        java.chmod(0o755)
        with open(bundle / "deploy" / "hdhooks.yml", "a", encoding="utf-8") as fh:
            fh.write(OVERLAY.format(java=java, base=self.base))
        return bundle

    def build(self, bundle: Path, version: str) -> Path:
        """The bundle with a build's output, as CodeBuild would upload it."""
        import shutil

        out = self.tmp / "builds" / version
        shutil.copytree(bundle, out)
        (out / "app.jar").write_bytes(b"PK\x03\x04 not really a jar")
        (out / "deploy" / "build-id").write_text(f"orders-{version}\n")
        return out

    def deploy(self, build: Path) -> subprocess.CompletedProcess[str]:
        return self.run("local", "deploy", "-l", build, "-d", "orders-local", "-a", "orders",
                        "--root", self.root)

    def scripts_log(self, deploy: subprocess.CompletedProcess[str]) -> str:
        line = next(x for x in deploy.stdout.splitlines() if x.startswith("Deployment d-"))
        return (Path(line.split(" in ", 1)[1]) / "logs" / "scripts.log").read_text()

    def answering(self) -> dict[str, object]:
        import json
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as r:
            return dict(json.loads(r.read()))

    def cleanup(self) -> None:
        current = self.base / "current"
        if current.exists():
            subprocess.run([HDHOOKS, "hook", "ApplicationStop", "--bundle", str(current)],
                           env=dict(self.env, DEPLOYMENT_GROUP_NAME="orders-local"),
                           capture_output=True, timeout=60)
        for p in psutil.process_iter(["cmdline"]):
            if str(self.port) in (p.info["cmdline"] or []):
                p.kill()


@pytest.fixture
def flow(tmp_path: Path) -> Iterator[Flow]:
    f = Flow(tmp_path)
    yield f
    f.cleanup()


def test_the_jvm_scaffold_deploys_two_versions(flow: Flow) -> None:
    bundle = flow.scaffold()
    lint = flow.run("lint", "--strict", bundle)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    first = flow.deploy(flow.build(bundle, "1.0.0"))
    assert first.returncode == 0, first.stdout + first.stderr
    answer = flow.answering()
    assert answer["build_id"] == "orders-1.0.0" and answer["status"] == "UP"
    v1_pid = int(str(answer["pid"]))
    log = flow.scripts_log(first)
    # the preflight ran the scaffold's java check (disk, java >= 17, port)
    assert "OK BeforeInstall orders" in log and "3 checks passed" in log
    assert "OK ValidateService orders in" in log
    assert f"healthy http://127.0.0.1:{flow.port}/actuator/health" in log

    second = flow.deploy(flow.build(bundle, "1.1.0"))
    assert second.returncode == 0, second.stdout + second.stderr
    assert flow.answering()["build_id"] == "orders-1.1.0"
    log = flow.scripts_log(second)
    stop = next(x for x in log.splitlines() if "OK ApplicationStop orders" in x)
    assert "stopped in" in stop and "SIGKILL" not in stop
    assert not psutil.pid_exists(v1_pid) or psutil.Process(v1_pid).status() == "zombie"
    service_log = (flow.state / "log" / "orders.log").read_text()
    assert f"hello-service[{v1_pid}] received SIGTERM, stopping" in service_log
    assert f"hello-service[{v1_pid}] stopped" in service_log
    assert len(list((flow.base / "releases").iterdir())) == 2
    deployment = next(x for x in second.stdout.splitlines() if x.startswith("Deployment d-"))
    assert os.readlink(flow.base / "current") == f"releases/{deployment.split()[1]}"
    rendered = (flow.base / "current" / "conf" / "app.conf").read_text()
    assert "build.id=orders-1.1.0" in rendered and f"server.port={flow.port}" in rendered
