"""``hdhooks local deploy``: a whole CodeDeploy deployment on this machine."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from hdhooks.errors import ExitCode, HdhooksError, UsageError

if TYPE_CHECKING:
    from hdhooks.agent.plan import Options

TYPES = ("tgz", "tar", "zip", "directory")
BEHAVIORS = ("DISALLOW", "OVERWRITE", "RETAIN")


@click.group("local")
def local() -> None:
    """Run CodeDeploy deployments on this machine, as the CodeDeploy agent would."""


@local.command("deploy")
@click.option("-l", "--bundle-location", default=None, metavar="PATH",
              help="Directory, .tar, .tgz/.tar.gz or .zip (default: the current directory).")
@click.option("-t", "--type", "bundle_type", type=click.Choice(TYPES), default=None,
              help="Bundle type (default: guessed from the location).")
@click.option("-b", "--file-exists-behavior", default=None, metavar="BEHAVIOR",
              help="DISALLOW, OVERWRITE or RETAIN for files already at a destination "
                   "(default: the appspec's, else DISALLOW).")
@click.option("-g", "--deployment-group", "group_id",
              default="default-local-deployment-group", show_default=True,
              help="Deployment group id: the directory under the root.")
@click.option("-d", "--deployment-group-name", "group_name", default="LocalFleet",
              show_default=True, help="DEPLOYMENT_GROUP_NAME for the scripts.")
@click.option("-a", "--application-name", default=None,
              help="APPLICATION_NAME for the scripts (default: the bundle location).")
@click.option("-e", "--events", default=None, metavar="E1,E2",
              help="Comma-separated events to run, in order (DownloadBundle and Install "
                   "are added when missing).")
@click.option("-A", "--appspec-filename", default=None, metavar="NAME",
              help="Appspec file name (default: appspec.yml, then appspec.yaml).")
@click.option("--root", default=None, metavar="DIR",
              help="Deployment root (default: /var/lib/hdhooks/deployment-root as root, "
                   "else ~/.local/share/hdhooks/deployment-root).")
@click.option("--max-revisions", type=click.IntRange(min=1), default=5, show_default=True,
              help="Deployment directories kept per group (the last successful always is).")
@click.option("--dry-run", is_flag=True,
              help="Print the plan (events, script sources, files, conflicts); change nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON report on stdout.")
def deploy(bundle_location: str | None, bundle_type: str | None,
           file_exists_behavior: str | None, group_id: str, group_name: str,
           application_name: str | None, events: str | None, appspec_filename: str | None,
           root: str | None, max_revisions: int, dry_run: bool, fmt: str) -> int:
    """Deploy a revision locally: DownloadBundle, Install and the hooks.

    \b
    Exit codes: 0 deployment succeeded, 1 deployment failed (a hook failed,
    files already exist, the group is busy), 2 bad input (bad appspec with
    file:line:col, missing bundle, bad option), 130 interrupted.
    """
    try:
        options = _options(bundle_location, bundle_type, file_exists_behavior, group_id,
                           group_name, application_name, events, appspec_filename, root,
                           max_revisions)
        if dry_run:
            return _dry_run(options, fmt)
        return _deploy(options, fmt)
    except (HdhooksError, KeyboardInterrupt) as exc:
        if fmt == "json":  # stdout stays one JSON document, whatever happened
            _json_error(exc)
        raise


def _json_error(exc: HdhooksError | KeyboardInterrupt) -> None:
    """The report's shape for a deployment that stopped before it had a report."""
    import json

    if isinstance(exc, HdhooksError):
        code, message, details = int(exc.exit_code), exc.one_line(), exc.details()
    else:
        code, message, details = int(ExitCode.INTERRUPTED), "interrupted", []
    doc = {"status": "failed", "exit_code": code, "events": [],
           "error": {"message": message, "details": details, "result_code": None,
                     "script": None, "output_tail": []}}
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


