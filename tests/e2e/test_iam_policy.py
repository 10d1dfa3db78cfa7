"""``hdhooks iam-policy --bundle DIR``: the instance role's policy on stdout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "hello-service"


def run(hdhooks_bin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([hdhooks_bin, "iam-policy", *args], capture_output=True, text=True,
                          timeout=120)


def test_example_policy_is_valid_json_with_named_actions(hdhooks_bin: str) -> None:
    done = run(hdhooks_bin, "--bundle", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    policy = json.loads(done.stdout)
    assert policy["Version"] == "2012-10-17"
    sids = {s["Sid"] for s in policy["Statement"]}
    # hello-service leaves traffic.mode at auto and reads no SSM parameter or secret.
    assert {"TrafficDiscovery", "TrafficStandby", "TrafficTargets"} <= sids
    assert not sids & {"SsmPaths", "SsmParameters", "Secrets", "DecryptViaService"}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"])
        if statement["Resource"] == ["*"]:
            assert all(":Describe" in a for a in statement["Action"]), statement


def test_exact_names_narrow_the_resources(hdhooks_bin: str) -> None:
    done = run(hdhooks_bin, "--bundle", str(EXAMPLE), "--environment", "prod",
               "--region", "eu-west-1", "--asg", "hello-prod-asg")
    assert done.returncode == 0, done.stderr
    standby = next(s for s in json.loads(done.stdout)["Statement"]
                   if s["Sid"] == "TrafficStandby")
    assert standby["Resource"] == ["arn:aws:autoscaling:eu-west-1:${aws:PrincipalAccount}:"
                                   "autoScalingGroup:*:autoScalingGroupName/hello-prod-asg"]
    assert "Condition" not in standby


def test_bad_bundle_is_one_line_and_exit_2(hdhooks_bin: str, tmp_path: Path) -> None:
    done = run(hdhooks_bin, "--bundle", str(tmp_path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "hdhooks.yml" in done.stderr and "Traceback" not in done.stderr


def test_unknown_environment_is_exit_2(hdhooks_bin: str) -> None:
    done = run(hdhooks_bin, "--bundle", str(EXAMPLE), "--environment", "nope")
    assert done.returncode == 2
    assert "nope" in done.stderr and "Traceback" not in done.stderr


def test_docs_show_the_policy_the_command_prints(hdhooks_bin: str) -> None:
    done = run(hdhooks_bin, "--bundle", str(EXAMPLE))
    text = (REPO / "docs" / "traffic.md").read_text()
    shown = text.split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(shown) == json.loads(done.stdout), "update docs/traffic.md"
