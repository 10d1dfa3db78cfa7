"""The --events rules of codedeploy-local."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.agent.bundles import deploy, make_bundle

GROUP = "default-local-deployment-group"
HOOKS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ValidateService")


def _bundle(tmp: Path, extra: str = "") -> Path:
    hooks = "".join(f"  {e}:\n    - location: say.sh\n" for e in HOOKS)
    return make_bundle(tmp / "b", f"version: 0.0\nos: linux\nhooks:\n{hooks}{extra}",
                       scripts={"say.sh": '#!/bin/sh\necho "ran $LIFECYCLE_EVENT"\n'})


def _ran(stdout: str) -> list[tuple[str, str, str]]:
    report = json.loads(stdout)
    return [(e["name"], e["status"], e["revision"]) for e in report["events"]]


def test_required_events_are_added_at_the_front(hdhooks_bin: str, tmp_path: Path) -> None:
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path), "--root", tmp_path / "root",
               "--events", "ApplicationStop,BeforeInstall,ValidateService", "--format", "json")
    assert r.returncode == 0, r.stderr
    # The new revision's archive exists by then, so its ApplicationStop runs.
    assert _ran(r.stdout) == [
        ("DownloadBundle", "succeeded", "new"), ("Install", "succeeded", "new"),
        ("ApplicationStop", "succeeded", "new"), ("BeforeInstall", "succeeded", "new"),
        ("ValidateService", "succeeded", "new"),
    ]


def test_application_stop_before_download_uses_previous_revision(
    hdhooks_bin: str, tmp_path: Path
) -> None:
    root, bundle = tmp_path / "root", _bundle(tmp_path)
    events = "ApplicationStop,DownloadBundle,Install"
    first = deploy(hdhooks_bin, "-l", bundle, "--root", root, "-e", events, "--format", "json")
    assert _ran(first.stdout)[0] == ("ApplicationStop", "skipped", "none")
    second = deploy(hdhooks_bin, "-l", bundle, "--root", root, "-e", events, "--format", "json")
    assert _ran(second.stdout)[0] == ("ApplicationStop", "succeeded", "previous")


@pytest.mark.parametrize(("events", "message"), [
    ("AfterInstall,DownloadBundle",
     "The only events that can be specified before DownloadBundle are "
     "BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop. Please fix the order of your "
     "specified events: AfterInstall,DownloadBundle"),
    ("ApplicationStart,Install",
     "The only events that can be specified before Install are BeforeBlockTraffic,"
     "AfterBlockTraffic,ApplicationStop,DownloadBundle,BeforeInstall. Please fix the order "
     "of your specified events: ApplicationStart,Install"),
])
def test_bad_orders_are_refused(hdhooks_bin: str, tmp_path: Path, events: str,
                                message: str) -> None:
    r = deploy(hdhooks_bin, "-l", _bundle(tmp_path), "--root", tmp_path / "root", "-e", events)
    assert r.returncode == 2
    assert message in r.stderr
    assert not (tmp_path / "root").exists()


def test_unknown_event_in_appspec_fails_at_install(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "  BlockTraffic:\n    - location: say.sh\n")
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert r.returncode == 2
    assert 'appspec.yml file contains unknown lifecycle events: ["BlockTraffic"]' in r.stderr
    assert "appspec.yml:12:1: " in r.stderr
    assert "Install             failed" in r.stdout


def test_custom_events(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "  WarmCaches:\n    - location: say.sh\n")
    root = tmp_path / "root"
    r = deploy(hdhooks_bin, "-l", bundle, "--root", root, "-e", "Install,WarmCaches",
               "--format", "json")
    assert r.returncode == 0, r.stderr
    assert _ran(r.stdout)[-1] == ("WarmCaches", "succeeded", "new")
    missing = deploy(hdhooks_bin, "-l", bundle, "--root", root, "-e", "Install,WarmCaches,Nope")
    assert missing.returncode == 2
    assert ("You specified a lifecycle event which is not a default one and doesn't exist in "
            "your appspec.yml file: Nope") in missing.stderr


def test_last_successful_revision_whose_archive_was_deleted(
    hdhooks_bin: str, tmp_path: Path
) -> None:
    """The agent's failure, plus how to get past it."""
    root = tmp_path / "root"
    bundle = make_bundle(tmp_path / "b", "version: 0.0\nos: linux\nhooks:\n  ApplicationStop:\n"
                         "    - location: stop.sh\n", scripts={"stop.sh": "#!/bin/sh\necho stop\n"})
    assert deploy(hdhooks_bin, "-l", bundle, "--root", root).returncode == 0
    pointer = root / "deployment-instructions" / f"{GROUP}_last_successful_install"
    shutil.rmtree(Path(pointer.read_text(), "deployment-archive"))
    r = deploy(hdhooks_bin, "-l", bundle, "--root", root)
    assert r.returncode == 1
    assert ('did not find an AppSpec file within the unpacked revision directory at '
            'revision-relative path "appspec.yml"') in r.stderr
    assert f"remove {pointer}" in r.stderr
    assert "BeforeBlockTraffic  failed" in r.stdout and "ApplicationStop" not in r.stdout
    pointer.unlink()
    again = deploy(hdhooks_bin, "-l", bundle, "--root", root)
    assert again.returncode == 0, again.stderr
    assert "no previous successful revision" in again.stdout
