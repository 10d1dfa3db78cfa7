"""`provision validate`: cfn-lint, as a library, on rendered templates.

cfn-lint costs seconds per template, so the command is run on the shared and
dashboard templates and one component template of each kind (JVM, Flutter);
test_render.py shows every component template has the same shape, the
settings that differ (traffic control, approval, fleet percentage) being
parameters. `make bench` (benchmarks/provision.py) lints all 28.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hdhooks.provision.lags import KNOWN_LAGS
from hdhooks.provision.manifest import load_manifest
from hdhooks.provision.render import render_manifest, write_rendered
from hdhooks.provision.validate import lint_text

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "examples" / "components.yml"
HDHOOKS = Path(sys.executable).parent / "hdhooks"
SAMPLE = ("shop-shared", "shop-orders-service", "shop-storefront-web", "shop-dashboard")

SMALL = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Application:
    Type: AWS::CodeDeploy::Application
    Properties:
      ComputePlatform: Server
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: codedeploy.amazonaws.com}
            Action: sts:AssumeRole
  Group:
    Type: AWS::CodeDeploy::DeploymentGroup
    Properties:
      ApplicationName: !Ref Application
      ServiceRoleArn: !GetAtt Role.Arn
EXTRA
"""


def validate(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HDHOOKS), "provision", "validate", str(directory), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example rendered, its index cut down to the sample of stacks."""
    out = tmp_path_factory.mktemp("provision")
    write_rendered(render_manifest(load_manifest(str(MANIFEST))), str(out))
    index = json.loads((out / "stacks.json").read_text())
    index["stacks"] = [s for s in index["stacks"] if s["name"] in SAMPLE]
    (out / "stacks.json").write_text(json.dumps(index))
    return out


def test_rendered_templates_are_cfn_lint_clean(sample_dir: Path) -> None:
    result = validate(sample_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "valid" in result.stderr and "16 files checked" in result.stderr


TINY = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Environment:
    Type: String
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "alerts-${Environment}"
"""


def tiny_dir(root: Path, template: str = TINY, params: object = None) -> Path:
    """A rendered-looking folder with one small template (cheap to lint)."""
    (root / "templates").mkdir(parents=True)
    (root / "templates" / "tiny.yml").write_text(template)
    (root / "stacks.json").write_text(json.dumps({
        "environments": {"prod": {"regions": ["eu-west-1"]}},
        "stacks": [{"name": "tiny", "template": "templates/tiny.yml", "needs": []}]}))
    folder = root / "parameters" / "prod" / "eu-west-1"
    folder.mkdir(parents=True)
    given = params if params is not None else [{"ParameterKey": "Environment",
                                                "ParameterValue": "prod"}]
    (folder / "tiny.json").write_text(json.dumps(given))
    return root


def test_a_finding_is_one_positioned_line_and_exit_1(tmp_path: Path) -> None:
    root = tiny_dir(tmp_path, TINY.replace("      TopicName:", "      TopicNmae:"))
    result = validate(root)
    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{root / 'templates' / 'tiny.yml'}:9:7: error: ")
    assert "'TopicNmae' was unexpected" in first
    assert first.endswith("(E3002) [Resources.Topic.Properties.TopicNmae]")
    assert "invalid" in result.stderr


def test_parameter_files_must_match_their_template(tmp_path: Path) -> None:
    assert validate(tiny_dir(tmp_path / "good")).returncode == 0
    root = tiny_dir(tmp_path / "bad", params=[{"ParameterKey": "Colour",
                                               "ParameterValue": "blue"}])
    result = validate(root)
    assert result.returncode == 1
    file = root / "parameters" / "prod" / "eu-west-1" / "tiny.json"
    assert f"{file}: error: parameter Environment of templates/tiny.yml has no value" \
        in result.stdout
    assert f"{file}: error: parameter Colour is not declared in templates/tiny.yml" \
        in result.stdout


def test_known_schema_lags_are_left_out_and_counted() -> None:
    text = SMALL.replace("EXTRA", "      Ec2DeploymentOptions: {}")
    report = lint_text(text, "lag.yml", ("eu-west-1",))
    assert report.errors == []
    assert any("known cfn-lint schema lags" in note for note in report.notes)


@pytest.mark.parametrize("lag", KNOWN_LAGS, ids=lambda lag: lag.prop)
def test_each_listed_lag_is_still_a_lag(lag: object) -> None:
    """When cfn-lint learns a property, this fails: remove the entry from lags.py."""
    from cfnlint.api import ManualArgs, lint

    assert lag.resource_type == "AWS::CodeDeploy::DeploymentGroup"  # type: ignore[attr-defined]
    text = SMALL.replace("EXTRA", f"      {lag.prop}: {{}}")  # type: ignore[attr-defined]
    rules = {m.rule.id for m in lint(text, config=ManualArgs(regions=["eu-west-1"]))}
    assert lag.rule in rules  # type: ignore[attr-defined]


def test_a_real_error_next_to_a_lag_is_still_reported() -> None:
    text = SMALL.replace("EXTRA", "      Ec2DeploymentOptions: {}\n      Colour: blue")
    report = lint_text(text, "lag.yml", ("eu-west-1",))
    assert [p.path for p in report.errors] == ["Resources.Group.Properties.Colour"]


@pytest.mark.parametrize(("setup", "expected"), [
    ("missing", "no such directory"),
    ("empty", "stacks.json: no such file"),
    ("escape", "leaves the folder"),
    ("garbage", "not a stacks index"),
])
def test_bad_folders_exit_2(tmp_path: Path, setup: str, expected: str) -> None:
    target = tmp_path / "dir"
    if setup != "missing":
        target.mkdir()
    if setup == "escape":
        (target / "stacks.json").write_text(json.dumps(
            {"stacks": [{"name": "x", "template": "../../etc/passwd"}]}))
    if setup == "garbage":
        (target / "stacks.json").write_text("[1, 2")
    result = validate(target)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
