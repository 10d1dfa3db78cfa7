"""``hdhooks init``'s library: the templates, the plan, refusing to overwrite."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

import pytest

from hdhooks.errors import UsageError
from hdhooks.lint.run import lint_bundle
from hdhooks.lint.scaffold import TEMPLATE_ROOT, conflicts, plan, shim_names, write

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("folder", ["appspec", "hooks"])
def test_repository_copies_match_the_package_templates(folder: str) -> None:
    """The top-level appspec/ and hooks/ are what `hdhooks init` writes: no drift."""
    ours, packaged = REPO / folder, TEMPLATE_ROOT / folder
    names = sorted(p.name for p in ours.iterdir())
    assert names == sorted(p.name for p in packaged.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(ours, packaged, names, shallow=False)
    assert (mismatch, errors) == ([], []), f"{folder}/ differs from {packaged}: copy one over"
    for name in names:
        assert os.access(ours / name, os.X_OK) == os.access(packaged / name, os.X_OK), name


def test_nine_shims_one_per_scriptable_event() -> None:
    from hdhooks.appspec.model import SCRIPTABLE_EVENTS

    expected = sorted(
        "".join(f"-{c.lower()}" if c.isupper() else c for c in e).lstrip("-") + ".sh"
        for e in SCRIPTABLE_EVENTS)
    assert shim_names() == expected


@pytest.mark.parametrize("kind", ["jvm", "flutter-web"])
def test_plan_fills_in_name_and_port(kind: str) -> None:
    files = {f.path: f for f in plan(kind, "shop-api", 9000)}
    config = files["deploy/hdhooks.yml"].content
    assert "component: shop-api" in config and "port: 9000" in config
    assert "__" not in "".join(f.content for f in files.values())
    assert all(files[f"hooks/{n}"].executable for n in shim_names())
    assert not files["appspec.yml"].executable


def test_flutter_web_renders_an_nginx_site() -> None:
    files = {f.path: f.content for f in plan("flutter-web", "shop-web")}
    config, site = files["deploy/hdhooks.yml"], files["deploy/nginx-site.conf.j2"]
    assert "name: nginx" in config and "backend: systemd" in config
    assert "destination: /etc/nginx/conf.d/shop-web.conf" in config
    assert "root {{ current_dir }}/build/web;" in site
    assert "try_files $uri $uri/ /index.html;" in site
    assert site.count("no-cache") == 2 and "flutter_service_worker.js" in site


@pytest.mark.parametrize("kind", ["jvm", "flutter-web"])
def test_a_scaffolded_bundle_passes_lint(tmp_path: Path, kind: str) -> None:
    write(tmp_path, plan(kind, "demo"))
    reports = lint_bundle(tmp_path)
    assert [p for r in reports for p in r.problems] == []


def test_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "hdhooks.yml").write_text("component: mine\n")
    files = plan("jvm", "api")
    assert conflicts(tmp_path, files) == ["deploy/hdhooks.yml"]
    with pytest.raises(UsageError, match=r"deploy/hdhooks.yml already exists"):
        write(tmp_path, files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deploy"]
    assert (tmp_path / "deploy" / "hdhooks.yml").read_text() == "component: mine\n"
    write(tmp_path, files, force=True)
    assert "component: api" in (tmp_path / "deploy" / "hdhooks.yml").read_text()


@pytest.mark.parametrize(("kind", "name", "message"), [
    ("jvm", "Shop API", "cannot name a component"),
    ("jvm", "-api", "cannot name a component"),
    ("go", "api", "unknown kind 'go'"),
])
def test_bad_arguments(kind: str, name: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan(kind, name)


@pytest.mark.parametrize(("kind", "template", "expected"), [
    ("jvm", "deploy/templates/app.conf.j2", "server.port=8080\nbuild.id=b-42\n"),
    ("flutter-web", "deploy/nginx-site.conf.j2", "root /opt/demo/current/build/web;"),
])
def test_the_config_templates_render(tmp_path: Path, kind: str, template: str,
                                     expected: str) -> None:
    """Every name the scaffold's templates use exists when hdhooks renders them."""
    from hdhooks.config.load import load_config
    from hdhooks.instance.render import build_context, render_string

    write(tmp_path, plan(kind, "demo"))
    config = load_config(tmp_path, environment=None)
    context = build_context(config, release_dir="/opt/demo/releases/d-1",
                            deployment_id="d-1", extra={"build_id": "b-42"})
    text = render_string((tmp_path / template).read_text(), context, what=template)
    assert expected in text
