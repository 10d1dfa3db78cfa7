"""Build hello-service bundles in a temp dir and run ``hdhooks hook`` on them.

A test makes a :class:`Machine` (its own state dir, releases base dir and
free port), builds bundles of the example component with a build id and a
small edit of ``deploy/hdhooks.yml``, then runs lifecycle events through the
installed console script with the variables CodeDeploy sets. Every service a
machine started is stopped when the test ends (:meth:`Machine.cleanup`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "hello-service"
SYSTEMCTL = REPO / ".cache" / "systemctl" / "usr" / "bin" / "systemctl"
HDHOOKS = str(Path(sys.executable).parent / "hdhooks")
GROUP = "hello-demo"  # the example maps it to its `demo` environment
EVENTS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart",
          "ValidateService")
#: What CodeDeploy's console shows of a failed script's output.
CONSOLE_WINDOW = 2048


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Run:
    """One finished ``hdhooks`` call."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def outcome_line(self) -> str:
        """The ``OK ...`` / ``FAILED ...`` line of a hook or rollback."""
        for line in reversed(self.stdout.splitlines()):
            if line.startswith(("OK ", "FAILED ")):
                return line
        raise AssertionError(f"no outcome line in:\n{self.output}")

    def emf(self) -> dict[str, Any]:
        """The CloudWatch EMF metric line, parsed."""
        for line in self.stdout.splitlines():
            if line.startswith('{"_aws"'):
                return dict(json.loads(line))
        raise AssertionError(f"no EMF line in:\n{self.output}")

    def diagnostics(self) -> str:
        """What follows the outcome line."""
        return self.stdout.split(self.outcome_line(), 1)[1]

    def describe(self) -> str:
        return f"$ {' '.join(self.argv)}\nexit {self.returncode}\n{self.output}"


