"""The library API other parts of hdhooks use: parse, find_appspec, validate_path, bundles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hdhooks.appspec.model import HookScript, SelinuxContext
from hdhooks.appspec.read import check_bundle, find_appspec, parse, unknown_events, validate_path
from hdhooks.errors import InputError
from hdhooks.yamlsrc.problems import Report

FULL = """\
version: 0.0
os: linux
file_exists_behavior: RETAIN
files:
  - source: app
    destination: /opt/app
permissions:
  - object: /opt/app
    pattern: "*.sh"
    mode: 750
    owner: app
    acls: ["u:bob:rw"]
    context: {name: system_u, type: bin_t, range: "s0"}
    type: [file]
hooks:
  ApplicationStop:
  BeforeInstall:
    - location: scripts/before.sh
      timeout: 30s
      runas: app
  Smoke:
    - location: scripts/smoke.sh
"""


def test_parse_builds_the_model_and_keeps_custom_events() -> None:
    spec, report = parse(FULL, "appspec.yml")
    assert spec is not None, report.text_lines()
    assert spec.file_exists_behavior == "RETAIN"
    assert spec.files[0].source == "app" and spec.files[0].line == 5
    perm = spec.permissions[0]
    assert (perm.object, perm.pattern, perm.mode, perm.types) == ("/opt/app", "*.sh", "750",
                                                                   ("file",))
    assert perm.context == SelinuxContext(user="system_u", type="bin_t", range="s0")
    assert "ApplicationStop" not in spec.hooks  # null: ignored
    assert spec.scripts("BeforeInstall") == (
        HookScript(location="scripts/before.sh", timeout=30, runas="app", sudo=False, line=18),
    )
    assert unknown_events(spec) == ["Smoke"]
    assert spec.event_lines["Smoke"] == 21


def test_parse_rejects_custom_events_when_asked() -> None:
    spec, report = parse(FULL, "appspec.yml", allow_custom_events=False)
    assert spec is None
    assert [p.code for p in report.errors] == ["hook-unknown-event"]


def test_parse_returns_none_on_errors() -> None:
    spec, report = parse("version: 1\nos: linux\n", "x.yml")
    assert spec is None and report.file == "x.yml" and not report.valid()


def test_find_appspec_prefers_yml_then_yaml(tmp_path: Path) -> None:
    (tmp_path / "appspec.yaml").write_text("version: 0.0\nos: linux\n")
    assert find_appspec(str(tmp_path)) == str(tmp_path / "appspec.yaml")
    (tmp_path / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    assert find_appspec(str(tmp_path)) == str(tmp_path / "appspec.yml")
    (tmp_path / "other.yml").write_text("")
    assert find_appspec(str(tmp_path), "other.yml") == str(tmp_path / "other.yml")


def test_find_appspec_missing_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        find_appspec(str(tmp_path))
    assert err.value.exit_code == 2
    assert "no appspec.yml or appspec.yaml" in err.value.one_line()


def make_bundle(root: Path, appspec: str) -> Path:
    (root / "scripts").mkdir()
    (root / "app").mkdir()
    (root / "app" / "run.sh").write_text("#!/bin/sh\n")
    good = root / "scripts" / "good.sh"
    good.write_text("#!/bin/bash\necho ok\n")
    good.chmod(0o755)
    crlf = root / "scripts" / "crlf.sh"
    crlf.write_bytes(b"#!/bin/bash\r\necho hi\r\n")
    crlf.chmod(0o755)
    plain = root / "scripts" / "plain.sh"
    plain.write_text("echo no shebang\n")
    (root / "appspec.yml").write_text(appspec)
    return root


BUNDLE_SPEC = """\
version: 0.0
os: linux
files:
  - source: app
    destination: /opt/app
  - source: missing.jar
    destination: /opt/lib
permissions:
  - object: /opt/app/run.sh
    pattern: "*.sh"
    acls: ["d:u:bob:rw"]
hooks:
  BeforeInstall:
    - location: /scripts/good.sh
    - location: scripts/crlf.sh
    - location: scripts/plain.sh
    - location: scripts/nope.sh
    - location: scripts
    - location: ../outside.sh
