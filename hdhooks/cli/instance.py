"""Instance commands: ``hook`` (what the shims call), ``rollback`` and ``restart``."""

from __future__ import annotations

import click


@click.command()
@click.argument("event", required=False)
@click.option(
    "--bundle",
    "bundle",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="The revision directory (the shims pass their own bundle).",
)
@click.option("--environment", help="Force the environment instead of choosing it.")
@click.option("--dry-run", is_flag=True, help="Print the event's steps; change nothing.")
def hook(event: str | None, bundle: str, environment: str | None, dry_run: bool) -> int:
    """Run lifecycle EVENT for the bundle (default: $LIFECYCLE_EVENT).

    \b
    The shims in hooks/ call this; it reads deploy/hdhooks.yml and runs:
      ApplicationStop   block traffic, stop the service gracefully
      BeforeInstall     preflight (disk, commands, ports), prune old releases
      AfterInstall      copy the revision to releases/<deployment-id>,
                        render config templates (SSM, Secrets Manager)
      ApplicationStart  switch `current` to the new release, start the service
      ValidateService   local health check, then allow traffic
    The traffic events have nothing to do unless traffic control is configured.
    The last line says OK or FAILED and why; one CloudWatch EMF line precedes it,
    and is also appended to $HDHOOKS_METRICS_FILE (default
    /var/log/hdhooks/metrics.log), which the CloudWatch agent ships as EMF.
    Exit 0 on success, 1 when a step fails, 2 for a bad config or usage.
    """
    from hdhooks.cli.boundary import run_hook_fast

    return run_hook_fast(event, bundle, environment, dry_run)


@click.command()
@click.argument("component", required=False)
@click.option("--base-dir", type=click.Path(file_okay=False),
              help="The component's releases.base_dir, when it is not recorded.")
@click.option("--to", "to", metavar="RELEASE",
              help="The release to go to (a directory under releases/); default: the "
                   "previous one.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--metrics", "show_metric", is_flag=True,
              help="Also print the CloudWatch EMF metric line (always appended to the "
                   "metrics file).")
def rollback(component: str | None, base_dir: str | None, to: str | None,
             dry_run: bool, show_metric: bool) -> int:
    """Go back to the previous release of COMPONENT: stop, switch, start, validate.

    COMPONENT may be left out when only one component was deployed on this
    machine. hdhooks finds it from what the last successful ApplicationStart
    recorded (under $HDHOOKS_STATE_DIR, default /var/lib/hdhooks).
    When the release rolled back to does not start or is not healthy, the
    release that was current is made current and started again.
    Exit 0 when the target release is running and healthy, 1 otherwise.
    """
    from hdhooks.instance.context import state_dir
    from hdhooks.instance.rollback import rollback as do_rollback

    return do_rollback(component, state_dir=state_dir(), base_dir=base_dir, to=to,
                       dry_run=dry_run, show_metric=show_metric)


@click.command()
@click.argument("component", required=False)
@click.option("--base-dir", type=click.Path(file_okay=False),
              help="The component's releases.base_dir, when it is not recorded.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--metrics", "show_metric", is_flag=True,
              help="Also print the CloudWatch EMF metric line (always appended to the "
                   "metrics file).")
def restart(component: str | None, base_dir: str | None, dry_run: bool,
            show_metric: bool) -> int:
    """Restart the current release of COMPONENT: stop, start, validate.

    For a deployment that failed after ApplicationStop (say in AfterInstall):
    `current` still names the previous release, but its service is stopped.
    COMPONENT may be left out when only one component was deployed here.
    Exit 0 when the release is running and healthy, 1 otherwise.
    """
    from hdhooks.instance.context import state_dir
    from hdhooks.instance.rollback import restart as do_restart

    return do_restart(component, state_dir=state_dir(), base_dir=base_dir, dry_run=dry_run,
                      show_metric=show_metric)