class Machine:
    """One instance: a state dir, a releases base dir and a port, under tmp_path."""

    def __init__(self, tmp_path: Path, *, port: int | None = None) -> None:
        self.tmp = tmp_path
        self.port = port or free_port()
        self.state_dir = tmp_path / "state"
        self.base_dir = tmp_path / "opt" / "hello-service"
        self.systemd_root = tmp_path / "sysroot"
        self.extra_env: dict[str, str] = {}

    # -- bundles ---------------------------------------------------------------
    def bundle(
        self,
        name: str,
        build_id: str,
        *,
        edit: Callable[[dict[str, Any]], None] | None = None,
        backend: str = "process",
        files: dict[str, str] | None = None,
    ) -> Path:
        """A copy of the example with ``deploy/build-id`` and this machine's settings."""
        path = self.tmp / "bundles" / name
        shutil.copytree(EXAMPLE, path, ignore=shutil.ignore_patterns("__pycache__"))
        (path / "deploy" / "build-id").write_text(build_id + "\n")
        for rel, text in (files or {}).items():
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            (path / rel).write_text(text)
        cfg_path = path / "deploy" / "hdhooks.yml"
        config = yaml.safe_load(cfg_path.read_text())
        self.localise(config, backend)
        if edit is not None:
            edit(config)
        cfg_path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def localise(self, config: dict[str, Any], backend: str) -> None:
        """The `demo` overlay pointed at this machine: tmp dirs, free port, fast checks."""
        demo = config["environments"]["demo"]
        service = demo["service"]
        service["command"] = [sys.executable, "app/hello_service.py", "--host", "127.0.0.1",
                              "--port", str(self.port), "--config", "conf/hello.json"]
        service["port"] = self.port
        service["stop_timeout"] = 5
        service["env"] = {"HELLO_BOOT_DELAY": "0.3"}
        if backend == "systemd":
            service["backend"] = "systemd"
            service["systemctl"] = [str(SYSTEMCTL), "--root", str(self.systemd_root)]
        demo["releases"] = {"base_dir": str(self.base_dir)}
        demo["health"] = {"deadline": 15, "interval": 0.1, "successes": 2}

    # -- running hdhooks ---------------------------------------------------------
    def env(self, event: str | None = None, deployment_id: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HDHOOKS_STATE_DIR=str(self.state_dir),
            DEPLOYMENT_GROUP_NAME=GROUP,
            APPLICATION_NAME="hello-service",
            HDHOOKS_DEBUG_LOG=str(self.tmp / "debug.log"),
            **self.extra_env,
        )
        if event:
            env["LIFECYCLE_EVENT"] = event
        if deployment_id:
            env["DEPLOYMENT_ID"] = deployment_id
        return env

    def run(self, args: Iterable[str | os.PathLike[str]], env: dict[str, str],
            timeout: float = 90) -> Run:
        argv = [str(a) for a in args]
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return Run(argv, p.returncode, p.stdout, p.stderr)

    def hook(self, event: str, bundle: Path | str, deployment_id: str, *extra: str) -> Run:
        """``hdhooks hook EVENT --bundle BUNDLE`` as CodeDeploy would run it."""
        return self.run([HDHOOKS, "hook", event, "--bundle", bundle, *extra],
                        self.env(event, deployment_id))

    def deploy(self, bundle: Path, deployment_id: str) -> dict[str, Run]:
        """The five events of one deployment; ApplicationStop from the running release.

        Stops at the first failed event, like CodeDeploy.
        """
        runs: dict[str, Run] = {}
        for event in EVENTS:
            source: Path | str = bundle
            if event == "ApplicationStop" and self.current_link.exists():
                source = self.current_link  # the last successful revision's copy
            runs[event] = self.hook(event, source, deployment_id)
            if runs[event].returncode != 0:
                break
        return runs

    def rollback(self, *args: str) -> Run:
        """``hdhooks rollback --metrics ARGS``: the metric line is printed, as hooks print it."""
        return self.run([HDHOOKS, "rollback", "--metrics", *args], self.env())

    # -- what a user sees --------------------------------------------------------
    @property
    def current_link(self) -> Path:
        return self.base_dir / "current"

    def current(self) -> str | None:
        """The release id ``current`` points at."""
        if not self.current_link.is_symlink():
            return None
        return os.path.basename(os.readlink(self.current_link))

    def get(self, path: str = "/health", timeout: float = 2.0) -> tuple[int, str]:
        """(status, body) of a GET to the service; (0, reason) when nothing answers."""
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError as e:
            return 0, str(e)

    def build_answering(self) -> str | None:
        status, body = self.get()
        if status != 200:
            return None
        return str(json.loads(body).get("build_id"))

    # -- cleanup -----------------------------------------------------------------
    def cleanup(self) -> None:
        """Stop what this machine started: ApplicationStop, then kill any leftover."""
        if self.current_link.exists():
            self.hook("ApplicationStop", self.current_link, "cleanup")
        if SYSTEMCTL.exists() and self.systemd_root.exists():
            subprocess.run([str(SYSTEMCTL), "--root", str(self.systemd_root), "stop",
                            "hello-service"], capture_output=True, timeout=30)
        for p in self.leftovers():
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                p.kill()
        psutil.wait_procs(self.leftovers(), timeout=5)

    def leftovers(self) -> list[psutil.Process]:
        """hello-service processes started on this machine's port."""
        found = []
        for p in psutil.process_iter(["cmdline"]):
            cmd = p.info["cmdline"] or []
            if any(c.endswith("hello_service.py") for c in cmd) and str(self.port) in cmd:
                found.append(p)
        return found


def assert_outcome(run: Run, word: str, event: str, exit_code: int | None = None) -> str:
    """The outcome line says ``word event`` and fits the console; EMF parses. Returns it."""
    line = run.outcome_line()
    assert line.startswith(f"{word} {event} "), run.describe()
    if exit_code is not None:
        assert run.returncode == exit_code, run.describe()
    tail = run.stdout.encode()[-CONSOLE_WINDOW:].decode(errors="replace")
    assert line in tail, f"outcome line is not in the last {CONSOLE_WINDOW} bytes"
    emf = run.emf()
    assert emf["Event"] == event
    assert emf["Result"] == ("Succeeded" if word == "OK" else "Failed")
    assert isinstance(emf["Duration"], (int, float))
    assert emf["Component"]
    return line
