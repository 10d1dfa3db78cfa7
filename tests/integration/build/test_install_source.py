"""Where builds get hdhooks: install sources in the settings, and their steps run for real."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from hdhooks.build.buildspec.validate import validate_text
from hdhooks.build.install import InstallSource, default_source, install_commands
from hdhooks.build.render import render_text
from hdhooks.build.settings import parse_settings
from hdhooks.proc import run

SHA = "ab" * 32
WHEEL = "hdhooks-0.1.0-py3-none-any.whl"
BASE = "name: a\nkind: maven\nhdhooks_install:\n"

# (id, hdhooks_install body, message fragment, line)
BAD = [
    ("a bare requirement", None, "would be looked for on PyPI, which has no hdhooks", 3),
    ("wheel without digest", f"  wheel: s3://b/k/{WHEEL}\n", "needs its sha256", 4),
    ("short digest", f"  wheel: s3://b/k/{WHEEL}\n  sha256: abc\n", "64 lowercase hex", 5),
    ("not a wheel url", f"  wheel: ftp://b/{WHEEL}\n  sha256: {SHA}\n", "s3:// or https://", 4),
    ("not an hdhooks wheel", "  path: tools/other-1.0-py3-none-any.whl\n",
     "is not an hdhooks wheel name", 4),
    ("path leaves the source", f"  path: ../{WHEEL}\n", "without '..'", 4),
    ("requirement without index", "  requirement: hdhooks==0.1.0\n",
     "needs index_url or codeartifact", 4),
    ("unpinned requirement", "  requirement: hdhooks\n  index_url: https://x/simple\n",
     "a pinned requirement", 4),
    ("two sources", f"  path: {WHEEL}\n  requirement: hdhooks==0.1.0\n",
     "exactly one of path, wheel or requirement (not path and requirement)", 4),
    ("index with a path", f"  path: {WHEEL}\n  index_url: https://x/simple\n",
     "index_url does not go with path", 5),
    ("codeartifact without repository",
     "  requirement: hdhooks==0.1.0\n"
     "  codeartifact: {domain: shop, domain_owner: '111122223333'}\n",
     "codeartifact needs 'repository'", 5),
    ("codeartifact owner", "  requirement: hdhooks==0.1.0\n  codeartifact: {domain: shop, "
     "domain_owner: '12', repository: py}\n", "12-digit account id", 5),
    ("unknown key", f"  path: {WHEEL}\n  sha: {SHA}\n", "unknown key 'sha'", 5),
]


@pytest.mark.parametrize(("body", "fragment", "line"),
                         [pytest.param(b, f, n, id=i) for i, b, f, n in BAD])
def test_bad_install_source(body: str | None, fragment: str, line: int) -> None:
    text = BASE + body if body else 'name: a\nkind: maven\nhdhooks_install: "hdhooks==0.1.0"\n'
    _, report = parse_settings(text, "c.yml")
    shown = "\n".join(report.text_lines())
    matching = [p for p in report.errors if fragment in p.message]
    assert matching, shown
    assert matching[0].line == line, shown


GOOD = [
    pytest.param(f"  path: tools/{WHEEL}\n", InstallSource(path=f"tools/{WHEEL}"), id="path"),
    pytest.param(f"  wheel: s3://shop-artifacts/hdhooks/{WHEEL}\n  sha256: {SHA}\n",
                 InstallSource(wheel=f"s3://shop-artifacts/hdhooks/{WHEEL}", sha256=SHA),
                 id="s3-wheel"),
    pytest.param("  requirement: hdhooks==0.1.0\n  index_url: https://pypi.example/simple\n",
                 InstallSource(requirement="hdhooks==0.1.0",
                               index_url="https://pypi.example/simple"), id="index"),
    pytest.param("  requirement: hdhooks==0.1.0\n  codeartifact: {domain: shop, domain_owner: "
                 "'111122223333', repository: python, region: eu-west-1}\n",
                 InstallSource(requirement="hdhooks==0.1.0", codeartifact=(
                     ("domain", "shop"), ("domain_owner", "111122223333"),
                     ("repository", "python"), ("region", "eu-west-1"))), id="codeartifact"),
]


@pytest.mark.parametrize(("body", "expected"), GOOD)
def test_good_install_source_renders_a_clean_buildspec(body: str,
                                                       expected: InstallSource) -> None:
    (component,), report = parse_settings(BASE + body, "c.yml")
    assert report.problems == [], report.text_lines()
    assert component.hdhooks_install == expected
    text = render_text(component, "c.yml")
    assert validate_text(text, "rendered.yml").problems == []
    commands = yaml.safe_load(text)["phases"]["install"]["commands"]
    assert commands[-1] == "$HDHOOKS --version"
    if expected.codeartifact:
        assert commands[0] == ("aws codeartifact login --tool pip --domain shop --domain-owner "
                               "111122223333 --repository python --region eu-west-1")


def test_the_default_is_this_version_s_wheel_in_the_source() -> None:
    (component,), _ = parse_settings("name: a\nkind: maven\n", "c.yml")
    assert component.hdhooks_install == default_source()
    assert default_source("1.2.3").path == ".hdhooks/hdhooks-1.2.3-py3-none-any.whl"
    assert "pypi" not in render_text(component, "c.yml").lower()


def fetch_and_check(source: InstallSource, scratch: Path) -> list[str]:
    """The install commands before the venv (fetch, digest), writing under ``scratch``."""
    return [c.replace("/tmp/hdhooks-wheel", str(scratch / "dl"))
            for c in install_commands(source) if "venv" not in c and "pip install" not in c]


def _steps(source: InstallSource, cwd: Path) -> tuple[int, str]:
    commands = fetch_and_check(source, cwd)
    result = run(["bash", "-c", "set -e\n" + "\n".join(commands)], cwd=str(cwd), timeout=60,
                 env={"PATH": os.environ["PATH"]})
    return result.returncode, result.output


def test_a_wheel_in_the_source_is_checked_against_its_digest(tmp_path: Path) -> None:
    code, output = _steps(InstallSource(path=f"tools/{WHEEL}"), tmp_path)
    assert code != 0
    assert f"hdhooks: tools/{WHEEL} is not in the source; commit the release wheel" in output
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / WHEEL).write_bytes(b"the wheel")
    good = hashlib.sha256(b"the wheel").hexdigest()
    assert _steps(InstallSource(path=f"tools/{WHEEL}", sha256=good), tmp_path)[0] == 0
    code, output = _steps(InstallSource(path=f"tools/{WHEEL}", sha256=SHA), tmp_path)
    assert code != 0 and "FAILED" in output


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", root
    srv.shutdown()
    srv.server_close()


def test_a_downloaded_wheel_must_match_its_digest(served: tuple[str, Path],
                                                   tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    url, root = served
    (root / WHEEL).write_bytes(b"released")
    digest = hashlib.sha256(b"released").hexdigest()
    # https:// in the settings; the same commands fetch over plain HTTP from the test server
    source = InstallSource(wheel=f"https://x/{WHEEL}", sha256=digest)
    script = [c.replace(f"https://x/{WHEEL}", f"{url}/{WHEEL}")
              for c in fetch_and_check(source, tmp_path)]
    ok = run(["bash", "-c", "set -e\n" + "\n".join(script)], timeout=60)
    assert ok.returncode == 0, ok.output
    assert (tmp_path / "dl" / WHEEL).read_bytes() == b"released"
    (root / WHEEL).write_bytes(b"tampered")
    bad = run(["bash", "-c", "set -e\n" + "\n".join(script)], timeout=60)
    assert bad.returncode != 0 and "FAILED" in bad.output