"""


def test_validate_path_on_a_bundle(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, BUNDLE_SPEC)
    spec, report = validate_path(str(bundle))
    assert spec is None
    assert report.notes == [f"using {bundle / 'appspec.yml'}"]
    found = [(p.severity, p.code, p.line) for p in report.sorted()]
    assert found == [
        ("error", "bundle-source-missing", 6),
        ("error", "permission-file-pattern", 9),
        ("error", "acl-default-file", 9),
        ("error", "bundle-script-crlf", 15),
        ("warning", "bundle-script-shebang", 16),
        ("warning", "bundle-script-exec", 16),
        ("error", "bundle-script-missing", 17),
        ("error", "bundle-script-type", 18),
        ("error", "bundle-outside", 19),
    ]
    pattern = next(p for p in report.problems if p.code == "permission-file-pattern")
    assert pattern.path == "permissions[0]"
    missing = next(p for p in report.problems if p.code == "bundle-script-missing")
    assert missing.message.startswith("Script does not exist at specified location: ")
    assert missing.path == "hooks.BeforeInstall[3].location"


def test_check_bundle_accepts_a_parsed_model(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, "")
    text = "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/nope.sh\n"
    spec, _ = parse(text, "appspec.yml")
    assert spec is not None
    report = Report("appspec.yml")
    check_bundle(spec, str(bundle), report)
    assert [(p.code, p.line) for p in report.problems] == [("bundle-script-missing", 5)]


def test_validate_path_on_a_file_skips_bundle_checks(tmp_path: Path) -> None:
    path = tmp_path / "appspec.yml"
    path.write_text("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: x.sh\n")
    spec, report = validate_path(str(path))
    assert spec is not None and report.problems == [] and report.notes == []


def test_validate_path_reads_appspec_yaml_only_bundle(tmp_path: Path) -> None:
    (tmp_path / "appspec.yaml").write_text("version: 0.0\nos: linux\n")
    spec, report = validate_path(str(tmp_path))
    assert spec is not None
    assert report.notes == [f"using {os.path.join(tmp_path, 'appspec.yaml')}"]


def test_broken_symlink_and_fifo_are_reported_not_followed(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "gone.sh").symlink_to("nowhere.sh")
    os.mkfifo(tmp_path / "scripts" / "fifo.sh")
    (tmp_path / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n"
        "    - location: scripts/gone.sh\n    - location: scripts/fifo.sh\n")
    _, report = validate_path(str(tmp_path))
    found = [(p.code, p.line, p.message) for p in report.sorted()]
    assert [(c, n) for c, n, _ in found] == [("bundle-script-missing", 5),
                                           ("bundle-script-type", 6)]
    assert "broken symbolic link (to nowhere.sh)" in found[0][2]
    assert "is not a regular file" in found[1][2]


BOM = b"\xef\xbb\xbf"


def test_bom_before_a_block_mapping_is_an_error_at_the_first_lost_key(tmp_path: Path) -> None:
    # Ruby's Psych (libyaml) ends the document after the first key when a BOM
    # precedes a block mapping: the agent sees no 'os' and fails.
    path = tmp_path / "appspec.yml"
    path.write_bytes(BOM + b"version: 0.0\nos: linux\n")
    spec, report = validate_path(str(path))
    assert spec is None
    [problem] = report.problems
    assert (problem.code, problem.line, problem.column, problem.path) == ("bom", 2, 1, "os")
    assert "reads only the first key ('version')" in problem.message
    assert "without a BOM" in problem.message


def test_bom_before_a_comment_is_only_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "appspec.yml"
    path.write_bytes(BOM + b"# app\nversion: 0.0\nos: linux\n")
    spec, report = validate_path(str(path))
    assert spec is not None
    assert [(p.severity, p.code, p.line) for p in report.problems] == [("warning", "bom", 1)]


def test_bytes_that_are_not_utf8_are_a_positioned_error(tmp_path: Path) -> None:
    path = tmp_path / "appspec.yml"
    path.write_bytes(b"version: 0.0\nos: \xe9linux\n")
    spec, report = validate_path(str(path))
    assert spec is None
    [problem] = report.problems
    assert (problem.code, problem.line, problem.column) == ("encoding", 2, 5)
    assert "byte 0xe9 is not valid UTF-8" in problem.message
    assert "save it as UTF-8" in problem.message
