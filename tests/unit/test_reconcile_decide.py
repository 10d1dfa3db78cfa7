"""Which open journal entries reconcile restores, hands over or leaves alone."""

from __future__ import annotations

from hdhooks.aws.journal import Entry
from hdhooks.instance.reconcile import Adoption, ReconcileReport, by_component, decide


def entry(deployment_id: str = "d-1", *, component: str = "api", group: str = "api-prod",
          created: float = 1.0, action: str = "EnterStandby") -> Entry:
    return Entry(id=f"{created}", component=component, region="eu-west-1",
                 deployment_group=group, deployment_id=deployment_id, action=action,
                 params={"asg": "api-asg", "instance_id": "i-1"},
                 inverse="ExitStandby", inverse_params={"asg": "api-asg", "instance_id": "i-1"},
                 created=created, event="ApplicationStop")


def test_finished_deployment_is_restored() -> None:
    d = decide("api", [entry()], busy=None, running={"d-1": "Failed"}, adoption=None)
    assert d.action == "restore"


def test_unknown_to_codedeploy_counts_as_finished() -> None:
    assert decide("api", [entry()], busy=None, running={}, adoption=None).action == "restore"


def test_running_deployment_is_left_alone() -> None:
    d = decide("api", [entry()], busy=None, running={"d-1": "InProgress"}, adoption=None)
    assert (d.action, d.reason) == ("leave", "deployment d-1 is InProgress")


def test_status_that_cannot_be_read_leaves_the_entries() -> None:
    d = decide("api", [entry()], busy=None, running={"d-1": None}, adoption=None)
    assert d.action == "leave" and "cannot tell" in d.reason


def test_a_held_lock_wins_over_everything() -> None:
    d = decide("api", [entry()], busy="hook ValidateService (pid 7)", running={},
               adoption=Adoption("d-2", "api-prod", "api", "ApplicationStop"))
    assert d.action == "leave" and "pid 7" in d.reason


def test_new_deployment_of_the_same_group_adopts() -> None:
    adoption = Adoption("d-2", "api-prod", "api", "ApplicationStop")
    d = decide("api", [entry()], busy=None, running={}, adoption=adoption)
    assert d.action == "adopt"


def test_other_group_or_component_is_restored_not_adopted() -> None:
    adoption = Adoption("d-2", "api-prod", "api", "ApplicationStop")
    other_group = decide("api", [entry(group="api-canary")], busy=None, running={},
                         adoption=adoption)
    other_component = decide("web", [entry(component="web")], busy=None, running={},
                             adoption=adoption)
    assert other_group.action == other_component.action == "restore"


def test_entries_are_undone_newest_first_per_component() -> None:
    grouped = by_component([entry("d-1", created=1), entry("d-2", created=3),
                            entry("d-3", component="web", created=2)])
    assert [e.deployment_id for e in grouped["api"]] == ["d-2", "d-1"]
    assert [e.deployment_id for e in grouped["web"]] == ["d-3"]


def test_empty_report_is_ok_and_says_nothing_to_do() -> None:
    report = ReconcileReport()
    assert report.ok and report.nothing_to_do and report.exit_code == 0
    assert report.as_dict() == {"ok": True, "nothing_to_do": True, "components": []}
