"""Instance operations: ``reconcile``, ``status`` and ``iam-policy``."""

from __future__ import annotations

import click


@click.command("iam-policy")
@click.option("--bundle", "bundles", multiple=True, type=click.Path(file_okay=False),
              help="A component bundle (repeat for a role shared by several); default: .")
@click.option("--environment", help="The environment's config only (default: every one).")
@click.option("--region", default="*", show_default=True,
              help="The region in the ARNs.")
@click.option("--asg", "asg_names", multiple=True, metavar="NAME",
              help="The Auto Scaling group(s), when known; default: any group tagged "
                   "hdhooks:component=<component>.")
@click.option("--application", help="The CodeDeploy application name, when known.")
@click.option("--kms-key", "kms_keys", multiple=True, metavar="ARN",
              help="The KMS key(s) of SecureStrings and secrets; default: the account's keys.")
def iam_policy(bundles: tuple[str, ...], environment: str | None, region: str,
               asg_names: tuple[str, ...], application: str | None,
               kms_keys: tuple[str, ...]) -> int:
    """Print the least-privilege IAM policy (JSON) of the instance role.

    \b
    Built from what the bundles' deploy/hdhooks.yml use: SSM paths and
    parameters, Secrets Manager secrets, kms:Decrypt through those services,
    and, when hdhooks controls traffic, the ELB and Auto Scaling actions on
    the component's groups. Exit 0 with the policy on stdout, 2 for a bad
    config.
    """
    import json

    from hdhooks.aws.policy import Scope, build_policy, bundle_configs

    configs = [c for bundle in (bundles or (".",)) for c in bundle_configs(bundle, environment)]
    scope = Scope(region=region, asg_names=asg_names, application=application,
                  kms_keys=kms_keys)
    click.echo(json.dumps(build_policy(configs, scope), indent=2))
    return 0
