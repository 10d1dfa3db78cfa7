"""Whole local deployments through the installed console script."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.integration.agent.bundles import archive, deploy, make_bundle

GROUP = "default-local-deployment-group"

APPSPEC = """
version: 0.0
os: linux
files:
  - source: app
    destination: {dest}
hooks:
  ApplicationStop:
    - location: scripts/stop.sh
  BeforeInstall:
    - location: scripts/env.sh
      timeout: 10
  ApplicationStart:
    - location: scripts/start.sh
"""


def _bundle(tmp: Path, dest: Path, version: str, extra: dict[str, str] | None = None) -> Path:
    files = {"app/version.txt": version, "app/.env": "X=1\n", **(extra or {})}
    return make_bundle(
        tmp / f"bundle-{version}",
        APPSPEC.format(dest=dest),
        scripts={
            "scripts/stop.sh": f'#!/bin/sh\necho "stop {version} from $0"\n',
            "scripts/env.sh": "#!/bin/sh\necho \"$LIFECYCLE_EVENT $DEPLOYMENT_ID "
                              "$APPLICATION_NAME $DEPLOYMENT_GROUP_NAME $DEPLOYMENT_GROUP_ID\"\n",
            "scripts/start.sh": f"#!/bin/sh\necho start {version}\n",
        },
        files=files,
    )


def test_first_and_second_deployment(hdhooks_bin: str, tmp_path: Path) -> None:
    root, dest = tmp_path / "root", tmp_path / "dest"
    v1 = _bundle(tmp_path, dest, "v1", {"app/only-in-v1.txt": "old"})
    first = deploy(hdhooks_bin, "--bundle-location", v1, "--root", root)
    assert first.returncode == 0, first.stderr
    assert "AppSpec file valid. Local deployment successful" in first.stdout
    assert (dest / "version.txt").read_text() == "v1"
    assert (dest / ".env").exists()  # dotfiles are copied too
    instr = root / "deployment-instructions"
    d1 = (instr / f"{GROUP}_last_successful_install").read_text()
    assert not d1.endswith("\n") and os.path.isdir(d1)
    assert re.fullmatch(r"d-[A-Z0-9]{9}-local", os.path.basename(d1))
    assert (instr / f"{GROUP}_most_recent_install").read_text() == d1
    log1 = Path(d1, "logs", "scripts.log").read_text()
    assert "stop v1" not in log1  # first deployment: no previous ApplicationStop
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d LifecycleEvent - BeforeInstall$", log1, re.M)
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Script - scripts/env.sh$", log1, re.M)
    dep_id = os.path.basename(d1)
    assert f"[stdout]BeforeInstall {dep_id} {v1} LocalFleet {GROUP}" in log1
    assert not os.path.lexists(Path(d1, "bundle.tar"))  # a directory is copied, not linked

    v2 = _bundle(tmp_path, dest, "v2")
    second = deploy(hdhooks_bin, "--bundle-location", v2, "--root", root,
                    "--application-name", "shop", "--deployment-group-name", "web")
    assert second.returncode == 0, second.stderr
    d2 = (instr / f"{GROUP}_last_successful_install").read_text()
    assert d2 != d1
    log2 = Path(d2, "logs", "scripts.log").read_text()
    # ApplicationStop ran the previous revision's script, logged in the new deployment.
    assert f"[stdout]stop v1 from {d1}/deployment-archive/scripts/stop.sh" in log2
    assert f"BeforeInstall {os.path.basename(d2)} shop web {GROUP}" in log2
    assert (dest / "version.txt").read_text() == "v2"
    assert not (dest / "only-in-v1.txt").exists()  # the cleanup file undid v1's install
    deployments_log = (root / "deployment-logs" / "codedeploy-agent-deployments.log").read_text()
    stamp = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]"
    assert re.search(rf"^{stamp} \[{dep_id}\]", deployments_log, re.M)
    assert not list((root / "ongoing-deployment").iterdir())


def test_retention_keeps_max_revisions(hdhooks_bin: str, tmp_path: Path) -> None:
    root, dest = tmp_path / "root", tmp_path / "dest"
    bundle = _bundle(tmp_path, dest, "v1")
    for _ in range(3):
        r = deploy(hdhooks_bin, "-l", bundle, "--root", root, "--max-revisions", "2")
        assert r.returncode == 0, r.stderr
    dirs = [p for p in (root / GROUP).iterdir() if not p.name.startswith(".")]
    assert len(dirs) == 2
    last = (root / "deployment-instructions" / f"{GROUP}_last_successful_install").read_text()
    assert Path(last) in dirs


@pytest.mark.parametrize("kind", ["tar", "tgz", "zip"])
def test_archive_bundles_keep_modes_links_and_strip_top_dir(
    hdhooks_bin: str, tmp_path: Path, kind: str
) -> None:
    dest = tmp_path / "dest"
    src = _bundle(tmp_path, dest, "v1")
    (src / "app" / "link").symlink_to("version.txt")
    (src / "app" / "tool.sh").write_text("#!/bin/sh\n")
    (src / "app" / "tool.sh").chmod(0o750)
    suffix = {"tar": ".tar", "tgz": ".tar.gz", "zip": ".zip"}[kind]
    packed = archive(src, kind, tmp_path / f"bundle{suffix}", top="myapp-1.0")
    r = deploy(hdhooks_bin, "--bundle-location", packed, "--root", tmp_path / "root")
    assert r.returncode == 0, r.stderr
    assert (dest / "version.txt").read_text() == "v1"
    assert os.readlink(dest / "link") == "version.txt"
    assert (dest / "tool.sh").stat().st_mode & 0o777 == 0o750
    last = (tmp_path / "root" / "deployment-instructions" /
            f"{GROUP}_last_successful_install").read_text()
    assert os.readlink(Path(last, "bundle.tar")) == str(packed)  # a local file is linked


@pytest.mark.parametrize("kind", ["tgz", "zip"])
def test_archives_keep_special_and_group_write_bits(
    hdhooks_bin: str, tmp_path: Path, kind: str
) -> None:
    """``tar -xpsf`` keeps setuid/setgid/sticky and group/other write bits; so must we."""
    dest = tmp_path / "dest"
    src = make_bundle(tmp_path / "src", f"version: 0.0\nos: linux\nfiles:\n"
                      f"  - source: app\n    destination: {dest}\n",
                      files={"app/shared.txt": "x", "app/tool": "#!/bin/sh\n",
                             "app/team/notes": "n"})
    modes = {"app/shared.txt": 0o664, "app/tool": 0o4755, "app/team": 0o2775,
             "app/team/notes": 0o666}
    for rel, mode in modes.items():
        (src / rel).chmod(mode)
    packed = archive(src, kind, tmp_path / f"b.{kind}")
    r = deploy(hdhooks_bin, "-l", packed, "--root", tmp_path / "root")
    assert r.returncode == 0, r.stderr
    last = (tmp_path / "root" / "deployment-instructions" /
            f"{GROUP}_last_successful_install").read_text()
    unpacked = Path(last, "deployment-archive")
    for rel, mode in modes.items():
        assert (unpacked / rel).stat().st_mode & 0o7777 == mode, rel
    # Install copies files with their modes (directories it creates get the default).
    assert (dest / "shared.txt").stat().st_mode & 0o7777 == 0o664
    assert (dest / "tool").stat().st_mode & 0o7777 == 0o4755
    assert (dest / "team" / "notes").stat().st_mode & 0o7777 == 0o666


def test_explicit_type_must_match_location(hdhooks_bin: str, tmp_path: Path) -> None:
    src = _bundle(tmp_path, tmp_path / "dest", "v1")
    packed = archive(src, "tar", tmp_path / "b.tar")
    r = deploy(hdhooks_bin, "-l", packed, "--type", "directory", "--root", tmp_path / "root")
    assert r.returncode == 2
    assert "is specified with type directory but it is a file" in r.stderr
    r = deploy(hdhooks_bin, "-l", packed, "--type", "tar", "--root", tmp_path / "root")
    assert r.returncode == 0, r.stderr


def test_appspec_yaml_only_bundle(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n"
                         "    - location: hi.sh\n", scripts={"hi.sh": "#!/bin/sh\necho hi\n"},
                         appspec_name="appspec.yaml")
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root", "--format", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["appspec"].endswith("appspec.yaml")
    assert [s["location"] for e in report["events"] for s in e["scripts"]] == ["hi.sh"]


def test_json_report(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, tmp_path / "dest", "v1")
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root", "--format", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["status"] == "succeeded" and report["exit_code"] == 0
    names = [e["name"] for e in report["events"]]
    assert names[:4] == ["BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop",
                         "DownloadBundle"]
    stop = report["events"][2]
    assert stop["revision"] == "none" and stop["status"] == "skipped"
    start = next(e for e in report["events"] if e["name"] == "ApplicationStart")
    assert start["scripts"][0]["result_code"] == 0
    assert isinstance(start["duration"], float)


def test_dry_run_touches_nothing(hdhooks_bin: str, tmp_path: Path) -> None:
    root, dest = tmp_path / "root", tmp_path / "dest"
    bundle = _bundle(tmp_path, dest, "v1")
    packed = archive(bundle, "tgz", tmp_path / "b.tgz")
    r = deploy(hdhooks_bin, "-l", packed, "--root", root, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert not root.exists() and not dest.exists()
    assert "ApplicationStop: nothing to run (no previous successful revision)" in r.stdout
    assert f"copy {dest}/version.txt" in r.stdout

    assert deploy(hdhooks_bin, "-l", bundle, "--root", root).returncode == 0
    before = sorted(str(p) for p in root.rglob("*"))
    (tmp_path / "dest2").mkdir()
    j = deploy(hdhooks_bin, "-l", packed, "--root", root, "--dry-run", "--format", "json")
    assert j.returncode == 0, j.stderr
    plan = json.loads(j.stdout)
    stop = next(e for e in plan["events"] if e["name"] == "ApplicationStop")
    assert stop["revision"] == "previous" and stop["scripts"] == ["scripts/stop.sh"]
    assert plan["conflicts"] == []  # the previous install's files are cleaned up first
    assert sorted(str(p) for p in root.rglob("*")) == before


def test_dry_run_lists_conflicts(hdhooks_bin: str, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "version.txt").write_text("mine")
    bundle = _bundle(tmp_path, dest, "v1")
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root", "--dry-run")
    assert r.returncode == 1
    assert f"CONFLICT (exists): {dest}/version.txt" in r.stdout
    assert (dest / "version.txt").read_text() == "mine"


def test_bad_input_exit_2(hdhooks_bin: str, tmp_path: Path) -> None:
    bad = make_bundle(tmp_path / "bad", "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n"
                      "    - location: x.sh\n      timeout: soon\n")
    r = deploy(hdhooks_bin, "-l", bad, "--root", tmp_path / "root")
    assert r.returncode == 2
    first = r.stderr.splitlines()[0]
    assert re.search(r"appspec\.yml:6:\d+: ", first), r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "root" / GROUP).exists() or not any(
        p for p in (tmp_path / "root" / GROUP).iterdir())
    missing = deploy(hdhooks_bin, "-l", tmp_path / "nope", "--root", tmp_path / "root")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    opt = deploy(hdhooks_bin, "-l", bad, "--file-exists-behavior", "sometimes")
    assert opt.returncode == 2 and "--file-exists-behavior" in opt.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    none = deploy(hdhooks_bin, "-l", empty, "--root", tmp_path / "root")
    assert none.returncode == 2 and "appspec" in none.stderr


def test_json_format_keeps_stdout_json_when_nothing_ran(hdhooks_bin: str, tmp_path: Path) -> None:
    bad = make_bundle(tmp_path / "bad", "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n"
                      "    - location: x.sh\n      timeout: soon\n")
    r = deploy(hdhooks_bin, "-l", bad, "--root", tmp_path / "root", "--format", "json")
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["status"] == "failed" and doc["exit_code"] == 2 and doc["events"] == []
    assert re.search(r"appspec\.yml:6:\d+: ", doc["error"]["message"])
    assert "appspec.yml:6" in r.stderr  # people still get the one-line error
    missing = deploy(hdhooks_bin, "-l", tmp_path / "nope", "--dry-run", "--format", "json")
    assert missing.returncode == 2
    assert "does not exist" in json.loads(missing.stdout)["error"]["message"]


def test_conflict_details_in_json(hdhooks_bin: str, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "version.txt").write_text("mine")
    (dest / ".env").write_text("mine")
    bundle = _bundle(tmp_path, dest, "v1")
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root", "--format", "json")
    assert r.returncode == 1
    error = json.loads(r.stdout)["error"]
    assert "already exists at this location" in error["message"]
    assert "(and 1 more)" in error["message"] and len(error["details"]) == 1


def test_stale_staging_of_a_killed_run_is_removed(hdhooks_bin: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    packed = archive(_bundle(tmp_path, tmp_path / "dest", "v1"), "tgz", tmp_path / "b.tgz")
    stale = root / GROUP / ".staging-d-AAAAAAAAA-local"
    (stale / "app").mkdir(parents=True)  # what a SIGKILL during unpacking leaves
    r = deploy(hdhooks_bin, "-l", packed, "--root", root)
    assert r.returncode == 0, r.stderr
    assert not stale.exists()
    assert not [p for p in (root / GROUP).iterdir() if p.name.startswith(".")]
