"""`provision render` of examples/components.yml: 26 components in three accounts.

What moto cannot create (CodeDeploy, CodePipeline, CodeBuild, alarms) is
checked here in the templates: every piece exists and references the next
(pipeline -> build project -> deployment group -> ASG -> target group ->
listener rule), nothing account- or region-specific is written into a
template, every bucket and log group is encrypted with the platform's key,
IMDSv2 is required and the alarms stop and roll back a deployment.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hdhooks.config.load import load_config
from hdhooks.provision.cfnyaml import loads
from hdhooks.provision.manifest import Manifest, load_manifest
from hdhooks.provision.render import MAX_TEMPLATE_BYTES, Rendered, render_manifest

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "examples" / "components.yml"
HDHOOKS = Path(sys.executable).parent / "hdhooks"
REGION_RE = re.compile(r"\b(us|eu|ap|sa|ca|me|af|il|mx)-(gov-)?(north|south|east|west|central|"
                       r"northeast|southeast|northwest|southwest)-\d\b")


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest(str(MANIFEST))


@pytest.fixture(scope="module")
def rendered(manifest: Manifest) -> Rendered:
    return render_manifest(manifest)


_DOCS: dict[str, dict[str, Any]] = {}


def template_doc(rendered: Rendered, path: str) -> dict[str, Any]:
    """A template as data (parsed once per test run; tests copy before they change it)."""
    if path not in _DOCS:
        _DOCS[path] = loads(rendered.text(path))
    return _DOCS[path]


def component_doc(rendered: Rendered, name: str) -> dict[str, Any]:
    return template_doc(rendered, f"templates/components/{name}.yml")


def params(rendered: Rendered, env: str, stack: str) -> dict[str, str]:
    doc = json.loads(rendered.text(f"parameters/{env}/eu-west-1/{stack}.json"))
    return {p["ParameterKey"]: p["ParameterValue"] for p in doc}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def test_the_example_holds_26_components_in_three_accounts(manifest: Manifest,
                                                           rendered: Rendered) -> None:
    assert len(manifest.components) == 26
    assert [a.environment for a in manifest.accounts] == ["dev", "staging", "prod"]
    assert len({a.account_id for a in manifest.accounts}) == 3
    templates = [p for p in rendered.files if p.startswith("templates/")]
    assert len(templates) == 28  # shared + dashboard + one per component, for every account
    assert len([p for p in rendered.files if p.startswith("parameters/")]) == 28 * 3
    stacks = json.loads(rendered.text("stacks.json"))["stacks"]
    assert stacks[0]["name"] == "shop-shared" and stacks[-1]["name"] == "shop-dashboard"
    assert all(s["needs"] == ["shop-shared"] for s in stacks[1:])


def test_every_component_chain_references_the_next_piece(manifest: Manifest,
                                                         rendered: Rendered) -> None:
    for component in manifest.components:
        res = component_doc(rendered, component.name)["Resources"]
        stages = res["Pipeline"]["Properties"]["Stages"]
        build = next(s for s in stages if isinstance(s, dict) and s.get("Name") == "Build")
        deploy = next(s for s in stages if isinstance(s, dict) and s.get("Name") == "Deploy")
        assert build["Actions"][0]["Configuration"]["ProjectName"] == ref("BuildProject")
        target = deploy["Actions"][0]["Configuration"]
        assert target == {"ApplicationName": ref("Application"),
                          "DeploymentGroupName": ref("DeploymentGroup")}
        group = res["DeploymentGroup"]["Properties"]
        assert group["AutoScalingGroups"] == [ref("AutoScalingGroup")]
        assert group["LoadBalancerInfo"]["TargetGroupInfoList"] == [
            {"Name": {"Fn::GetAtt": ["TargetGroup", "TargetGroupName"]}}]
        assert group["DeploymentStyle"]["DeploymentType"] == "IN_PLACE"
        asg = res["AutoScalingGroup"]["Properties"]
        assert asg["TargetGroupARNs"] == [ref("TargetGroup")]
        assert asg["LaunchTemplate"]["LaunchTemplateId"] == ref("LaunchTemplate")
        assert asg["VPCZoneIdentifier"] == ref("SubnetIds")
        rule = res["ListenerRule"]["Properties"]
        assert rule["Actions"] == [{"Type": "forward", "TargetGroupArn": ref("TargetGroup")}]
        assert res["TargetGroup"]["Properties"]["HealthCheckPath"] == component.health_path
        assert res["TargetGroup"]["Properties"]["Port"] == component.port
        launch = res["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        assert launch["IamInstanceProfile"] == {"Arn": {"Fn::GetAtt": ["InstanceProfile",
                                                                        "Arn"]}}
        assert res["InstanceProfile"]["Properties"]["Roles"] == [ref("InstanceRole")]
        assert res["BuildProject"]["Properties"]["Source"]["BuildSpec"].startswith(
            "# Rendered by `hdhooks buildspec render`")


def test_imdsv2_is_required_with_one_hop(manifest: Manifest, rendered: Rendered) -> None:
    for component in manifest.components:
        data = component_doc(rendered, component.name)["Resources"]["LaunchTemplate"][
            "Properties"]["LaunchTemplateData"]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1


def test_alarms_stop_and_roll_back_deployments(manifest: Manifest,
                                               rendered: Rendered) -> None:
    for component in manifest.components:
        res = component_doc(rendered, component.name)["Resources"]
        alarms = {name for name, body in res.items() if body["Type"] == "AWS::CloudWatch::Alarm"}
        assert alarms == {"HookFailuresAlarm", "UnhealthyHostsAlarm", "Target5xxAlarm",
                          "LatencyP99Alarm"}
        group = res["DeploymentGroup"]["Properties"]
        assert group["AlarmConfiguration"]["Enabled"] is True
        assert {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]} == alarms
        assert group["AutoRollbackConfiguration"] == {
            "Enabled": True, "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}
        hook = res["HookFailuresAlarm"]["Properties"]["Metrics"]
        dims = [m["MetricStat"]["Metric"]["Dimensions"] for m in hook if "MetricStat" in m]
        assert len(dims) == 9 and all({"Name": "Component", "Value": component.name} in d
                                      for d in dims)


def test_every_bucket_and_log_group_is_encrypted_with_the_key(rendered: Rendered) -> None:
    shared_key = {"Fn::GetAtt": ["Key", "Arn"]}
    imported_key = {"Fn::ImportValue": {"Fn::Sub": "${SharedStack}-KeyArn"}}
    for path in (p for p in rendered.files if p.startswith("templates/")):
        res = template_doc(rendered, path).get("Resources", {})
        key = shared_key if path.endswith("shared.yml") else imported_key
        for name, body in res.items():
            props = body.get("Properties", {})
            if body["Type"] == "AWS::S3::Bucket":
                rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                assert rule["ServerSideEncryptionByDefault"] == {
                    "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}, (path, name)
            if body["Type"] == "AWS::Logs::LogGroup":
                assert props["KmsKeyId"] == key, (path, name)
            if body["Type"] == "AWS::CodeBuild::Project":
                assert props["EncryptionKey"] == key
            if body["Type"] == "AWS::CodePipeline::Pipeline":
                assert props["ArtifactStore"]["EncryptionKey"] == {"Type": "KMS", "Id": key}
    shared = template_doc(rendered, "templates/shared.yml")["Resources"]
    assert shared["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == ref("Key")
    tls = shared["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}
    assert shared["WebAclAssociation"]["Properties"]["ResourceArn"] == ref("LoadBalancer")
    rules = shared["WebAcl"]["Properties"]["Rules"]
    assert all(r["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS" for r in rules)


def test_no_account_id_region_or_arn_is_written_into_a_template(rendered: Rendered) -> None:
    for path in (p for p in rendered.files if p.startswith("templates/")):
        text = rendered.text(path)
        assert not re.search(r"\b\d{12}\b", text), path
        assert not REGION_RE.search(text), path
        assert "arn:aws:" not in text, path
        assert len(text.encode()) < MAX_TEMPLATE_BYTES, path
        assert len(template_doc(rendered, path)["Resources"]) < 500


def test_account_values_live_in_the_parameter_files(manifest: Manifest,
                                                    rendered: Rendered) -> None:
    for account in manifest.accounts:
        shared = params(rendered, account.environment, "shop-shared")
        region = account.regions[0]
        assert shared["VpcId"] == region.vpc_id
        assert shared["ConnectionArn"] == region.connection_arn
        api = params(rendered, account.environment, "shop-orders-service")
        assert api["SubnetIds"] == ",".join(region.subnet_ids)
        assert api["TriggerBranch"] == account.branch
    assert params(rendered, "staging", "shop-orders-service")["TriggerBranch"] == "release/*"
    assert params(rendered, "staging", "shop-orders-service")["SourceBranch"] == "release/next"
    assert params(rendered, "dev", "shop-cart-service")["DeploymentConfig"] == \
        "CodeDeployDefault.AllAtOnce"
    assert params(rendered, "staging", "shop-cart-service")["DeploymentConfig"] == \
        "CodeDeployDefault.HalfAtATime"


def test_the_parameter_hierarchy_most_specific_wins(rendered: Rendered) -> None:
    orders = params(rendered, "prod", "shop-orders-service")
    assert (orders["InstanceType"], orders["MinSize"], orders["MaxSize"]) == \
        ("m6i.large", "2", "12")  # component in prod
    assert (orders["DeploymentConfig"], orders["MinimumHealthyPercent"]) == \
        ("FleetPercent", "75")  # component, over the environment's and global
    cart = params(rendered, "prod", "shop-cart-service")
    assert (cart["InstanceType"], cart["MinSize"], cart["NeedsApproval"]) == \
        ("t3.small", "2", "true")  # global type, prod's sizes and approval
    assert params(rendered, "prod", "shop-status-page")["NeedsApproval"] == "false"
    assert params(rendered, "dev", "shop-cart-service")["NeedsApproval"] == "false"
    assert params(rendered, "prod", "shop-payments-service")["TrafficControl"] == \
        "WITH_TRAFFIC_CONTROL"
    assert cart["TrafficControl"] == "WITHOUT_TRAFFIC_CONTROL"


def test_approval_stage_is_conditional(rendered: Rendered) -> None:
    res = component_doc(rendered, "cart-service")["Resources"]
    stages = res["Pipeline"]["Properties"]["Stages"]
    approval = stages[2]["Fn::If"]
    assert approval[0] == "Approve" and approval[2] == ref("AWS::NoValue")
    assert approval[1]["Actions"][0]["ActionTypeId"]["Provider"] == "Manual"


def _shape(doc: dict[str, Any], name: str) -> str:
    """A component template with its own values taken out."""
    doc = copy.deepcopy(doc)
    res = doc["Resources"]
    del res["BuildProject"]["Properties"]["Source"]["BuildSpec"]
    res["TargetGroup"]["Properties"]["Port"] = 0
    res["TargetGroup"]["Properties"]["HealthCheckPath"] = "/"
    for rule in res["InstanceSecurityGroup"]["Properties"]["SecurityGroupIngress"]:
        rule["FromPort"] = rule["ToPort"] = 0
    res["ListenerRule"]["Properties"]["Priority"] = 0
    res["Pipeline"]["Properties"]["Stages"][0]["Actions"][0]["Configuration"][
        "FullRepositoryId"] = "R"
    text = json.dumps(doc, sort_keys=True).replace(name, "NAME")
    return re.sub(r"\((jvm|flutter-web)\)", "(KIND)", text)


def test_component_templates_differ_only_in_their_own_values(manifest: Manifest,
                                                             rendered: Rendered) -> None:
    """So linting one of them (tests/integration/provision/test_validate.py) covers all."""
    shapes = {_shape(component_doc(rendered, c.name), c.name) for c in manifest.components}
    assert len(shapes) == 1


def test_user_data_writes_the_environment_a_hook_reads(rendered: Rendered,
                                                       tmp_path: Path) -> None:
    data = component_doc(rendered, "orders-service")["Resources"]["LaunchTemplate"][
        "Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    etc = tmp_path / "etc-hdhooks"
    script = data.replace("${Environment}", "prod").replace("/etc/hdhooks", str(etc))
    subprocess.run(["sh", "-c", script], check=True, timeout=30)
    assert (etc / "environment").read_text() == "prod\n"
    bundle = tmp_path / "bundle"
    (bundle / "deploy").mkdir(parents=True)
    (bundle / "deploy" / "hdhooks.yml").write_text(f"""\
