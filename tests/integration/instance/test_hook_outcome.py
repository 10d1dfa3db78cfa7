"""The hook's outcome block and the service spec it derives from the config."""

from __future__ import annotations

import io
from pathlib import Path

from hdhooks.config.load import load_config
from hdhooks.instance.hook import CONSOLE_WINDOW, Outcome, summarize, write_outcome
from hdhooks.instance.runtime import service_spec


def test_the_outcome_line_fits_with_long_multibyte_diagnostics() -> None:
    stream = io.StringIO()
    outcome = Outcome(False, "é" * 900, ["ü" * 400] * 40, 1)
    write_outcome(stream, "ValidateService", "api", outcome, 1.0)
    text = stream.getvalue()
    line = text.splitlines()[0]
    assert line.startswith("FAILED ValidateService api in 1.00s: éé")
    assert len(text.encode()) <= CONSOLE_WINDOW
    assert text.endswith("  ...\n")


def test_the_summary_leaves_out_skipped_steps() -> None:
    assert summarize(["healthy http://x/health", "skipped: no target groups"]) == \
        "healthy http://x/health"
    assert summarize(["skipped: traffic.mode is off", "was not running"]) == "was not running"
    assert summarize(["skipped: a"]) == "skipped: a"
    assert summarize(["first release", "active (running) pid 1"]) == \
        "first release; active (running) pid 1"


def _config(tmp_path: Path, systemctl: str) -> Path:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "hdhooks.yml").write_text(
        "component: api\n"
        f"service: {{command: [/bin/true], systemctl: {systemctl}, port: 8080}}\n"
        f"releases: {{base_dir: {tmp_path}/opt}}\n"
    )
    return tmp_path


def test_a_unit_goes_under_the_systemctl_root(tmp_path: Path) -> None:
    bundle = _config(tmp_path, f'"systemctl --root {tmp_path}/root"')
    spec = service_spec(load_config(str(bundle)))
    assert spec.unit_dir == f"{tmp_path}/root/etc/systemd/system"
    assert spec.unit_template == "builtin"


def test_a_unit_goes_to_etc_without_a_root(tmp_path: Path) -> None:
    spec = service_spec(load_config(str(_config(tmp_path, "systemctl"))))
    assert spec.unit_dir == "/etc/systemd/system"