def _deploy(options: Options, fmt: str) -> int:
    from hdhooks.agent import report as rep
    from hdhooks.agent.ids import new_deployment_id
    from hdhooks.agent.layout import Layout, scripts_log
    from hdhooks.agent.runner import deploy as run_deploy

    deployment_id = new_deployment_id()
    folder = Layout(options.root, options.group_id).deployment_dir(deployment_id)
    width = 18

    def echo(rec: rep.EventRecord) -> None:
        if fmt == "text":
            sys.stdout.write(rep.event_line(rec, width) + "\n")
            sys.stdout.flush()

    if fmt == "json":
        result = run_deploy(options, echo, deployment_id)
        sys.stdout.write(result.to_json() + "\n")
        return result.exit_code
    # codedeploy-local's own lines, for scripts that read its output
    sys.stdout.write(f"Starting to execute deployment from within folder {folder}\n")
    sys.stdout.flush()
    try:
        result = run_deploy(options, echo, deployment_id)
        for w in result.warnings:
            sys.stderr.write(f"warning: {w}\n")
        if result.removed_deployments:
            sys.stdout.write(f"Removed {len(result.removed_deployments)} old deployment(s) "
                             f"beyond --max-revisions {options.max_revisions}\n")
        if result.ok:
            sys.stdout.write(f"Deployment {result.deployment_id} in {result.deployment_dir}\n"
                             "AppSpec file valid. Local deployment successful\n")
        for line in rep.failure_lines(result):
            sys.stderr.write(line + "\n")
        failed = result.failed_script()
        if failed is not None:
            sys.stdout.write("Your local deployment failed while trying to execute your "
                             f"script at {folder}/deployment-archive/{failed.location}\n")
    finally:
        sys.stdout.write(f"See the deployment log at {scripts_log(folder)} for more details\n")
    return result.exit_code


def _dry_run(options: Options, fmt: str) -> int:
    from hdhooks.agent import dryrun

    d = dryrun.dry_run(options)
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(d.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(dryrun.text_lines(d)) + "\n")
    return d.exit_code


def _options(bundle_location: str | None, bundle_type: str | None, behavior: str | None,
             group_id: str, group_name: str, application_name: str | None,
             events: str | None, appspec_filename: str | None, root: str | None,
             max_revisions: int) -> Options:
    from hdhooks.agent import bundle
    from hdhooks.agent import events as ev
    from hdhooks.agent.layout import check_group_id
    from hdhooks.agent.plan import Options
    from hdhooks.fsread import check_regular

    _refuse_empty(("--bundle-location", bundle_location))
    location = os.path.abspath(bundle_location or os.getcwd())
    if not os.path.isdir(location):
        check_regular(location, limit=sys.maxsize)  # an archive: never a FIFO or device
    kind = bundle.resolve_type(location, bundle_type)
    if behavior is not None and behavior.upper() not in BEHAVIORS:
        raise UsageError(f"invalid --file-exists-behavior '{behavior}'",
                         hint="use DISALLOW, OVERWRITE or RETAIN")
    requested = ev.parse_events(events)
    ev.check_order(requested, events or "")
    if kind == "directory":
        from hdhooks.appspec.read import find_appspec

        find_appspec(location, appspec_filename)
    return Options(
        bundle=location, bundle_type=kind,
        root=bundle.root_option(root),
        group_id=check_group_id(group_id), group_name=group_name,
        application_name=application_name or location,
        requested_events=tuple(requested),
        file_exists_behavior=behavior.upper() if behavior else None,
        appspec_filename=appspec_filename, max_revisions=max_revisions,
    )


def _refuse_empty(*options: tuple[str, str | None]) -> None:
    """``--root ''`` must not mean "the default root": a typo would deploy there."""
    for flag, value in options:
        if value is not None and not value.strip():
            raise UsageError(f"{flag} is empty",
                             hint=f"give a path, or leave {flag} out for the default")
