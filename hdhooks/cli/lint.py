"""``hdhooks lint`` (check a bundle) and ``hdhooks init`` (scaffold one)."""

from __future__ import annotations

import os
import sys

import click

from hdhooks.errors import ExitCode

KIND_CHOICES = ["jvm", "flutter-web"]


@click.command("lint")
@click.argument("bundle", required=False, default=".", type=click.Path())
@click.option("--strict", is_flag=True, help="Warnings fail the check too (exit 1).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json prints only a JSON list on stdout.")
@click.option("-e", "--environment", default=None, metavar="NAME",
              help="Cross-check only this environment of deploy/hdhooks.yml (default: each).")
@click.option("--deployment-group", default=None, metavar="NAME",
              help="Choose the environment as a deployment to this group would.")
@click.option("--accounts", is_flag=True,
              help="Warn when service.user or service.group does not exist on this "
                   "machine (use it on an instance or an image like it).")
def lint(bundle: str, strict: bool, fmt: str, environment: str | None,
         deployment_group: str | None, accounts: bool) -> int:
    """Check BUNDLE (default: .): appspec, hook shims, deploy/hdhooks.yml, and both together.

    \b
    Beyond `hdhooks appspec validate` and the config checks, lint compares
    the two: hook timeouts long enough for the stop timeout and health
    deadline, the events that must run the hdhooks shim, hook scripts that
    are not the shim, runas users, and a files section writing into the
    directories hdhooks manages. Templates are rendered as AfterInstall
    would, for each environment, with placeholders for SSM and secret values.

    \b
    Output: FILE:LINE:COL: error|warning: MESSAGE [yaml.path], file by file.
    Exit codes: 0 valid (warnings allowed unless --strict), 1 invalid,
    2 usage error (no such directory, no appspec, unknown environment).
    """
    from hdhooks.cli._report import emit
    from hdhooks.lint.run import lint_bundle

    reports = lint_bundle(bundle, environment=environment, deployment_group=deployment_group,
                          accounts=accounts)
    return emit(reports, fmt=fmt, strict=strict, label=bundle, json_list=True)


@click.command("init")
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False))
@click.option("--kind", type=click.Choice(KIND_CHOICES), required=True,
              help="jvm: a java -jar service under systemd; flutter-web: a site served by nginx.")
@click.option("--name", required=True, metavar="NAME",
              help="The component name (lower-case letters, digits, '.', '_', '-').")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="The service's port (default: 8080 for jvm, 80 for flutter-web).")
@click.option("--force", is_flag=True, help="Replace files that already exist.")
def init(directory: str, kind: str, name: str, port: int | None, force: bool) -> int:
    """Scaffold DIRECTORY (default: .) for CodeDeploy with hdhooks.

    \b
    Writes appspec.yml, the nine hook shims in hooks/, and deploy/hdhooks.yml
    with the config templates it renders (jvm: deploy/templates/app.conf.j2;
    flutter-web: deploy/nginx-site.conf.j2). The result passes `hdhooks lint`.
    An existing file is never replaced without --force (exit 2, nothing written).
    """
    from hdhooks.lint import scaffold

    files = scaffold.plan(kind, name, port)
    written = scaffold.write(directory, files, force=force)
    for path in written:
        sys.stdout.write(f"created {os.path.normpath(path)}\n")
    sys.stderr.write(f"next: put the build output into {os.path.normpath(directory)} and "
                     f"run 'hdhooks lint {os.path.normpath(directory)}'\n")
    return ExitCode.OK
