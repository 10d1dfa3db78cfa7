"""The provisioning part of the manifest, as a table of inputs and expected problems."""

from __future__ import annotations

import pytest

from hdhooks.provision.deploy import change_lines, first_failure
from hdhooks.provision.manifest import parse_manifest
from hdhooks.provision.render import fleet_parameters

ACCOUNT = """\
    account_id: "{id}"
    domain: {env}.example.com
    hosted_zone_id: Z0ABCDEF12345
    regions:
      eu-west-1:
        vpc_id: vpc-0123456789abcdef0
        subnet_ids: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]
        certificate_arn: arn:aws:acm:eu-west-1:{id}:certificate/abc-123
        connection_arn: arn:aws:codeconnections:eu-west-1:{id}:connection/abc-123
        ami_parameter: /shop/ami
"""


def manifest(*, top: str = "", component: str = "", accounts: str = "") -> str:
    body = accounts or "accounts:\n  dev:\n" + ACCOUNT.format(id="111111111111", env="dev") + \
        "  prod:\n" + ACCOUNT.format(id="333333333333", env="prod")
    return f"""\
defaults:
  sonar: {{enabled: false}}
components:
  - name: api
    kind: maven
{component}\
platform: {{name: shop, bitbucket_workspace: team}}
{top}\
{body}"""


def problems(text: str) -> list[str]:
    _, report = parse_manifest(text, "m.yml")
    return report.text_lines()


def test_a_good_manifest_resolves_every_environment() -> None:
    found, report = parse_manifest(manifest(), "m.yml")
    assert report.errors == [] and found is not None
    api = found.components[0]
    assert set(api.fleets) == {"dev", "prod"}
    assert (api.port, api.health_path, api.priority) == (8080, "/health", 10)
    assert found.account("dev").branch == "develop"
    assert found.account("prod").branch == "main"


def test_hierarchy_global_environment_component_component_in_environment() -> None:
    text = manifest(
        top="parameters: {instance_type: t3.micro, max_size: 3, alarms: {target_5xx: 5}}\n",
        component="    provision:\n      max_size: 6\n      alarms: {hook_failures: 2}\n"
                  "      environments:\n        prod: {instance_type: m6i.large}\n",
        accounts="accounts:\n  dev:\n" + ACCOUNT.format(id="111111111111", env="dev")
        + "    parameters: {instance_type: t3.small, max_size: 5}\n"
        + "  prod:\n" + ACCOUNT.format(id="333333333333", env="prod"))
    found, report = parse_manifest(text, "m.yml")
    assert report.errors == [] and found is not None
    dev, prod = found.components[0].fleets["dev"], found.components[0].fleets["prod"]
    assert (dev.instance_type, dev.max_size) == ("t3.small", 6)
    assert (prod.instance_type, prod.max_size) == ("m6i.large", 6)
    assert (prod.alarms.target_5xx, prod.alarms.hook_failures) == (5, 2)  # merged key by key


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"component": "    provision: {min_size: 5, max_size: 2}\n"},
     "m.yml:6:16: error: component 'api' in dev: min_size 5 <= desired_capacity 2 <= max_size "
     "2 does not hold [components[0].provision]"),
    ({"component": "    provision: {deployment_config: Fast}\n"},
     "must be OneAtATime, HalfAtATime, AllAtOnce or a share of the fleet"),
    ({"component": "    provision: {deployment_config: \"100%\"}\n"}, "(1-99), not '100%'"),
    ({"component": "    provision: {traffic: alb}\n"},
     "m.yml:6:26: error: 'components[0].provision.traffic' must be one of hdhooks, "
     "codedeploy, not 'alb' [components[0].provision.traffic]"),
    ({"component": "    provision: {instance_typ: t3.small}\n"},
     "unknown key 'instance_typ' (did you mean 'instance_type'?)"),
    ({"component": "    provision: {port: 70000}\n"},
     "m.yml:6:23: error: 'components[0].provision.port' must be at most 65535, not 70000"),
    ({"component": "    provision: {health_path: \"health; rm -rf /\"}\n"},
     "must be a path such as /health"),
    ({"component": "    provision:\n      environments: {qa: {}}\n"},
     "'qa' is not an environment under accounts"),
    ({"top": "parameters: {approval: yes please}\n"}, "must be true or false"),
    ({"accounts": "accounts:\n  dev:\n" + ACCOUNT.format(id="111111111111", env="dev")
      + "  prod:\n" + ACCOUNT.format(id="111111111111", env="prod")},
     "environment 'prod' uses account 111111111111 of 'dev': each environment needs its "
     "own AWS account"),
    ({"accounts": "accounts:\n  qa:\n" + ACCOUNT.format(id="111111111111", env="qa")},
     "accounts.qa needs 'branch'"),
    ({"accounts": "accounts:\n  staging:\n" + ACCOUNT.format(id="111111111111", env="stg")},
     "branch 'release/*' is a glob; give source_branch"),
    ({"accounts": "accounts:\n  dev:\n"
      + ACCOUNT.format(id="1111", env="dev")}, "must be the 12-digit account id"),
    ({"accounts": "accounts:\n  dev:\n" + ACCOUNT.format(id="111111111111", env="dev")
      .replace("        ami_parameter: /shop/ami\n", "")},
     "region eu-west-1: give ami_id or ami_parameter"),
    ({"accounts": "accounts:\n  dev:\n" + ACCOUNT.format(id="111111111111", env="dev")
      .replace("eu-west-1:\n", "moon-base-1:\n")}, "'moon-base-1' is not an AWS region name"),
    ({"accounts": "accounts: []\n"}, "must be a mapping of environment names to accounts"),
    ({"accounts": "accounts:\n  Prod_1:\n    account_id: \"1\"\n"},
     "environment 'Prod_1' must be 1-10 lower-case letters and digits"),
])
def test_bad_manifests_name_the_place_and_the_fix(kwargs: dict[str, str], expected: str) -> None:
    lines = problems(manifest(**kwargs))
    assert any(expected in line for line in lines), lines


