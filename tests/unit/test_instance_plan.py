"""The instance planners as tables: config + surroundings in, frozen steps out (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from hdhooks.cli.boundary import parse_hook_args
from hdhooks.config.model import (
    ComponentConfig,
    HealthConfig,
    HooksConfig,
    PreflightConfig,
    ReleasesConfig,
    ServiceConfig,
    SsmConfig,
    TrafficConfig,
)
from hdhooks.instance import steps as s
from hdhooks.instance.plan import Side, Where, plan_event, plan_move

WHERE = Where("d-NEW", "group-a", "build-7")


def config(*, service: dict[str, Any] | None = None, health: HealthConfig | None = None,
           traffic: TrafficConfig | None = None, bundle: str = "/b") -> ComponentConfig:
    return ComponentConfig(
        component="api", environment="prod", environment_source="test",
        path=f"{bundle}/deploy/hdhooks.yml", bundle_dir=bundle,
        service=ServiceConfig(**{"name": "api", "command": ("/bin/api",), **(service or {})}),
        releases=ReleasesConfig("/opt/api", keep=4), health=health,
        preflight=PreflightConfig(min_free_disk_mb=50, ports=(8080,)), templates=(),
        values={}, ssm=SsmConfig(), secrets=(), traffic=traffic or TrafficConfig(),
        hooks=HooksConfig(),
    )


def kinds(steps: tuple[Any, ...]) -> list[str]:
    return [type(step).__name__ for step in steps]


@pytest.mark.parametrize(("event", "cfg", "expected"), [
    ("ApplicationStop", config(), ["BlockTraffic", "StopService"]),
    ("BeforeInstall", config(), ["Preflight", "PruneReleases"]),
    ("AfterInstall", config(), ["PromoteRelease"]),
    ("ApplicationStart", config(), ["ActivateRelease", "StartService"]),
    ("ApplicationStart", config(service={"check_command": ("nginx", "-t")}),
     ["CheckCommand", "ActivateRelease", "StartService"]),
    ("ValidateService", config(), ["CheckHealth", "AllowTraffic"]),
    ("BeforeAllowTraffic", config(), []),
    ("AfterBlockTraffic", config(), []),
    ("BeforeBlockTraffic", config(), []),
    ("BeforeBlockTraffic", config(traffic=TrafficConfig(events=("BeforeBlockTraffic",))),
     ["BlockTraffic"]),
    ("AfterAllowTraffic", config(traffic=TrafficConfig(events=("AfterAllowTraffic",))),
     ["AllowTraffic"]),
])
def test_which_steps_each_event_plans(event: str, cfg: ComponentConfig,
                                      expected: list[str]) -> None:
    assert kinds(plan_event(event, cfg, WHERE)) == expected


@pytest.mark.parametrize(("traffic", "reason"), [
    (TrafficConfig(mode="off"), "traffic.mode is off"),
    (TrafficConfig(mode="codedeploy"), "traffic.mode is codedeploy"),
    (TrafficConfig(mode="auto"), None),
    (TrafficConfig(mode="hdhooks", target_groups=("tg-a",)), None),
    (TrafficConfig(mode="auto", events=("BeforeBlockTraffic",)),
     "done in BeforeBlockTraffic (traffic.events)"),
])
def test_the_traffic_decision_and_its_reason_are_made_at_plan_time(
        traffic: TrafficConfig, reason: str | None) -> None:
    step = plan_event("ApplicationStop", config(traffic=traffic), WHERE)[0]
    assert isinstance(step, s.BlockTraffic)
    assert step.reason == reason and step.action == "block"
    if reason:
        assert step.skipped() == reason


@pytest.mark.parametrize(("traffic", "context"), [
    (TrafficConfig(mode="auto"), "traffic.mode is auto and no target groups are configured"),
    (TrafficConfig(mode="auto", target_groups=("tg-a", "tg-b")),
     "traffic.mode is auto with target groups tg-a, tg-b"),
])
def test_off_ec2_the_skip_names_the_config_and_why(traffic: TrafficConfig,
                                                   context: str) -> None:
    step = plan_event("ValidateService", config(traffic=traffic), WHERE)[1]
    assert isinstance(step, s.AllowTraffic)
    assert step.context == context
    assert step.off_ec2() == f"{context}; not on EC2 (no instance metadata service)"
    assert "not available in this version" not in step.off_ec2()


def test_steps_carry_their_resolved_data() -> None:
    cfg = config(service={"reload": True, "stop_timeout": 7.0, "port": 8080},
                 health=HealthConfig(url="http://127.0.0.1:8080/health", deadline=9.0,
                                     json_fields={"build_id": "{{ build_id }}", "up": True}))
    stop = plan_event("ApplicationStop", cfg, WHERE)[1]
    assert isinstance(stop, s.StopService)
    assert stop.keep_running and stop.service.stop_timeout == 7.0
    assert stop.skipped() == "it is reloaded at ApplicationStart"
    preflight = plan_event("BeforeInstall", cfg, WHERE)[0]
    assert isinstance(preflight, s.Preflight)
    assert preflight.spec.disk == (("/", 50),) and preflight.spec.ports == (8080,)
    health = plan_event("ValidateService", cfg, WHERE, environ={})[0]
    assert isinstance(health, s.CheckHealth) and health.check is not None
    assert health.check.json_expect == (("build_id", "build-7"), ("up", "true"))
    assert health.check.deadline == 9.0 and health.skipped() is None
    assert health.service.workdir == "/opt/api/current"


def test_no_health_section_is_a_step_that_says_why_it_is_skipped() -> None:
    health = plan_event("ValidateService", config(), WHERE)[0]
    assert isinstance(health, s.CheckHealth)
    assert health.skipped() == "no health section in the config"


def test_a_rollback_plan_stops_the_running_release_and_can_go_back() -> None:
    old, new = config(bundle="/opt/api/releases/d-1"), config(bundle="/opt/api/releases/d-2")
    plan = plan_move("Rollback", Side("d-2", new, "b2"), Side("d-1", old, "b1"), environ={})
    assert (plan.running, plan.target) == ("d-2", "d-1")
    assert kinds(plan.steps) == ["StopService", "ActivateRelease", "StartService",
                                 "CheckHealth"]
    assert plan.steps[1] == s.ActivateRelease("d-1", "/opt/api")
    assert kinds(plan.recovery) == ["StopService", "ActivateRelease", "StartService",
                                    "CheckHealth"]
    assert plan.recovery[1] == s.ActivateRelease("d-2", "/opt/api")


@pytest.mark.parametrize(("running", "recovery"), [(None, []), ("d-1", [])])
def test_a_restart_has_nothing_to_go_back_to(running: str | None,
                                             recovery: list[str]) -> None:
    cfg = config(service={"check_command": ("nginx", "-t")})
    side = Side("d-1", cfg)
    plan = plan_move("Restart", side if running else None, side)
    assert kinds(plan.recovery) == recovery
    first = ["StopService"] if running else []
    assert kinds(plan.steps) == [*first, "CheckCommand", "ActivateRelease", "StartService",
                                 "CheckHealth"]


@pytest.mark.parametrize(("args", "parsed"), [
    (["hook", "ApplicationStart"], ("ApplicationStart", ".", None, False)),
    (["hook"], (None, ".", None, False)),
    (["hook", "ValidateService", "--bundle", "/b", "--dry-run"],
     ("ValidateService", "/b", None, True)),
    (["hook", "--bundle=/b", "--environment=prod", "AfterInstall"],
     ("AfterInstall", "/b", "prod", False)),
    (["hook", "--environment", "dev", "BeforeInstall"], ("BeforeInstall", ".", "dev", False)),
    (["hook", "--help"], None),
    (["hook", "A", "B"], None),
    (["hook", "--bundle"], None),
    (["hook", "--dry-run=yes"], None),
    (["lint"], None),
    ([], None),
])
def test_the_hook_argument_parser(args: list[str],
                                  parsed: tuple[str | None, str, str | None, bool] | None
                                  ) -> None:
    assert parse_hook_args(args) == parsed


OLD = {"component": "api", "base_dir": "/opt/api", "environment": "prod",
       "deployment_group": "g", "deployment_id": "d-1",
       "config": {"top": {}, "sections": {}, "env": "prod", "env_source": "x",
                  "path": "/p", "bundle_dir": "/b"}}


@pytest.mark.parametrize(("data", "expected"), [
    (OLD, {"version": 1, "deployment_id": "d-1", "hdhooks_version": ""}),
    ({"component": "api", "base_dir": "/opt/api"},
     {"version": 1, "config": None, "environment": None}),
    ({**OLD, "config": {"top": {}}}, {"config": None}),  # a config this hdhooks cannot build
    ({**OLD, "version": 2, "later": 1}, {"version": 2, "extra": {"later": 1}}),
])
def test_state_records_of_every_format_are_read(data: dict[str, Any],
                                                expected: dict[str, Any]) -> None:
    from hdhooks.config.state import parse_state

    state = parse_state(data, "/s/api.json")
    assert state.component == "api" and state.base_dir == "/opt/api"
    for key, value in expected.items():
        assert getattr(state, key) == value


@pytest.mark.parametrize(("data", "message"), [
    ([], "/s/api.json: not a component state record (expected a JSON object)"),
    ({**OLD, "version": 3}, "/s/api.json: written by a newer hdhooks (state format 3; this "
                            "one reads up to 2)"),
    ({**OLD, "version": "2"}, "/s/api.json: version '2' is not a state format version"),
    ({"component": "api"}, "/s/api.json: 'base_dir' is missing or not a string"),
])
def test_unusable_state_records_are_refused_clearly(data: object, message: str) -> None:
    from hdhooks.config.state import StateError, parse_state

    with pytest.raises(StateError) as caught:
        parse_state(data, "/s/api.json")
    assert caught.value.one_line().startswith(message)
    assert caught.value.exit_code == 2
