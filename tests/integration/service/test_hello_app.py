"""The example application on its own: boot delay, build id, graceful stop, failures."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.service.conftest import hello_command, wait_for


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def run_app(port: int, *args: str, config: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(hello_command(port, config, *args), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(p: subprocess.Popen[str]) -> str:
    if p.poll() is None:
        p.kill()
    out, _ = p.communicate(timeout=10)
    return out


def test_health_reports_starting_then_up_with_build_id(port: int, app_config: Path) -> None:
    p = run_app(port, "--boot-delay", "1", config=app_config)
    try:
        assert wait_for(lambda: get(port, "/health")[0] != 0)
        status, body = get(port, "/health")
        assert status == 503 and json.loads(body)["status"] == "STARTING"
        assert wait_for(lambda: get(port, "/health")[0] == 200)
        answer = json.loads(get(port, "/health")[1])
        assert answer["status"] == "UP" and answer["build_id"] == "build-42"
        assert get(port, "/") == (200, "Hi there from build build-42\n")
    finally:
        finish(p)


def test_json_config_is_read(port: int, tmp_path: Path) -> None:
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"build_id": "b-json", "greeting": "Hey"}))
    p = run_app(port, config=conf)
    try:
        assert wait_for(lambda: get(port, "/health")[0] == 200)
        assert get(port, "/")[1] == "Hey from build b-json\n"
    finally:
        finish(p)


def test_sigterm_finishes_in_flight_request_then_exits_zero(port: int) -> None:
    p = run_app(port, "--stop-delay", "0.3")
    assert wait_for(lambda: get(port, "/health")[0] == 200)
    answers: list[tuple[int, str]] = []
    t = threading.Thread(target=lambda: answers.append(get(port, "/slow?seconds=1")))
    t.start()
    assert p.stdout is not None
    lines = []
    for line in p.stdout:  # wait until the slow request is being served
        lines.append(line)
        if "slow request started" in line:
            break
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 0
    t.join(10)
    assert answers == [(200, "done\n")]
    out = "".join(lines) + finish(p)
    assert "received SIGTERM" in out and "stopped" in out


def test_unhealthy_flag_answers_500(port: int) -> None:
    p = run_app(port, "--unhealthy")
    try:
        assert wait_for(lambda: get(port, "/health")[0] == 500)
        assert json.loads(get(port, "/health")[1])["status"] == "DOWN"
    finally:
        finish(p)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--fail-on-boot"], 3, "boot failed"),
        (["--config", "/nonexistent/hello.conf"], 2, "cannot read config"),
    ],
)
def test_failures_exit_with_their_code(port: int, args: list[str], code: int, message: str) -> None:
    p = run_app(port, *args)
    assert p.wait(timeout=10) == code
    assert message in finish(p)


def test_port_in_use_exits_4(port: int, stranger: subprocess.Popen[str]) -> None:
    p = run_app(port)
    assert p.wait(timeout=10) == 4
    assert "cannot listen" in finish(p)