def test_a_bad_global_value_is_reported_once() -> None:
    lines = problems(manifest(top="parameters: {max_size: many}\n"))
    assert len([line for line in lines if "max_size" in line]) == 1


def test_missing_sections_are_named() -> None:
    text = "components:\n  - name: api\n    kind: maven\n    sonar: {enabled: false}\n"
    lines = problems(text)
    assert any("the manifest needs 'platform' to provision" in line for line in lines)
    assert any("the manifest needs 'accounts' to provision" in line for line in lines)


def test_duplicate_listener_priorities_are_refused() -> None:
    text = manifest(component="    provision: {priority: 7}\n").replace(
        "platform:", "  - name: web\n    kind: maven\n    provision: {priority: 7}\nplatform:")
    assert any("listener rule priority 7 of 'web' is already used by 'api'" in line
               for line in problems(text))


def test_fleet_percentage_becomes_minimum_healthy_hosts() -> None:
    found, _ = parse_manifest(manifest(component="    provision: {deployment_config: \"25%\"}\n"),
                              "m.yml")
    assert found is not None
    values = fleet_parameters(found.components[0].fleets["prod"])
    assert (values["DeploymentConfig"], values["MinimumHealthyPercent"]) == ("FleetPercent", "75")
    assert values["LatencyP99Seconds"] == "2"


def test_change_lines_mark_each_action() -> None:
    changes = [
        {"ResourceChange": {"Action": "Add", "ResourceType": "AWS::S3::Bucket",
                            "LogicalResourceId": "Bucket"}},
        {"ResourceChange": {"Action": "Modify", "ResourceType": "AWS::EC2::LaunchTemplate",
                            "LogicalResourceId": "LaunchTemplate", "Replacement": "False"}},
        {"ResourceChange": {"Action": "Modify", "ResourceType": "AWS::ElasticLoadBalancingV2::"
                            "TargetGroup", "LogicalResourceId": "TargetGroup",
                            "Replacement": "True"}},
        {"ResourceChange": {"Action": "Remove", "ResourceType": "AWS::SNS::Topic",
                            "LogicalResourceId": "Topic"}},
    ]
    assert change_lines(changes) == [
        "    + Add AWS::S3::Bucket Bucket",
        "    ~ Modify AWS::EC2::LaunchTemplate LaunchTemplate",
        "    ~ Modify AWS::ElasticLoadBalancingV2::TargetGroup TargetGroup (replaced)",
        "    - Remove AWS::SNS::Topic Topic",
    ]


def test_first_failure_skips_cancellations_and_folds_lines() -> None:
    events = [  # oldest first, as CloudFormation records a failed creation
        {"LogicalResourceId": "shop-api", "ResourceType": "AWS::CloudFormation::Stack",
         "ResourceStatus": "CREATE_IN_PROGRESS", "ResourceStatusReason": "User Initiated"},
        {"LogicalResourceId": "LogGroup", "ResourceType": "AWS::Logs::LogGroup",
         "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": "Resource creation cancelled"},
        {"LogicalResourceId": "AutoScalingGroup",
         "ResourceType": "AWS::AutoScaling::AutoScalingGroup", "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": "You must use a valid fully-formed launch template.\n"
                                 "The parameter groupId is invalid."},
        {"LogicalResourceId": "shop-api", "ResourceType": "AWS::CloudFormation::Stack",
         "ResourceStatus": "ROLLBACK_IN_PROGRESS",
         "ResourceStatusReason": "The following resource(s) failed to create: [...]"},
    ]
    assert first_failure(events) == (
        "AutoScalingGroup (AWS::AutoScaling::AutoScalingGroup) CREATE_FAILED: You must use a "
        "valid fully-formed launch template. The parameter groupId is invalid.")
    assert first_failure(events[:1] + events[3:]) == \
        "The following resource(s) failed to create: [...]"


def test_polling_grows_to_its_longest_and_stops_at_the_deadline() -> None:
    from hdhooks.errors import CheckFailed
    from hdhooks.provision.deploy import Polling
    from hdhooks.provision.executor import Deployer

    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    deployer = Deployer(lambda line: None, polling=Polling(first=1, factor=2, longest=4,
                                                           deadline=20),
                        clock=lambda: now[0], sleep=sleep)
    with pytest.raises(CheckFailed, match="shop-api: not settled after 20 s"):
        for _ in deployer.polls("shop-api"):
            pass
    assert slept == [1, 2, 4, 4, 4, 4]
