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


@click.command()
@click.option("--component", help="Only this component's journal entries.")
@click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one object on stdout, progress on stderr.")
def reconcile(component: str | None, dry_run: bool, fmt: str) -> int:
    """Make this instance whole after a failed or abandoned deployment.

    \b
    For each traffic move a finished deployment left open in the journal
    (Standby, deregistered targets): start the current release's service if
    it is not running and check its health; healthy: undo the moves and wait
    until the target groups see it healthy; not healthy: give the capacity
    back (ExitStandby) and mark the instance Unhealthy so its Auto Scaling
    group replaces it. A deployment still running is left alone.
    Exit 0 when the instance is whole (or there was nothing to do), 1 when
    something could not be restored.
    """
    import json
    import sys

    from hdhooks.instance.context import state_dir
    from hdhooks.instance.reconcile import format_report
    from hdhooks.instance.reconcile import reconcile as run

    progress = sys.stderr if fmt == "json" else sys.stdout
    report = run(state_dir(), component=component, dry_run=dry_run, out=progress)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict()))
    else:
        format_report(report, click.echo)
    return report.exit_code


@click.command()
@click.option("--component", help="Only this component.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one object.")
def status(component: str | None, fmt: str) -> int:
    """Show each component's release, service, health and traffic state.

    \b
    Per component deployed here: the current release and build, the
    service's state, one local health probe, each target group's view of
    this instance and the Auto Scaling lifecycle state; then the traffic
    journal's open entries. Read-only. Exit 0.
    """
    import json

    from hdhooks.instance.context import state_dir
    from hdhooks.instance.status import format_text, instance_status

    doc = instance_status(state_dir(), component)
    if fmt == "json":
        click.echo(json.dumps(doc, default=str))
    else:
        for line in format_text(doc):
            click.echo(line)
    return 0
