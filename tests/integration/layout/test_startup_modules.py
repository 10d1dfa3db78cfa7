"""Start-up is kept by a check: what a do-nothing hook and ``--version`` load.

Every lifecycle event is a fresh ``hdhooks`` process, so each module the hook
path imports is paid nine times per deployment on every instance. The command
runs here in a fresh interpreter without ``site`` (so nothing but hdhooks
itself can load a module), from the package's own source, exactly as
``bin/hdhooks`` runs it.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

import hdhooks

REPO = Path(__file__).resolve().parents[3]
PACKAGE_PARENT = str(Path(hdhooks.__file__).resolve().parents[1])
# Third-party packages stay importable, but no .pth file runs (an editable
# install's finder would import re and pathlib before hdhooks starts).
SITE = ":".join(site.getsitepackages())
EXAMPLE = REPO / "examples" / "hello-service"

# Heavy or slow to import: none of them may load on the cheap paths.
HEAVY = ("click", "yaml", "jinja2", "boto3", "botocore", "psutil", "requests")
# The standard library's costlier modules, kept off the hook path too.
STDLIB_KEPT_OFF = ("json", "re", "typing", "dataclasses", "enum", "inspect", "pathlib",
                   "subprocess", "tempfile", "shutil", "logging", "ctypes")

PROBE = """
import atexit, sys
out = sys.argv.pop(1)
sys.path.insert(0, sys.argv.pop(1))
sys.path.extend(sys.argv.pop(1).split(":"))
before = set(sys.modules)
def dump():
    with open(out, "w") as fh:
        fh.write(" ".join(sorted(set(sys.modules) - before)))
atexit.register(dump)
sys.argv = sys.argv[1:]
script = sys.argv[0]
code = compile(open(script).read(), script, "exec")
exec(code, {"__name__": "__main__"})
"""


def loaded_by(args: list[str], tmp_path: Path, env: dict[str, str]) -> set[str]:
    out = tmp_path / "modules.json"
    cmd = [sys.executable, "-S", "-c", PROBE, str(out), PACKAGE_PARENT, SITE,
           str(REPO / "bin" / "hdhooks"), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return set(out.read_text().split())


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.fixture
def hook_env(tmp_path: Path) -> dict[str, str]:
    state = tmp_path / "state"
    return {**os.environ, "HDHOOKS_STATE_DIR": str(state), "DEPLOYMENT_ID": "d-STARTUP01"}


def test_version_loads_nothing_heavy(tmp_path: Path, hook_env: dict[str, str]) -> None:
    loaded = top_level(loaded_by(["--version"], tmp_path, hook_env))
    assert loaded & set(HEAVY + STDLIB_KEPT_OFF) == set()
    ours = {m for m in loaded_by(["--version"], tmp_path, hook_env) if m.startswith("hdhooks")}
    assert ours <= {"hdhooks", "hdhooks.version", "hdhooks.cli", "hdhooks.cli.main"}


@pytest.mark.parametrize("event", ["BeforeAllowTraffic", "AfterAllowTraffic"])
def test_do_nothing_hook_loads_nothing_heavy(
    tmp_path: Path, hook_env: dict[str, str], event: str
) -> None:
    args = ["hook", "--bundle", str(EXAMPLE), "--environment", "demo", event]
    loaded_by(args, tmp_path, hook_env)  # the first hook of a deployment fills the cache
    loaded = top_level(loaded_by(args, tmp_path, hook_env))
    assert loaded & set(HEAVY) == set()
    assert loaded & set(STDLIB_KEPT_OFF) == set()
