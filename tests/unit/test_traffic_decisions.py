"""What traffic control decides from discovery, before any mutating call (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdhooks.aws.discovery import Discovery, Group
from hdhooks.aws.journal import Journal
from hdhooks.aws.traffic import Mover, TrafficConfigError
from hdhooks.instance.traffic import skip_reason

TG = Group("arn:tg/1", "api", 8080, in_asg=True)


def found(**kw: object) -> Discovery:
    base: dict[str, object] = dict(instance_id="i-0abc", region="eu-west-1", asg="api-asg",
                                   asg_state="InService", min_size=1, desired=2, max_size=3,
                                   groups=(TG,), codedeploy_control="off")
    base.update(kw)
    return Discovery(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("d", "mode", "reason"), [
    (found(), "auto", None),
    (found(codedeploy_control="on", codedeploy_reason="deployment group g uses CodeDeploy's "
           "traffic control (WITH_TRAFFIC_CONTROL)"), "auto", "WITH_TRAFFIC_CONTROL"),
    (found(lifecycle="Terminated"), "hdhooks", "termination deployment"),
    (found(asg_state="Terminating:Wait"), "auto", "termination deployment"),
    (found(asg_state="Pending:Wait"), "auto", "launch deployment (Pending:Wait)"),
    (found(groups=()), "hdhooks", "no target groups"),
])
def test_skip_reasons(d: Discovery, mode: str, reason: str | None) -> None:
    got = skip_reason(d, mode)
    assert (got is None) if reason is None else (got is not None and reason in got)


def test_hdhooks_mode_with_codedeploy_control_is_refused() -> None:
    with pytest.raises(TrafficConfigError, match="both would move the same targets") as exc:
        skip_reason(found(codedeploy_control="on", codedeploy_reason="x"), "hdhooks")
    assert exc.value.exit_code == 2


def mover(tmp_path: Path, d: Discovery, standby: bool | None = None) -> Mover:
    said: list[str] = []
    return Mover(d, Journal(str(tmp_path)), "api", "g", "d-1", "ApplicationStop",
                 standby=standby, say=said.append)


@pytest.mark.parametrize(("d", "standby", "expected"), [
    (found(), None, True),
    (found(), False, False),
    (found(asg=None, groups=(Group("arn:tg/2", "web", 80),)), None, False),
    (found(groups=(Group("arn:tg/2", "web", 80),)), None, False),  # not attached to the ASG
    (found(asg_state="Standby", min_size=2), None, True),  # already there
])
def test_standby_or_deregistration(tmp_path: Path, d: Discovery, standby: bool | None,
                                   expected: bool) -> None:
    assert mover(tmp_path, d, standby).use_standby() is expected


def test_min_size_equal_to_desired_falls_back_with_a_warning(tmp_path: Path) -> None:
    m = mover(tmp_path, found(min_size=2, desired=2))
    assert m.use_standby() is False
    assert "MinSize 2 equals the desired capacity 2" in m.warnings[0]
    assert "hdhooks never changes MinSize" in m.warnings[0]
    with pytest.raises(TrafficConfigError, match="would be refused"):
        mover(tmp_path, found(min_size=2, desired=2), standby=True).use_standby()
    with pytest.raises(TrafficConfigError, match="in no Auto Scaling group"):
        mover(tmp_path, found(asg=None), standby=True).use_standby()
