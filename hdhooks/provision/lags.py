"""Where cfn-lint's schemas lag behind CloudFormation: the one list, with the reasons.

cfn-lint validates properties against the resource schemas it ships, which
trail the ones CloudFormation accepts by weeks to months. A finding listed
here is dropped by ``hdhooks provision validate`` (and counted in its
summary), so a template may use a property as soon as CloudFormation has it.
Remove an entry once the cfn-lint that ``hdhooks[provision]`` installs knows
the property: ``tests/integration/provision`` lints a template using each one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lag:
    rule: str  # cfn-lint rule id
    resource_type: str
    prop: str  # the property cfn-lint does not know
    reason: str


KNOWN_LAGS: tuple[Lag, ...] = (
    Lag("E3002", "AWS::CodeDeploy::DeploymentGroup", "Ec2DeploymentOptions",
        "CodeDeploy's EC2 deployment options of deployment groups; cfn-lint 1.58's schema "
        "has no such property and reports it as unexpected"),
)


def known_lag(rule: str, resource_type: str, path: list[object]) -> Lag | None:
    """The lag that explains a cfn-lint finding at ``path``, if any."""
    for lag in KNOWN_LAGS:
        if lag.rule == rule and lag.resource_type == resource_type and lag.prop in path:
            return lag
    return None
