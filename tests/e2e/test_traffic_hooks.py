"""Traffic control through the installed command, against the ALB emulator and IMDSv2.

Each test builds its component's AWS side with the fleet builder (an ALB
target group with 1-2 s health checks and a 1 s deregistration delay, an
Auto Scaling group or a plain instance, a CodeDeploy deployment group), runs
the example component for real, and drives ``hdhooks hook`` with
CodeDeploy's variables. Assertions read AWS state back through the emulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hookkit import Machine, Run, assert_outcome
from tests.support.awsbed import Component, Fleet

pytestmark = pytest.mark.usefixtures("alb_emulator")


class TrafficMachine(Machine):
    """A Machine whose hooks see the test bed: AWS endpoint, IMDS identity, its group."""

    def __init__(self, tmp_path: Path, aws_env: dict[str, str], comp: Component,
                 index: int = 0) -> None:
        super().__init__(tmp_path, port=comp.instances[index].port or comp.port)
        self.aws_env = dict(aws_env)
        self.comp = comp
        self.aws_env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = comp.instances[index].ident.url

    def env(self, event: str | None = None, deployment_id: str | None = None) -> dict[str, str]:
        env = super().env(event, deployment_id)
        env.update(self.aws_env)
        env["DEPLOYMENT_GROUP_NAME"] = self.comp.group_name
        env["APPLICATION_NAME"] = self.comp.app_name
        return env

    def traffic_bundle(self, name: str, build: str, metrics: dict[str, Any] | None = None,
                       **traffic: Any) -> Path:
        def edit(config: dict[str, Any]) -> None:
            config["environment_from"]["deployment_groups"][self.comp.group_name] = "demo"
            config["environments"]["demo"]["traffic"] = traffic
            if metrics is not None:
                config["environments"]["demo"]["metrics"] = metrics
        return self.bundle(name, build, edit=edit)

    def journal(self) -> list[dict[str, Any]]:
        directory = self.state_dir / "journal"
        return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


@pytest.fixture
def make(tmp_path: Path, traffic_env: dict[str, str], fleet: Fleet) -> Any:
    machines: list[Machine] = []

    def build(name: str = "hello", **kwargs: Any) -> TrafficMachine:
        from tests.e2e.hookkit import free_port

        comp = fleet.add_component(name, free_port(), **kwargs)
        machine = TrafficMachine(tmp_path / f"m{len(machines)}", traffic_env, comp)
        machines.append(machine)
        return machine

    yield build
    for machine in machines:
        machine.cleanup()


def deploy_ok(m: TrafficMachine, bundle: Path, deployment: str) -> dict[str, Run]:
    runs = m.deploy(bundle, deployment)
    for event, run in runs.items():
        assert_outcome(run, "OK", event, 0)
    return runs


def test_in_place_with_target_groups_deregisters_drains_registers_healthy(
        make: Any, alb_emulator: Any) -> None:
    m = make(in_asg=False)
    tg = m.comp.tg_arn
    iid = m.comp.instance_ids[0]
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="hdhooks", target_groups=[m.comp.tg_name])
    deploy_ok(m, v1, "d-TRAFFIC01")
    assert alb_emulator.state(tg, iid).state == "healthy"
    v2 = m.traffic_bundle("v2", "hello-2.0.0", mode="hdhooks", target_groups=[m.comp.tg_name])
    since = alb_emulator.calls()[-1].time
    runs = deploy_ok(m, v2, "d-TRAFFIC02")
    stop = runs["ApplicationStop"].stdout
    assert f"deregistered from tg/{m.comp.tg_name}" in stop and "drained in" in stop
    assert f"healthy in tg/{m.comp.tg_name}" in runs["ValidateService"].outcome_line()
    states = [t.state for t in alb_emulator.transitions(tg, iid, since=since)]
    assert "draining" in states and states[-1] == "healthy", states
    assert alb_emulator.state(tg, iid).state == "healthy"
    assert m.build_answering() == "hello-2.0.0"
    assert m.journal() == []  # the allow step settled what the block step wrote
    emf = runs["ApplicationStop"].emf()
    assert emf["DrainSeconds"] >= 0.5 and emf["ApiCalls"] >= 2
    assert runs["ValidateService"].emf()["HealthyWaitSeconds"] > 0
    # Discovery was cached by ApplicationStop: ValidateService only registers and polls.
    assert set(runs["ValidateService"].emf()["ApiCallsByOperation"]) == {
        "elbv2:RegisterTargets", "elbv2:DescribeTargetHealth"}
    # Only the one Describe per group per poll, always for this target only.
    describes = [c for c in alb_emulator.calls("DescribeTargetHealth", since=since)]
    assert describes and all(not c.throttled for c in describes)
    # The identity refuses IMDSv1: every metadata read carried a valid IMDSv2 token.
    ident = m.comp.instances[0].ident
    assert not ident.allow_v1
    gets = [r for r in ident.requests if r.method == "GET"]
    assert gets and all(r.token_valid and r.status in (200, 404) for r in gets)


def test_traffic_events_move_block_and_allow(make: Any, alb_emulator: Any) -> None:
    m = make(in_asg=False)
    tg, iid = m.comp.tg_arn, m.comp.instance_ids[0]
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="hdhooks", target_groups=[m.comp.tg_name],
                          events=["BeforeBlockTraffic", "AfterAllowTraffic"])
    block = m.hook("BeforeBlockTraffic", v1, "d-EVENTS01")
    assert_outcome(block, "OK", "BeforeBlockTraffic", 0)
    assert "deregistered from" in block.stdout
    runs = deploy_ok(m, v1, "d-EVENTS01")
    assert "done in BeforeBlockTraffic (traffic.events)" in runs["ApplicationStop"].stdout
    assert "done in AfterAllowTraffic (traffic.events)" in runs["ValidateService"].stdout
    assert alb_emulator.state(tg, iid).state == "unused"
    allow = m.hook("AfterAllowTraffic", v1, "d-EVENTS01")
    assert f"healthy in tg/{m.comp.tg_name}" in assert_outcome(allow, "OK",
                                                               "AfterAllowTraffic", 0)
    assert alb_emulator.state(tg, iid).state == "healthy"
    assert m.journal() == []


def test_standby_path_returns_capacity(make: Any, alb_emulator: Any, fleet: Fleet) -> None:
    m = make(instances=1, min_size=0)
    iid, asg_name = m.comp.instance_ids[0], m.comp.asg_name
    asg = fleet.client("autoscaling")

    def desired() -> int:
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])
        return int(group["AutoScalingGroups"][0]["DesiredCapacity"])

    before = desired()
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="auto")
    stop = m.hook("ApplicationStop", v1, "d-STANDBY01")
    assert_outcome(stop, "OK", "ApplicationStop", 0)
    assert f"Standby in {asg_name}" in stop.stdout
    assert [e["action"] for e in m.journal()] == ["EnterStandby"]
    assert desired() == before - 1
    for event in ("BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"):
        assert_outcome(m.hook(event, v1, "d-STANDBY01"), "OK", event, 0)
    state = asg.describe_auto_scaling_instances(InstanceIds=[iid])["AutoScalingInstances"][0]
    assert state["LifecycleState"] == "InService"
    assert desired() == before
    assert alb_emulator.state(m.comp.tg_arn, iid).state == "healthy"
    assert m.journal() == []


def test_min_size_equal_to_desired_deregisters_instead_and_says_why(make: Any) -> None:
    m = make(instances=1, min_size=1)
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="auto")
    stop = m.hook("ApplicationStop", v1, "d-MINSIZE01")
    assert_outcome(stop, "OK", "ApplicationStop", 0)
    assert "MinSize 1 equals the desired capacity 1" in stop.stdout
    assert "hdhooks never changes MinSize" in stop.stdout
    assert "deregistered from" in stop.stdout


def test_termination_deployment_does_not_wait_for_traffic(make: Any, fleet: Fleet) -> None:
    m = make(instances=1, min_size=0)
    m.comp.instances[0].ident.lifecycle = "Terminated"
    namespace = f"hdhooks/{m.comp.app_name}"
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="auto",
                          metrics={"put_metric_data": True, "namespace": namespace})
    stop = m.hook("ApplicationStop", v1, "d-TERM01")
    assert_outcome(stop, "OK", "ApplicationStop", 0)
    assert "skipped: termination deployment" in stop.stdout
    assert m.journal() == []
    # metrics.put_metric_data: the hook's figures reach CloudWatch too.
    sent = fleet.client("cloudwatch").list_metrics(Namespace=namespace)["Metrics"]
    assert {"Duration", "Failed", "ApiCalls"} <= {x["MetricName"] for x in sent}


def test_launch_deployment_neither_enters_standby_nor_waits(make: Any,
                                                            alb_emulator: Any) -> None:
    m = make(instances=1, min_size=0)
    alb_emulator.set_lifecycle(m.comp.instance_ids[0], "Pending:Wait")
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="auto")
    runs = deploy_ok(m, v1, "d-LAUNCH01")
    assert "skipped: launch deployment (Pending:Wait)" in runs["ApplicationStop"].stdout
    assert "skipped: launch deployment (Pending:Wait)" in runs["ValidateService"].stdout
    assert not alb_emulator.calls("EnterStandby")
    assert m.journal() == []


def test_target_that_never_becomes_healthy_fails_fast_with_the_reason(
        make: Any, alb_emulator: Any) -> None:
    # The ALB checks a path the service does not serve; the local check passes.
    m = make(in_asg=False, health_path="/missing", interval=2, unhealthy=2)
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="hdhooks", target_groups=[m.comp.tg_arn])
    runs = m.deploy(v1, "d-NEVER01")
    run = runs["ValidateService"]
    line = assert_outcome(run, "FAILED", "ValidateService", 1)
    iid = m.comp.instance_ids[0]
    assert f"tg/{m.comp.tg_name} {iid} unhealthy Target.ResponseCodeMismatch" in line
    assert "deadline" not in line  # stopped by the verdict, not by waiting out the deadline
    assert "port " in run.diagnostics()


def test_throttling_is_absorbed_within_budget(make: Any, alb_emulator: Any) -> None:
    m = make(in_asg=False)
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="hdhooks", target_groups=[m.comp.tg_name])
    alb_emulator.fail("DescribeTargetHealth", "Throttling", times=3)
    runs = deploy_ok(m, v1, "d-THROTTLE01")
    assert sum(run.emf().get("ThrottledCalls", 0) for run in runs.values()) == 3
    throttled = [c for c in alb_emulator.calls("DescribeTargetHealth") if c.status != 200]
    assert len(throttled) == 3


def test_imds_down_fails_naming_the_metadata_service(make: Any) -> None:
    m = make(in_asg=False)
    m.comp.instances[0].ident.down = True
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="auto", target_groups=[m.comp.tg_name])
    try:
        stop = m.hook("ApplicationStop", v1, "d-IMDS01")
    finally:
        m.comp.instances[0].ident.down = False
    line = assert_outcome(stop, "FAILED", "ApplicationStop", 1)
    assert "instance metadata latest/api/token: no answer from" in line
    assert "after 3 tries" in line


def test_access_denied_fails_at_once_naming_the_permission(make: Any,
                                                           alb_emulator: Any) -> None:
    m = make(in_asg=False)
    v1 = m.traffic_bundle("v1", "hello-1.0.0", mode="hdhooks", target_groups=[m.comp.tg_name])
    deploy_ok(m, v1, "d-DENIED01")
    alb_emulator.fail("DeregisterTargets", "AccessDenied")
    since = alb_emulator.calls()[-1].time
    stop = m.hook("ApplicationStop", m.current_link, "d-DENIED02")
    line = assert_outcome(stop, "FAILED", "ApplicationStop", 1)
    assert "elasticloadbalancing:DeregisterTargets" in line
    assert len(alb_emulator.calls("DeregisterTargets", since=since)) == 1  # no retries
    assert m.journal() == []  # refused: nothing to undo
    assert m.build_answering() == "hello-1.0.0"  # not stopped: traffic was not blocked


def test_codedeploy_traffic_control_conflict(make: Any) -> None:
    m = make(in_asg=False, codedeploy_traffic=True)
    refused = m.traffic_bundle("v1", "hello-1.0.0", mode="hdhooks",
                               target_groups=[m.comp.tg_name])
    stop = m.hook("ApplicationStop", refused, "d-CONFLICT01")
    line = assert_outcome(stop, "FAILED", "ApplicationStop", 2)
    assert "WITH_TRAFFIC_CONTROL" in line and "both would move the same targets" in line
    auto = m.traffic_bundle("v2", "hello-1.0.0", mode="auto", target_groups=[m.comp.tg_name])
    stop = m.hook("ApplicationStop", auto, "d-CONFLICT02")
    assert_outcome(stop, "OK", "ApplicationStop", 0)
    assert "uses CodeDeploy's traffic control (WITH_TRAFFIC_CONTROL)" in stop.stdout


def test_two_instances_at_once_never_race_on_capacity(
        tmp_path: Path, traffic_env: dict[str, str], fleet: Fleet, alb_emulator: Any) -> None:
    """HalfAtATime: both instances block at once; MinSize 1 leaves room for one Standby."""
    import concurrent.futures

    from tests.e2e.hookkit import free_port

    ports = [free_port(), free_port()]
    comp = fleet.add_component("pair", free_port(), instances=2, min_size=1, ports=ports)
    machines = [TrafficMachine(tmp_path / f"m{n}", traffic_env, comp, n) for n in range(2)]
    try:
        bundles = [m.traffic_bundle("v1", "hello-1.0.0", mode="auto", port=comp.port)
                   for m in machines]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            stops = list(pool.map(lambda mb: mb[0].hook("ApplicationStop", mb[1], "d-PAIR01"),
                                  zip(machines, bundles, strict=True)))
        for stop in stops:
            assert_outcome(stop, "OK", "ApplicationStop", 0)
        out = " ".join(stop.stdout for stop in stops)
        assert "Standby in" in out and "deregistered from" in out, out
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda mb: deploy_rest(mb[0], mb[1], "d-PAIR01"),
                          zip(machines, bundles, strict=True)))
        asg = fleet.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[comp.asg_name])["AutoScalingGroups"][0]
        assert asg["DesiredCapacity"] == 2 and asg["MinSize"] == 1
        assert {i["LifecycleState"] for i in asg["Instances"]} == {"InService"}
        for iid in comp.instance_ids:
            assert alb_emulator.state(comp.tg_arn, iid, comp.port).state == "healthy"
        assert all(m.journal() == [] for m in machines)
    finally:
        for m in machines:
            m.cleanup()


def deploy_rest(m: TrafficMachine, bundle: Path, deployment: str) -> None:
    for event in ("BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"):
        assert_outcome(m.hook(event, bundle, deployment), "OK", event, 0)


def test_no_aws_at_all_mode_auto_skips_at_no_cost(tmp_path: Path) -> None:
    m = Machine(tmp_path)
    bundle = m.bundle("v1", "hello-1.0.0")
    try:
        runs = m.deploy(bundle, "d-LOCAL01")
        for event, run in runs.items():
            assert_outcome(run, "OK", event, 0)
        assert "not on EC2 (no instance metadata service)" in runs["ApplicationStop"].stdout
        assert "ApiCalls" not in runs["ValidateService"].emf()
    finally:
        m.cleanup()
