"""Failing, timed-out and open-output scripts; the lock; Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.integration.agent.bundles import deploy, make_bundle, pid_alive

GROUP = "default-local-deployment-group"


def _hook_bundle(tmp: Path, event: str, body: str, timeout: int = 10) -> Path:
    return make_bundle(
        tmp / "bundle",
        f"version: 0.0\nos: linux\nhooks:\n  {event}:\n    - location: scripts/hook.sh\n"
        f"      timeout: {timeout}\n",
        scripts={"scripts/hook.sh": body},
    )


def test_failing_script_is_explained(hdhooks_bin: str, tmp_path: Path) -> None:
    body = "#!/bin/sh\nfor i in 1 2 3; do echo line $i; done\necho oops >&2\nexit 3\n"
    bundle = _hook_bundle(tmp_path, "AfterInstall", body)
    root = tmp_path / "root"
    r = deploy(hdhooks_bin, "-l", bundle, "--root", root)
    assert r.returncode == 1
    assert ("Script at specified location: scripts/hook.sh failed with exit code 3"
            in r.stderr)
    assert "result code: 4" in r.stderr
    assert "[stdout]line 3" in r.stderr and "[stderr]oops" in r.stderr
    log = re.search(r"full log: (\S+)", r.stderr)
    assert log and "[stderr]oops" in Path(log.group(1)).read_text()
    assert "AfterInstall        failed" in r.stdout
    # Install had succeeded: this revision supplies the next ApplicationStop.
    assert (root / "deployment-instructions" / f"{GROUP}_last_successful_install").exists()


def test_output_tail_is_about_2_kb(hdhooks_bin: str, tmp_path: Path) -> None:
    """As the agent: about the last 2 KB of output reach the console, not megabytes."""
    body = ("#!/bin/sh\nfor i in $(seq 1 300); do echo \"line $i $(printf '%060d' 0)\"; done\n"
            "head -c 100000 /dev/zero | tr '\\0' x\necho\necho the end >&2\nexit 1\n")
    bundle = _hook_bundle(tmp_path, "AfterInstall", body)
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root", "--format", "json")
    assert r.returncode == 1
    tail = json.loads(r.stdout)["error"]["output_tail"]
    assert tail[-1] == "[stderr]the end"
    assert sum(len(t) + 1 for t in tail) <= 2048
    assert tail[0].endswith("xxxx") and len(tail) == 2  # the 100 KB line, cut to its end
    text = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert len(text.stderr) < 3000 and "[stderr]the end" in text.stderr
    log = re.search(r"full log: (\S+)", text.stderr)
    assert log, text.stderr
    full = Path(log.group(1)).read_text()
    assert "line 1 " in full and "line 300 " in full  # scripts.log keeps everything


def test_missing_script_and_no_shebang(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = make_bundle(
        tmp_path / "b",
        "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: plain.sh\n"
        "  AfterInstall:\n    - location: /scripts/gone.sh\n",
        files={"plain.sh": "echo no shebang here\n"},
    )
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root", "--format", "json")
    assert r.returncode == 1
    report = json.loads(r.stdout)
    before = next(e for e in report["events"] if e["name"] == "BeforeInstall")
    assert before["status"] == "succeeded"
    assert "is not executable" in before["scripts"][0]["warnings"][0]
    after = next(e for e in report["events"] if e["name"] == "AfterInstall")
    assert after["scripts"][0]["result_code"] == 1
    assert after["scripts"][0]["message"].startswith(
        "Script does not exist at specified location: ")
    assert after["scripts"][0]["message"].endswith("/deployment-archive/scripts/gone.sh")


def test_timeout_ends_the_whole_tree(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = _hook_bundle(tmp_path, "ApplicationStart",
                          "#!/bin/sh\necho waiting\nsleep 60 &\nsleep 60\n", timeout=1)
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert r.returncode == 1
    assert "Script at specified location: scripts/hook.sh failed to complete in 1 seconds" \
        in r.stderr
    assert "result code: 3" in r.stderr
    pids = [int(p) for p in re.findall(r"ended: pid (\d+) \(sleep 60\)", r.stderr)]
    assert len(pids) == 2, r.stderr
    assert not any(pid_alive(p) for p in pids)


def test_output_left_open_names_the_process(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle = _hook_bundle(tmp_path, "ApplicationStart",
                          "#!/bin/sh\necho starting daemon\nsleep 30 &\necho done\n", timeout=20)
    start = time.monotonic()
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    elapsed = time.monotonic() - start
    m = re.search(r"output still held open by: pid (\d+) \(sleep 30\)", r.stderr)
    try:
        assert r.returncode == 1
        assert "Script at specified location: scripts/hook.sh failed to close STDOUT" in r.stderr
        assert "result code: 6" in r.stderr
        assert m, r.stderr
        assert elapsed < 20  # reported when the script exits, not at the timeout
    finally:
        if m:
            os.kill(int(m.group(1)), signal.SIGKILL)


def test_short_lived_child_holding_the_output_passes(hdhooks_bin: str, tmp_path: Path) -> None:
    """The agent waits for the pipes; a child that finishes soon after the script passes."""
    bundle = _hook_bundle(tmp_path, "ApplicationStart",
                          "#!/bin/sh\necho started\n(sleep 0.5; echo late notice) &\n", timeout=20)
    r = deploy(hdhooks_bin, "-l", bundle, "--root", tmp_path / "root")
    assert r.returncode == 0, r.stderr
    log = next((tmp_path / "root").rglob("scripts.log")).read_text()
    assert "[stdout]late notice" in log


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the hook never started"
        time.sleep(0.05)


def _blocking_bundle(tmp: Path) -> Path:
    return _hook_bundle(
        tmp, "BeforeInstall",
        '#!/bin/sh\necho $$ > "$HOOK_STARTED"\n'
        'while [ ! -e "$HOOK_RELEASE" ]; do sleep 0.05; done\n', timeout=60)


def test_second_deployment_on_a_busy_group_is_refused(hdhooks_bin: str, tmp_path: Path) -> None:
    bundle, root = _blocking_bundle(tmp_path), tmp_path / "root"
    started, release = tmp_path / "started", tmp_path / "release"
    env = {**os.environ, "HOOK_STARTED": str(started), "HOOK_RELEASE": str(release)}
    first = subprocess.Popen([hdhooks_bin, "local", "deploy", "-l", str(bundle), "--root",
                              str(root)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(started, first)
        second = deploy(hdhooks_bin, "-l", bundle, "--root", root)
        assert second.returncode == 1
        assert f"deployment group '{GROUP}' is busy" in second.stderr
        assert f"pid {first.pid}" in second.stderr
        # Another group in the same root is not blocked.
        other = deploy(hdhooks_bin, "-l", bundle, "--root", root, "-g", "other",
                       env={"HOOK_STARTED": str(tmp_path / "s2"), "HOOK_RELEASE": str(bundle)})
        assert other.returncode == 0, other.stderr
    finally:
        release.touch()
        _out, err = first.communicate(timeout=30)
    assert first.returncode == 0, err


def test_ctrl_c_ends_the_script_and_leaves_the_root_consistent(
    hdhooks_bin: str, tmp_path: Path
) -> None:
    bundle, root = _blocking_bundle(tmp_path), tmp_path / "root"
    started, release = tmp_path / "started", tmp_path / "release"
    env = {**os.environ, "HOOK_STARTED": str(started), "HOOK_RELEASE": str(release)}
    proc = subprocess.Popen([hdhooks_bin, "local", "deploy", "-l", str(bundle), "--root",
                             str(root)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(started, proc)
    script_pid = int(started.read_text())
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted during BeforeInstall" in err
    assert not pid_alive(script_pid)
    assert not list((root / "ongoing-deployment").iterdir())
    assert not (root / "deployment-instructions" / f"{GROUP}_last_successful_install").exists()
    release.touch()
    again = deploy(hdhooks_bin, "-l", bundle, "--root", root, env={
        "HOOK_STARTED": str(tmp_path / "s3"), "HOOK_RELEASE": str(release)})
    assert again.returncode == 0, again.stderr


def test_hangup_ends_the_script_like_ctrl_c(hdhooks_bin: str, tmp_path: Path) -> None:
    """A closed terminal (SIGHUP) must not leave the hook running and the root half-done.

    The deployment starts as from a terminal, with SIGHUP at its default even
    when the test run itself was started under ``nohup``."""
    bundle, root = _blocking_bundle(tmp_path), tmp_path / "root"
    started, release = tmp_path / "started", tmp_path / "release"
    env = {**os.environ, "HOOK_STARTED": str(started), "HOOK_RELEASE": str(release)}
    proc = subprocess.Popen([hdhooks_bin, "local", "deploy", "-l", str(bundle), "--root",
                             str(root)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    try:
        _wait_for(started, proc)
        script_pid = int(started.read_text())
        proc.send_signal(signal.SIGHUP)
        _out, err = proc.communicate(timeout=30)
    finally:
        release.touch()
    assert proc.returncode == 130, err
    assert "interrupted during BeforeInstall" in err
    assert not pid_alive(script_pid)
    assert not list((root / "ongoing-deployment").iterdir())
