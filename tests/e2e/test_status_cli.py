"""``hdhooks status``: release, service, health, traffic and the journal, read-only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hdhooks.aws.journal import Journal
from tests.e2e.hookkit import GROUP, HDHOOKS, Machine, Run


@pytest.fixture
def machine(tmp_path: Path, aws_env: dict[str, str]) -> Iterator[Machine]:
    m = Machine(tmp_path)
    m.extra_env.update(aws_env, AWS_EC2_METADATA_DISABLED="true")
    yield m
    m.cleanup()


def status(machine: Machine, *args: str) -> Run:
    return machine.run([HDHOOKS, "status", *args], machine.env(), timeout=60)


def test_status_json_is_one_object_with_release_service_health_and_journal(
        machine: Machine) -> None:
    runs = machine.deploy(machine.bundle("a", "build-a"), "d-STATUS0001")
    assert all(r.returncode == 0 for r in runs.values()), runs
    params = {"asg": "hello-asg", "instance_id": "i-0abc", "decrement": True}
    Journal(str(machine.state_dir)).begin(
        component="hello-service", region="eu-west-1", deployment_group=GROUP,
        deployment_id="d-STATUS0002", action="EnterStandby", params=params,
        inverse_params=params, event="ApplicationStop")

    done = status(machine, "--format", "json")
    assert done.returncode == 0, done.describe()
    assert len(done.stdout.strip().splitlines()) == 1
    doc = json.loads(done.stdout)
    (c,) = doc["components"]
    assert c["component"] == "hello-service" and c["release"] == "d-STATUS0001"
    assert c["build_id"] == "build-a"
    assert c["service"]["active"] is True and c["service"]["main_pid"]
    assert c["health"]["checked"] is True and c["health"]["ok"] is True
    assert "not on EC2" in c["traffic"]["reason"]
    (entry,) = doc["journal"]
    assert (entry["action"], entry["inverse"], entry["deployment_id"]) == (
        "EnterStandby", "ExitStandby", "d-STATUS0002")
    # Read-only: the entry is still open, the service still answers.
    assert len(Journal(str(machine.state_dir)).open_entries()) == 1
    assert machine.build_answering() == "build-a"


def test_status_text_names_a_stopped_service_and_failed_health(machine: Machine) -> None:
    runs = machine.deploy(machine.bundle("a", "build-a"), "d-STATUS0003")
    assert all(r.returncode == 0 for r in runs.values()), runs
    assert machine.hook("ApplicationStop", machine.current_link, "d-STATUS0004").returncode == 0

    done = status(machine)
    assert done.returncode == 0, done.describe()
    lines = done.stdout.splitlines()
    assert lines[0] == "hello-service (demo): release d-STATUS0003, build build-a"
    assert any(x.startswith("  service: inactive") for x in lines), done.stdout
    assert any(x.startswith("  health: unhealthy") for x in lines), done.stdout
    assert lines[-1] == "journal: no open entries"


def test_status_on_a_fresh_instance(machine: Machine) -> None:
    done = status(machine, "--format", "json")
    assert done.returncode == 0, done.describe()
    doc = json.loads(done.stdout)
    assert doc["components"] == [] and doc["journal"] == []
