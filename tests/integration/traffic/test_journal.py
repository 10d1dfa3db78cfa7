"""The traffic journal on a real file system: durable, private, safe names, history."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from hdhooks.aws.journal import HISTORY_KEEP, Entry, Journal, JournalError


def _begin(journal: Journal, **over: object) -> Entry:
    args: dict[str, object] = dict(
        component="api", region="eu-west-1", deployment_group="api-prod",
        deployment_id="d-ABC123", action="EnterStandby",
        params={"asg": "api-asg", "instance_id": "i-0abc", "decrement": True},
        inverse_params={"asg": "api-asg", "instance_id": "i-0abc"},
        event="ApplicationStop")
    args.update(over)
    return journal.begin(**args)  # type: ignore[arg-type]


def test_begin_writes_a_private_file_before_returning(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        journal = Journal(str(tmp_path))
        entry = _begin(journal)
    finally:
        os.umask(old)
    files = list((tmp_path / "journal").glob("*.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "journal").stat().st_mode) == 0o700
    data = json.loads(files[0].read_text())
    assert data["action"] == "EnterStandby" and data["inverse"] == "ExitStandby"
    assert data["params"]["decrement"] is True
    assert journal.open_entries() == [entry]


def test_names_do_not_depend_on_hostile_group_or_deployment(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path))
    _begin(journal, deployment_group="../../etc/passwd\n", deployment_id="/x/../y",
           component="a/b")
    names = os.listdir(tmp_path / "journal")
    assert all("/" not in n and ".." not in n for n in names)
    assert not (tmp_path.parent / "etc").exists()
    [entry] = Journal(str(tmp_path)).open_entries()
    assert entry.deployment_group == "../../etc/passwd\n"


def test_settle_moves_to_history_and_filters_by_component(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path))
    first = _begin(journal)
    second = _begin(journal, component="web", action="DeregisterTargets",
                    params={"instance_id": "i-0abc",
                            "targets": [{"arn": "arn:tg", "port": 8080}]},
                    inverse_params={"instance_id": "i-0abc",
                                    "targets": [{"arn": "arn:tg", "port": 8080}]})
    assert second.inverse == "RegisterTargets"
    assert [e.component for e in journal.open_entries("web")] == ["web"]
    done = journal.settle(first, "completed")
    assert done.how == "completed" and done.settled is not None
    assert journal.open_entries() == [second]
    assert [e.id for e in journal.history()] == [first.id]
    journal.settle(first, "undone")  # already settled: no-op
    assert journal.history()[0].how == "completed"
    assert journal.has_open()


def test_history_is_bounded(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path))
    for _ in range(HISTORY_KEEP + 5):
        journal.settle(_begin(journal), "undone")
    assert len(journal.history()) == HISTORY_KEEP
    assert not journal.has_open() and journal.open_entries() == []


def test_unreadable_entry_is_reported_not_skipped(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path))
    _begin(journal)
    (tmp_path / "journal" / "0000000000000-1-bad.json").write_text("{not json")
    with pytest.raises(JournalError, match="not valid JSON"):
        journal.open_entries()


def test_linked_entry_is_not_followed(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path))
    _begin(journal)
    secret = tmp_path / "secret.json"
    secret.write_text("{}")
    os.symlink(secret, tmp_path / "journal" / "0000000000000-1-link.json")
    with pytest.raises(JournalError, match="cannot read"):
        journal.open_entries()


def test_empty_state_dir_has_no_entries_and_creates_nothing(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "state"))
    assert journal.open_entries() == [] and not journal.has_open()
    assert not (tmp_path / "state").exists()


def test_adopt_rekeys_an_open_entry_for_a_newer_deployment(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path))
    old = _begin(journal)
    new = journal.adopt(old, deployment_group="api-prod", deployment_id="d-NEWER",
                        event="ApplicationStop")
    [entry] = Journal(str(tmp_path)).open_entries()
    assert entry == new and entry.id == old.id
    assert entry.deployment_id == "d-NEWER" and entry.extra["adopted_from"] == "d-ABC123"
