"""Plans of rollback and restart, the component state record, one hook at a time."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hookkit import GROUP, HDHOOKS, Machine, assert_outcome


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    m = Machine(tmp_path)
    yield m
    m.cleanup()


def deployed(machine: Machine, *ids: str) -> None:
    """Deploy one bundle per id, each with build hello-<n>."""
    for n, deployment_id in enumerate(ids, 1):
        bundle = machine.bundle(f"v{n}", f"hello-{n}")
        runs = machine.deploy(bundle, deployment_id)
        assert all(r.returncode == 0 for r in runs.values()), [r.describe() for r in
                                                               runs.values()]


def test_rollback_and_restart_dry_runs_print_the_plan_and_change_nothing(
        machine: Machine) -> None:
    deployed(machine, "d-PPPPPPPP1", "d-PPPPPPPP2")
    before = sorted(p.name for p in (machine.base_dir / "releases").iterdir())
    run = machine.rollback("--dry-run")
    assert run.returncode == 0, run.describe()
    assert "rollback of hello-service: d-PPPPPPPP2 -> d-PPPPPPPP1" in run.stdout
    for line in ("[1/4] would stop the service gracefully",
                 "[2/4] would switch current to release d-PPPPPPPP1",
                 "[3/4] would start the service",
                 f"[4/4] would local health check of http://127.0.0.1:{machine.port}/health",
                 "if release d-PPPPPPPP1 fails: back to release d-PPPPPPPP2",
                 "[2/4] would switch current to release d-PPPPPPPP2"):
        assert line in run.stdout, run.describe()
    assert machine.current() == "d-PPPPPPPP2"
    assert machine.build_answering() == "hello-2"
    assert sorted(p.name for p in (machine.base_dir / "releases").iterdir()) == before

    restart = machine.run([HDHOOKS, "restart", "--dry-run"], machine.env())
    assert restart.returncode == 0, restart.describe()
    assert "restart of hello-service: d-PPPPPPPP2 -> d-PPPPPPPP2" in restart.stdout
    assert "[2/4] would switch current to release d-PPPPPPPP2" in restart.stdout
    assert "if release" not in restart.stdout
    assert machine.build_answering() == "hello-2"


def test_rollback_to_a_named_release(machine: Machine) -> None:
    deployed(machine, "d-PPPPPPPP1", "d-PPPPPPPP2", "d-PPPPPPPP3")
    run = machine.rollback("--to", "d-PPPPPPPP1")
    line = assert_outcome(run, "OK", "Rollback", 0)
    assert "now on release d-PPPPPPPP1 (build hello-1)" in line
    assert machine.current() == "d-PPPPPPPP1"
    assert machine.build_answering() == "hello-1"

    missing = machine.rollback("--to", "d-NOSUCH")
    line = assert_outcome(missing, "FAILED", "Rollback", 2)
    assert "no release d-NOSUCH under" in line and "d-PPPPPPPP2" in line
    assert machine.build_answering() == "hello-1"


def test_rollback_to_a_release_that_cannot_boot_restores_the_original(
        machine: Machine) -> None:
    deployed(machine, "d-PPPPPPPP1", "d-PPPPPPPP2")
    app = machine.base_dir / "releases" / "d-PPPPPPPP1" / "app" / "hello_service.py"
    app.write_text("import sys\nprint('boot failed: broken on purpose')\nsys.exit(3)\n")
    run = machine.rollback()
    line = assert_outcome(run, "FAILED", "Rollback", 1)
    assert "release d-PPPPPPPP1 failed" in line
    assert "restored release d-PPPPPPPP2" in line
    assert machine.current() == "d-PPPPPPPP2"
    assert machine.build_answering() == "hello-2"


def old_record(machine: Machine) -> dict[str, Any]:
    """Today's record in the format hdhooks wrote before records had a version."""
    path = machine.state_dir / "components" / "hello-service.json"
    written = json.loads(path.read_text())
    assert written["version"] == 2
    return {
        "component": "hello-service",
        "base_dir": str(machine.base_dir),
        "environment": "demo",
        "deployment_group": GROUP,
        "deployment_id": written["deployment_id"],
        "config": written["config"],
    }


def test_application_stop_reads_a_record_of_the_previous_format(machine: Machine) -> None:
    deployed(machine, "d-PPPPPPPP1")
    record = old_record(machine)
    path = machine.state_dir / "components" / "hello-service.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    # the running revision's own config can no longer be used: the record is
    config = machine.base_dir / "releases" / "d-PPPPPPPP1" / "deploy" / "hdhooks.yml"
    config.write_text("component: [unusable\n")
    run = machine.hook("ApplicationStop", machine.current_link, "d-PPPPPPPP2")
    line = assert_outcome(run, "OK", "ApplicationStop", 0)
    assert "stopped in" in line
    assert "stopping with the config recorded when it was started" in run.stdout
    assert machine.build_answering() is None


def test_a_record_from_a_newer_hdhooks_is_refused_clearly(machine: Machine) -> None:
    deployed(machine, "d-PPPPPPPP1")
    path = machine.state_dir / "components" / "hello-service.json"
    path.write_text(json.dumps({**old_record(machine), "version": 99}) + "\n")
    run = machine.rollback("hello-service")
    line = assert_outcome(run, "FAILED", "Rollback", 2)
    assert f"{path}: written by a newer hdhooks (state format 99" in line
    assert machine.build_answering() == "hello-1"


