"""Property-based fuzzing of every YAML reader: no input makes hdhooks crash.

Valid skeletons of an appspec, a buildspec, a component config and build
settings are mutated (values, keys, types, aliases, tags, nesting, odd
unicode) and their text damaged; each result goes through the library
validators in-process and a share of them through the command line's error
boundary and the installed command. Whatever the input, the answer is a
report or an HdhooksError: never another exception, never exit 70, never a
traceback. Generation is deterministic (derandomized) and bounded.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hdhooks.appspec.read import parse
from hdhooks.build.buildspec.validate import validate_text
from hdhooks.build.settings import parse_settings
from hdhooks.cli.boundary import run_main
from hdhooks.config.load import check_config, validate_config
from hdhooks.errors import HdhooksError

FUZZ = dict(derandomize=True, deadline=None, database=None,
            suppress_health_check=list(HealthCheck))

APPSPEC: dict[str, Any] = {
    "version": 0.0, "os": "linux",
    "files": [{"source": "/", "destination": "/opt/app"}],
    "permissions": [{"object": "/opt/app", "owner": "app", "mode": "0644",
                     "acls": ["u:bob:rw"], "type": ["file"], "context": {"type": "t_t"}}],
    "hooks": {"BeforeInstall": [{"location": "hooks/a.sh", "timeout": 30, "runas": "app"}]},
}
BUILDSPEC: dict[str, Any] = {
    "version": 0.2,
    "env": {"variables": {"A": "b"}, "secrets-manager": {"T": "s:k"}, "shell": "bash"},
    "phases": {"install": {"runtime-versions": {"java": "corretto17"}},
               "build": {"commands": ["mvn -B verify"], "on-failure": "ABORT"}},
    "artifacts": {"files": ["appspec.yml", "hooks/**/*"], "base-directory": "bundle"},
    "reports": {"r": {"files": ["x.xml"]}}, "cache": {"paths": ["/root/.m2/**/*"]},
}
CONFIG: dict[str, Any] = {
    "component": "api",
    "service": {"backend": "process", "command": ["/bin/true"], "port": 8080,
                "env": {"A": "b"}, "user": "root"},
    "health": {"path": "/health", "expect_status": 200},
    "preflight": {"commands": ["java", {"name": "python3", "min_version": "3.10"}]},
    "hooks": {"timeouts": {"ValidateService": 30}},
    "environments": {"prod": {"service": {"port": 9090}}},
}
SETTINGS: dict[str, Any] = {
    "defaults": {"kind": "maven", "java_version": 17, "sonar": {"enabled": False}},
    "components": [{"name": "api", "env": {"A": "b"}}, {"name": "web", "kind": "flutter",
                                                      "flutter_version": "3.24.3"}],
}
SKELETONS = {"appspec": APPSPEC, "buildspec": BUILDSPEC, "config": CONFIG,
             "settings": SETTINGS}

ODD = st.sampled_from(["", " ", "\t", "\u202e", "\ufeff", "\u0000", "\x85", "\u2028",
                       "é", "💥", "{{ x }}", "*a", "&a", "!!binary", "0644", "1e400",
                       "-0", "0x1F", "yes", "~", ":root", "2024-01-01", "a\nb", "'\"",
                       "${X}", "../../etc", "/" * 300, "9" * 40])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=True), st.text(max_size=12), ODD)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.text(max_size=6), ODD),
                                                 inner, max_size=3)), max_leaves=8)
SNIPPETS = st.sampled_from([
    "&a ", "*a", "*a ", "!!str ", "!!int ", "!!set ", "!ruby/object:Foo ", "!!timestamp ",
    "<<: *a\n", "? [x]\n: y\n", "---\n", "...\n", "\t", "[", "{", "]", "}", ": ", "- ",
    "&a [*a]", "{a: " * 150, "[" * 120, "'", '"', "#", "\u0000", "\ufeff", "%YAML 1.1\n",
])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    return found


@st.composite
def documents(draw: st.DrawFn, kind: str) -> str:
    """A skeleton with a few values, keys or types changed, then its text damaged."""
    doc = yaml.safe_load(yaml.safe_dump(SKELETONS[kind]))
    for _ in range(draw(st.integers(0, 4))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) or not isinstance(parent, dict):
            parent[path[-1]] = draw(VALUES)
        else:
            parent[draw(st.one_of(st.text(max_size=8), ODD))] = parent.pop(path[-1])
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False,
                          default_flow_style=draw(st.sampled_from([False, None, True])))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 3))
        text = text[:at] + draw(st.one_of(SNIPPETS, st.text(max_size=4))) + text[at + cut:]
    return text


def _library(kind: str, text: str) -> None:
    """Run the library validator of ``kind``: a report, or an HdhooksError."""
    try:
        if kind == "appspec":
            parse(text, "appspec.yml", allow_custom_events=False)
        elif kind == "buildspec":
            validate_text(text, "buildspec.yml")
        elif kind == "settings":
            parse_settings(text, "components.yml")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                _write_bundle(Path(tmp), text)
                validate_config(tmp)
                check_config(tmp, environment=None)
    except HdhooksError:
        pass


def _write_bundle(root: Path, config: str, appspec: str = "") -> None:
    (root / "deploy").mkdir()
    (root / "deploy" / "hdhooks.yml").write_text(config, encoding="utf-8", errors="surrogatepass")
    (root / "appspec.yml").write_text(appspec or yaml.safe_dump(APPSPEC), encoding="utf-8")


def _cli_args(kind: str, text: str, tmp: Path) -> list[str]:
    if kind == "config":
        _write_bundle(tmp, text)
        return ["lint", str(tmp)]
    file = tmp / f"{kind}.yml"
    file.write_text(text, encoding="utf-8", errors="surrogatepass")
    return {"appspec": ["appspec", "validate", str(file)],
            "buildspec": ["buildspec", "validate", str(file)],
            "settings": ["buildspec", "render", str(file), "--out-dir", str(tmp / "out")]}[kind]


def _run_cli(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_main(args)
    return code, out.getvalue() + err.getvalue()


KINDS = st.sampled_from(sorted(SKELETONS))


@settings(max_examples=2000, **FUZZ)
@given(data=st.data())
def test_library_validators_never_crash(data: st.DataObject) -> None:
    kind = data.draw(KINDS)
    _library(kind, data.draw(documents(kind)))


@settings(max_examples=300, **FUZZ)
@given(data=st.data())
def test_command_line_never_exits_70(data: st.DataObject) -> None:
    kind = data.draw(KINDS)
    text = data.draw(documents(kind))
    with tempfile.TemporaryDirectory() as tmp:
        code, output = _run_cli(_cli_args(kind, text, Path(tmp)))
    assert code != 70, output
    assert "Traceback" not in output


def test_installed_command_on_hostile_files(tmp_path: Path) -> None:
    """The console script itself, on the shapes that used to hang or crash."""
    hostile = ["a: &a [*a]\n", "x: " + "{a: " * 500 + "1" + "}" * 500 + "\n",
               "x: !ruby/object:Foo {a: 1}\n", "- " * 5000 + "x\n", "[" * 20000 + "\n"]
    for index, text in enumerate(hostile):
        for kind, args in (("appspec", ["appspec", "validate"]),
                           ("buildspec", ["buildspec", "validate"])):
            file = tmp_path / f"{kind}{index}.yml"
            file.write_text(text)
            done = subprocess.run([sys.executable, "-m", "hdhooks", *args, str(file)],
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 1, done.stdout + done.stderr
            assert "Traceback" not in done.stdout + done.stderr
