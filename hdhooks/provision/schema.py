"""The keys of the provisioning part of the manifest, their types and defaults.

Three levels share :data:`FLEET` (the parameter hierarchy): ``parameters``
at the top (global), ``accounts.ENV.parameters`` (environment) and a
component's ``provision`` mapping with its ``environments.ENV`` overlay; the
most specific value wins. docs/provision.md documents the same keys.
"""

from __future__ import annotations

import re
from typing import Any

from hdhooks.yamlsrc.checks import (
    Field,
    Section,
    boolean,
    choice,
    integer,
    section,
    seq_of,
    string,
    value_error,
)
from hdhooks.yamlsrc.node import YNode
from hdhooks.yamlsrc.problems import Problem

NAME_RE = r"[a-z][a-z0-9-]{0,39}"
PLATFORM_RE = r"[a-z][a-z0-9]{0,11}"
ENV_RE = r"[a-z][a-z0-9]{0,9}"
REGION_RE = r"[a-z]{2}(-gov)?-[a-z]+-\d"
PARTITION = r"arn:aws(-cn|-us-gov)?"
CONFIGS = ("OneAtATime", "HalfAtATime", "AllAtOnce")
TRAFFIC = ("hdhooks", "codedeploy")
#: The git-flow branch of the usual environment names.
BRANCHES = {"dev": "develop", "staging": "release/*", "prod": "main"}


def deployment_config() -> Any:
    """OneAtATime, HalfAtATime, AllAtOnce, or "25%": the share of hosts deployed at once."""

    def check(node: YNode, problems: list[Problem]) -> Any:
        text = node.text() if node.is_scalar and not node.is_null else ""
        if text in CONFIGS:
            return text
        match = re.fullmatch(r"(\d{1,2})%", text)
        if match and 0 < int(match.group(1)) < 100:
            return text
        return value_error(node, f"'{node.path}' must be OneAtATime, HalfAtATime, AllAtOnce "
                                 f"or a share of the fleet such as \"25%\" (1-99), not "
                                 f"'{text or node.kind_name()}'", problems)

    return check


ALARMS: Section = {
    "p99_latency_ms": Field(integer(10, 600_000), default=2000),
    "target_5xx": Field(integer(1, 1_000_000), default=10),
    "unhealthy_hosts": Field(integer(1, 1000), default=1),
    "hook_failures": Field(integer(1, 1000), default=1),
}

FLEET: Section = {
    "instance_type": Field(string(r"[a-z][a-z0-9-]*\.[a-z0-9]+",
                                  "must be an EC2 instance type such as t3.small"),
                           default="t3.small"),
    "min_size": Field(integer(0, 1000), default=1),
    "desired_capacity": Field(integer(0, 1000), default=2),
    "max_size": Field(integer(1, 1000), default=4),
    "deployment_config": Field(deployment_config(), default="OneAtATime"),
    "traffic": Field(choice(*TRAFFIC), default="hdhooks"),
    "approval": Field(boolean(), default=False),
    "build_compute": Field(choice("BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM",
                                  "BUILD_GENERAL1_LARGE"), default="BUILD_GENERAL1_MEDIUM"),
    "alarms": Field(section(ALARMS), default=dict),
}

#: Keys of a component's ``provision`` mapping besides the hierarchy's.
COMPONENT: Section = {
    "port": Field(integer(1, 65535)),
    "health_path": Field(string(r"/[A-Za-z0-9._~/-]*", "must be a path such as /health")),
    "repository": Field(string(r"[A-Za-z0-9._-]+/[A-Za-z0-9._-]+",
                               "must be WORKSPACE/REPOSITORY")),
    "priority": Field(integer(1, 50000)),
    "environments": Field(lambda node, problems: node),  # overlays, checked merged
}

PLATFORM: Section = {
    "name": Field(string(PLATFORM_RE, "must be 1-12 lower-case letters and digits, "
                                      "starting with a letter (it prefixes every stack)"),
                  required=True),
    "bitbucket_workspace": Field(string(r"[A-Za-z0-9._-]+", "must be a Bitbucket workspace "
                                        "name"), required=True),
    "build_image": Field(string(r"[A-Za-z0-9./:_-]+", "must be a CodeBuild image"),
                         default="aws/codebuild/amazonlinux-x86_64-standard:5.0"),
}

REGION: Section = {
    "vpc_id": Field(string(r"vpc-[0-9a-f]{8,17}", "must be a VPC id (vpc-...)"),
                    required=True),
    "subnet_ids": Field(seq_of(string(r"subnet-[0-9a-f]{8,17}", "must be a subnet id"),
                               min_items=2), required=True),
    "certificate_arn": Field(string(PARTITION + r":acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+",
                                    "must be an ACM certificate ARN"), required=True),
    "connection_arn": Field(string(
        PARTITION + r":(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:"
        r"connection/[\w-]+", "must be a CodeConnections connection ARN"), required=True),
    "ami_id": Field(string(r"ami-[0-9a-f]{8,17}", "must be an AMI id (ami-...)")),
    "ami_parameter": Field(string(r"/[A-Za-z0-9_./-]{1,1000}",
                                  "must be an SSM parameter name starting with /")),
}

ACCOUNT: Section = {
    "account_id": Field(string(r"\d{12}", "must be the 12-digit account id, quoted"),
                        required=True),
    "branch": Field(string(r"[A-Za-z0-9._/*-]+", "must be a git branch or a glob such as "
                                                 "release/*")),
    "source_branch": Field(string(r"[A-Za-z0-9._/-]+", "must be a git branch")),
    "domain": Field(string(r"([a-z0-9-]+\.)+[a-z]{2,}", "must be a DNS domain"),
                    required=True),
    "hosted_zone_id": Field(string(r"[A-Z0-9]{5,32}", "must be a Route 53 hosted zone id"),
                            required=True),
    "parameters": Field(lambda node, problems: node),  # a hierarchy level, checked merged
    "regions": Field(lambda node, problems: node, required=True),
}
