"""``hdhooks iam-policy`` grants every AWS action the instance code calls.

The calls are found in the source, not listed by hand: every client made
with ``client("SERVICE")`` under hdhooks/aws and hdhooks/instance, and every
operation of that service (from botocore's own model) whose method or
paginator name appears there. A new call the policy lacks fails this test.
"""

from __future__ import annotations

import re
from pathlib import Path

import botocore.session
from botocore import xform_name

from hdhooks.aws.policy import build_policy, policy_actions
from hdhooks.aws.probe import DIAGNOSTIC_ACTIONS
from hdhooks.aws.session import iam_action
from hdhooks.config.model import (
    ComponentConfig,
    HooksConfig,
    MetricsConfig,
    PreflightConfig,
    ReleasesConfig,
    SecretRef,
    ServiceConfig,
    SsmConfig,
    TrafficConfig,
)

PACKAGE = Path(__file__).resolve().parents[3] / "hdhooks"
#: What runs on the instance (the role's calls); build and provisioning run elsewhere.
INSTANCE_CODE = ("aws", "instance")
#: Services the instance role never needs a permission for.
NOT_ON_THE_ROLE = {"sts"}  # GetCallerIdentity needs no permission


def source() -> str:
    return "\n".join(p.read_text() for part in INSTANCE_CODE
                     for p in sorted((PACKAGE / part).rglob("*.py")))


def called_actions() -> set[str]:
    text = source()
    services = set(re.findall(r"""client\(\s*["']([a-z0-9-]+)["']""", text)) - NOT_ON_THE_ROLE
    labelled = set(re.findall(r"""aws_call\(\s*["']([a-z0-9-]+)["'],\s*["'](\w+)["']""", text))
    loader = botocore.session.get_session()
    found = {iam_action(s, op) for s, op in labelled if s not in NOT_ON_THE_ROLE}
    for service in services:
        for operation in loader.get_service_model(service).operation_names:
            name = xform_name(operation)
            if re.search(rf"""\.{name}\(|get_paginator\(\s*["']{name}["']""", text):
                found.add(iam_action(service, operation))
    return found


def everything() -> ComponentConfig:
    """A config that uses every feature that needs a permission."""
    return ComponentConfig(
        component="api", environment="prod", environment_source="test", path="x",
        bundle_dir="/b", service=ServiceConfig(name="api"),
        releases=ReleasesConfig(base_dir="/opt/api"), health=None,
        preflight=PreflightConfig(), templates=(), values={},
        ssm=SsmConfig(paths=("/api",), parameters={"x": "/x"}),
        secrets=(SecretRef("s", "s"),), traffic=TrafficConfig(mode="hdhooks"),
        hooks=HooksConfig(), metrics=MetricsConfig(put_metric_data=True))


def test_the_scan_finds_the_calls_it_should() -> None:
    actions = called_actions()
    assert {"ssm:GetParametersByPath", "ssm:GetParameter", "secretsmanager:GetSecretValue",
            "autoscaling:EnterStandby", "elasticloadbalancing:DeregisterTargets",
            "cloudwatch:PutMetricData"} <= actions


def test_policy_grants_every_action_the_instance_code_calls() -> None:
    granted = policy_actions(build_policy([everything()]))
    missing = called_actions() - granted - DIAGNOSTIC_ACTIONS
    assert not missing, f"the code calls {sorted(missing)}; add them to hdhooks/aws/policy.py"


def test_policy_grants_nothing_the_code_does_not_call() -> None:
    granted = policy_actions(build_policy([everything()]))
    # kms:Decrypt is called by SSM and Secrets Manager on the role's behalf.
    unused = granted - called_actions() - {"kms:Decrypt"}
    assert not unused, f"the policy grants {sorted(unused)}, which no code calls"
