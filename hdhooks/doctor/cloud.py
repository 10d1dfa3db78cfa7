"""Checks that ask AWS: region, credentials, metadata options, Standby, IAM, traffic.

Run on an instance only (a bake has no instance profile worth judging).
Facts found by earlier checks (instance id, region, the caller's ARN) come
through the context; a check whose prerequisite failed is skipped, so one
root cause gives one fail, not ten.
"""

from __future__ import annotations

from hdhooks.doctor.model import FAIL, OK, SKIP, WARN, Context, Finding
from hdhooks.errors import HdhooksError

ROLE_FIX = ("attach an instance profile whose role the deployments need (hdhooks iam-policy "
            "prints the policy)")


def check_region(ctx: Context) -> list[Finding]:
    """The region hdhooks would use: AWS_REGION / AWS_DEFAULT_REGION, then IMDS."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if ctx.environ.get(name):
            ctx.facts["region"] = ctx.environ[name]
            return [Finding("region", OK, f"{ctx.environ[name]} (from {name})")]
    if ctx.facts.get("imds_region"):
        ctx.facts["region"] = ctx.facts["imds_region"]
        return [Finding("region", OK, f"{ctx.facts['region']} (from instance metadata)")]
    return [Finding("region", FAIL, "no region: AWS_REGION is unset and instance metadata "
                    "gave none", "set AWS_REGION in /etc/environment, or fix IMDS (above)")]


def check_identity(ctx: Context) -> list[Finding]:
    """Instance-profile credentials work: STS GetCallerIdentity names the account."""
    from hdhooks.aws.probe import caller_identity

    if "region" not in ctx.facts:
        return [Finding("credentials", SKIP, "no region")]
    try:
        identity = caller_identity(ctx.facts["region"])
    except HdhooksError as exc:
        return [Finding("credentials", FAIL, exc.one_line(), ROLE_FIX)]
    ctx.facts["arn"] = identity["Arn"]
    return [Finding("credentials", OK, f"account {identity['Account']} as {identity['Arn']}")]


def check_metadata_options(ctx: Context) -> list[Finding]:
    """DescribeInstances MetadataOptions: tokens required, endpoint on, the hop limit."""
    from hdhooks.aws.probe import metadata_options

    instance = ctx.facts.get("instance_id")
    if not instance or "arn" not in ctx.facts:
        return [Finding("metadata options", SKIP, "no instance id or no credentials")]
    try:
        options = metadata_options(instance, ctx.facts["region"])
    except HdhooksError as exc:
        return [Finding("metadata options", WARN, exc.one_line(),
                        "allow ec2:DescribeInstances to let doctor read them")]
    return [metadata_verdict(instance, options)]


def metadata_verdict(instance: str, options: dict[str, object]) -> Finding:
    """ok / warn / fail for an instance's MetadataOptions: pure, table-tested."""
    tokens = str(options.get("HttpTokens") or "unknown")
    hops = options.get("HttpPutResponseHopLimit")
    detail = f"{instance}: HttpTokens={tokens}, hop limit {hops}"
    if options.get("HttpEndpoint") == "disabled":
        return Finding("metadata options", FAIL, f"{instance}: the metadata endpoint is "
                       "disabled", f"aws ec2 modify-instance-metadata-options --instance-id "
                       f"{instance} --http-endpoint enabled --http-tokens required")
    if tokens != "required":
        return Finding("metadata options", WARN, detail, "aws ec2 modify-instance-metadata-"
                       f"options --instance-id {instance} --http-tokens required")
    if isinstance(hops, int) and hops < 2:
        return Finding("metadata options", OK, f"{detail} (containers on the instance "
                       "cannot reach IMDS; 2 lets them)")
    return Finding("metadata options", OK, detail)


def check_standby(ctx: Context) -> list[Finding]:
    """The instance is not left in Standby by an interrupted deployment."""
    from hdhooks.aws.probe import lifecycle_state

    instance = ctx.facts.get("instance_id")
    if not instance or "arn" not in ctx.facts:
        return [Finding("standby", SKIP, "no instance id or no credentials")]
    try:
        state = lifecycle_state(instance, ctx.facts["region"])
    except HdhooksError as exc:
        return [Finding("standby", WARN, exc.one_line(),
                        "allow autoscaling:DescribeAutoScalingInstances")]
    if state is None:
        return [Finding("standby", OK, "not in an Auto Scaling group")]
    if state.startswith("Standby"):
        return [Finding("standby", FAIL, f"{instance} is {state}: it takes no traffic",
                        "aws autoscaling exit-standby --instance-ids "
                        f"{instance} --auto-scaling-group-name GROUP, once the deployment "
                        "on it is sound")]
    return [Finding("standby", OK, f"lifecycle state {state}")]