component: orders-service
environment_from: {{tag_file: {etc / 'environment'}}}
service: {{command: [/bin/true], port: 8080}}
environments: {{dev: {{}}, staging: {{}}, prod: {{}}}}
""")
    config = load_config(bundle, deployment_group="shop-orders-service-prod")
    assert config.environment == "prod"
    assert "tag file" in config.environment_source


def test_render_command_writes_the_tree(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run([str(HDHOOKS), "provision", "render", str(MANIFEST), "--out-dir",
                             str(out), "-e", "prod"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "wrote 28 template(s) and 28 parameter file(s) for prod" in result.stderr
    assert (out / "templates" / "components" / "orders-service.yml").is_file()
    assert (out / "parameters" / "prod" / "eu-west-1" / "shop-shared.json").is_file()
    assert not (out / "parameters" / "dev").exists()


def test_render_follows_no_link_planted_in_the_output(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "templates").symlink_to(elsewhere)
    result = subprocess.run([str(HDHOOKS), "provision", "render", str(MANIFEST), "--out-dir",
                             str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "is a symbolic link" in result.stderr
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_an_output_folder_that_cannot_be_made_is_an_input_error(tmp_path: Path,
                                                                 where: str) -> None:
    (tmp_path / "a-file").write_text("x")
    result = subprocess.run([str(HDHOOKS), "provision", "render", str(MANIFEST), "--out-dir",
                             str(tmp_path / where)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "cannot make the output folder" in result.stderr


def test_without_the_tag_file_the_hook_says_where_the_environment_comes_from(
        tmp_path: Path) -> None:
    from hdhooks.errors import ConfigError

    bundle = tmp_path / "bundle"
    (bundle / "deploy").mkdir(parents=True)
    (bundle / "deploy" / "hdhooks.yml").write_text(f"""\
component: orders-service
environment_from: {{tag_file: {tmp_path / 'missing'}}}
service: {{command: [/bin/true], port: 8080}}
environments: {{dev: {{}}, prod: {{}}}}
""")
    with pytest.raises(ConfigError) as caught:
        load_config(bundle, deployment_group="shop-orders-service-prod")
    assert "launch template of `hdhooks provision`" in caught.value.one_line()


def test_role_moves_traffic_only_when_hdhooks_controls_it(rendered: Rendered) -> None:
    res = component_doc(rendered, "payments-service")["Resources"]
    statements = res["InstanceRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    conditional = {s["Fn::If"][1]["Sid"]: s["Fn::If"] for s in statements if "Fn::If" in s}
    assert set(conditional) == {"Traffic", "Standby"}
    assert all(c[0] == "HdhooksTraffic" and c[2] == ref("AWS::NoValue")
               for c in conditional.values())
    condition = component_doc(rendered, "payments-service")["Conditions"]["HdhooksTraffic"]
    assert condition == {"Fn::Equals": [ref("TrafficControl"), "WITHOUT_TRAFFIC_CONTROL"]}
    assert "elasticloadbalancing:RegisterTargets" in conditional["Traffic"][1]["Action"]