def test_two_hooks_at_once_the_second_is_refused(machine: Machine) -> None:
    flag = machine.tmp / "checking"

    def slow_check(cfg: dict[str, Any]) -> None:
        cfg["environments"]["demo"]["service"]["check_command"] = [
            "sh", "-c", f"touch {flag}; sleep 3"]

    bundle = machine.bundle("v1", "hello-1", edit=slow_check)
    for event in ("ApplicationStop", "BeforeInstall", "AfterInstall"):
        assert_outcome(machine.hook(event, bundle, "d-PPPPPPPP1"), "OK", event, 0)
    argv = [HDHOOKS, "hook", "ApplicationStart", "--bundle", str(bundle)]
    first = subprocess.Popen(argv, env=machine.env("ApplicationStart", "d-PPPPPPPP1"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():  # the first run holds the lock while its check runs
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = machine.hook("ApplicationStart", bundle, "d-PPPPPPPP1")
        line = assert_outcome(second, "FAILED", "ApplicationStart", 1)
        assert "component hello-service is busy: hook ApplicationStart (pid" in line
        assert f"holds {machine.state_dir / 'locks' / 'hello-service.lock'}" in line
    finally:
        out, _ = first.communicate(timeout=90)
    assert first.returncode == 0, out
    assert out.splitlines()[-1].startswith("OK ApplicationStart ")
    assert len(machine.leftovers()) == 1
    assert_outcome(machine.hook("ValidateService", bundle, "d-PPPPPPPP1"), "OK",
                   "ValidateService", 0)
    assert machine.build_answering() == "hello-1"


def test_unit_template_without_command_is_refused_before_any_side_effect(
        machine: Machine) -> None:
    def no_command(cfg: dict[str, Any]) -> None:
        cfg["service"].pop("command")
        cfg["environments"]["demo"]["service"].pop("command")
        cfg["service"]["unit_template"] = "deploy/hello.service.tmpl"

    bundle = machine.bundle("v1", "hello-1", backend="systemd", edit=no_command,
                            files={"deploy/hello.service.tmpl": "[Service]\n"})
    message = ("'service.unit_template' needs 'service.command' (the unit's ExecStart); "
               "add the command or remove unit_template [service.unit_template]")
    lint = machine.run([HDHOOKS, "lint", str(bundle)], machine.env())
    assert lint.returncode == 1, lint.describe()
    assert message in lint.output
    for event in ("BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"):
        run = machine.hook(event, bundle, "d-PPPPPPPP1")
        line = assert_outcome(run, "FAILED", event, 2)
        assert message in line
    assert not machine.base_dir.exists()
    assert not (machine.state_dir / "components").exists()


def test_a_failed_check_command_puts_the_previous_site_config_back(machine: Machine) -> None:
    sites = machine.tmp / "sites-enabled"
    sites.mkdir()
    site = sites / "hello.conf"

    def with_site(cfg: dict[str, Any]) -> None:
        demo = cfg["environments"]["demo"]
        cfg["templates"] = [*cfg.get("templates", []),
                            {"template": "deploy/templates/site.j2",
                             "destination": str(site), "mode": "0644"}]
        demo["service"]["check_command"] = ["sh", "-c", f"! grep -q broken {site}"]

    v1 = machine.bundle("v1", "hello-1", edit=with_site,
                        files={"deploy/templates/site.j2": "server {{ build_id }};\n"})
    runs = machine.deploy(v1, "d-PPPPPPPP1")
    assert all(r.returncode == 0 for r in runs.values()), [r.describe() for r in runs.values()]
    assert site.read_text() == "server hello-1;\n"

    v2 = machine.bundle("v2", "hello-2", edit=with_site,
                        files={"deploy/templates/site.j2": "broken {{ build_id }};\n"})
    runs = machine.deploy(v2, "d-PPPPPPPP2")
    line = assert_outcome(runs["ApplicationStart"], "FAILED", "ApplicationStart", 1)
    assert f"exited 1; restored {site}" in line
    assert site.read_text() == "server hello-1;\n"
    assert oct(site.stat().st_mode & 0o777) == "0o644"
    assert machine.current() == "d-PPPPPPPP1"


def test_a_unit_template_with_an_unknown_variable_is_refused_before_any_side_effect(
        machine: Machine) -> None:
    def own_unit(cfg: dict[str, Any]) -> None:
        cfg["service"]["unit_template"] = "deploy/hello.service.tmpl"

    bundle = machine.bundle("v1", "hello-1", backend="systemd", edit=own_unit,
                            files={"deploy/hello.service.tmpl":
                                   "[Service]\nExecStart=$exec_start\nUser=$usr\n"})
    message = "unit template 'hello.service.tmpl' uses unknown variable $usr; known: "
    lint = machine.run([HDHOOKS, "lint", str(bundle)], machine.env())
    assert lint.returncode == 1, lint.describe()
    assert message in lint.output
    for event in ("BeforeInstall", "AfterInstall", "ApplicationStart"):
        line = assert_outcome(machine.hook(event, bundle, "d-PPPPPPPP1"), "FAILED", event, 2)
        assert message in line
    assert not machine.base_dir.exists()
