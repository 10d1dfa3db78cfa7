"""The instance role's permissions: what hdhooks' hooks call on an instance.

``hdhooks iam-policy`` derives the policy from a component's deploy/hdhooks.yml,
which the manifest does not hold, so the role is rendered from the same
action lists (:mod:`hdhooks.aws.policy`) scoped by the manifest's names. It
covers what the hooks do with the defaults: read the revision and decrypt it, load the
component's parameters and secrets, move the instance in and out of its target
group or Standby, read its own tags and write its logs. Resources are scoped to
the component wherever the service allows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hdhooks.aws.policy import ASG_ACTIONS, CODEDEPLOY_ACTIONS, DISCOVERY_ACTIONS, ELB_ACTIONS

SOURCE = "the actions hdhooks' hooks need (hdhooks.provision.policy)"
#: With CodeDeploy's traffic control the role needs no ELB or Auto Scaling changes.
TRAFFIC = "HdhooksTraffic"


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]  # CloudFormation YAML values, as rendered
    condition: str = ""  # the template condition the statement exists under


def _imported(name: str) -> str:
    return f'{{"Fn::ImportValue": !Sub "${{SharedStack}}-{name}"}}'


def instance_policy(platform: str, component: str) -> list[Statement]:
    """The statements of ``component``'s instance role."""
    scope = f"{platform}/{component}"
    arn = "arn:${AWS::Partition}"
    where = "${AWS::Region}:${AWS::AccountId}"
    return [
        Statement("Revision", ("s3:GetObject", "s3:GetObjectVersion"),
                  (f'!Sub ["${{Bucket}}/*", {{Bucket: {_imported("ArtifactBucketArn")}}}]',)),
        Statement("Key", ("kms:Decrypt",), (_imported("KeyArn"),)),
        Statement("Parameters", ("ssm:GetParameter", "ssm:GetParameters",
                                 "ssm:GetParametersByPath"),
                  (f'!Sub "{arn}:ssm:{where}:parameter/{scope}/*"',
                   f'!Sub "{arn}:ssm:{where}:parameter/{scope}"')),
        Statement("Secrets", ("secretsmanager:GetSecretValue",),
                  (f'!Sub "{arn}:secretsmanager:{where}:secret:{scope}/*"',)),
        Statement("Traffic", ELB_ACTIONS,
                  ("!Ref TargetGroup",), TRAFFIC),
        Statement("Standby", ASG_ACTIONS,
                  (f'!Sub "{arn}:autoscaling:{where}:autoScalingGroup:*:'
                   f'autoScalingGroupName/{platform}-{component}"',), TRAFFIC),
        Statement("Deployment", CODEDEPLOY_ACTIONS,
                  (f'!Sub "{arn}:codedeploy:{where}:deploymentgroup:{platform}-{component}/*"',
                   f'!Sub "{arn}:codedeploy:{where}:application:{platform}-{component}"')),
        # Describe calls cannot be scoped to a resource.
        Statement("Describe", DISCOVERY_ACTIONS, ('"*"',)),
        Statement("Logs", ("logs:CreateLogStream", "logs:PutLogEvents",
                           "logs:DescribeLogStreams"),
                  (f'!Sub "{arn}:logs:{where}:log-group:/{platform}/*"',)),
    ]
