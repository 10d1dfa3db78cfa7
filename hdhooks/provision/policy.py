"""The instance role's permissions: what hdhooks' hooks call on an instance.

``hdhooks iam-policy`` derives the policy from a component's deploy/hdhooks.yml,
which the manifest does not hold; until the manifest names each component's
config, the role is rendered from this list, which covers what the
hooks do with the defaults: read the revision and decrypt it, load the
component's parameters and secrets, move the instance in and out of its target
group or Standby, read its own tags and write its logs. Resources are scoped to
the component wherever the service allows it.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        Statement("Traffic", ("elasticloadbalancing:RegisterTargets",
                              "elasticloadbalancing:DeregisterTargets"),
                  ("!Ref TargetGroup",), TRAFFIC),
        Statement("Standby", ("autoscaling:EnterStandby", "autoscaling:ExitStandby",
                              "autoscaling:ResumeProcesses", "autoscaling:SetInstanceHealth",
                              "autoscaling:CompleteLifecycleAction"),
                  (f'!Sub "{arn}:autoscaling:{where}:autoScalingGroup:*:'
                   f'autoScalingGroupName/{platform}-{component}"',), TRAFFIC),
        # Describe calls cannot be scoped to a resource.
        Statement("Deployment", ("codedeploy:GetDeployment", "codedeploy:GetDeploymentGroup"),
                  (f'!Sub "{arn}:codedeploy:{where}:deploymentgroup:{platform}-{component}/*"',
                   f'!Sub "{arn}:codedeploy:{where}:application:{platform}-{component}"')),
        # Describe calls cannot be scoped to a resource.
        Statement("Describe", ("elasticloadbalancing:DescribeTargetHealth",
                               "elasticloadbalancing:DescribeTargetGroups",
                               "elasticloadbalancing:DescribeTargetGroupAttributes",
                               "autoscaling:DescribeAutoScalingInstances",
                               "autoscaling:DescribeAutoScalingGroups",
                               "autoscaling:DescribeScalingActivities",
                               "autoscaling:DescribeTrafficSources",
                               "ec2:DescribeTags"), ('"*"',)),
        Statement("Logs", ("logs:CreateLogStream", "logs:PutLogEvents",
                           "logs:DescribeLogStreams"),
                  (f'!Sub "{arn}:logs:{where}:log-group:/{platform}/*"',)),
    ]
