"""``hdhooks sonar gate``: fail the CodeBuild build when the quality gate fails."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import click

from hdhooks.errors import HdhooksError, InputError
from hdhooks.redact import register

if TYPE_CHECKING:
    from hdhooks.build.sonar.client import SonarClient
    from hdhooks.build.sonar.gate import ReportTask


MAX_TIMEOUT = 86400.0
MAX_INTERVAL = 3600.0


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """Refuse ``nan``, which every range check lets through."""
    if value != value:
        raise click.BadParameter("must be a number of seconds, not nan")
    return value


@click.group()
def sonar() -> None:
    """SonarQube quality gate for CodeBuild."""


@sonar.command()
@click.option("--report-task", "report_task", metavar="FILE",
              help="The scanner's report-task.txt (default: the newest of target/sonar/, "
              ".scannerwork/, build/sonar/ in --project-dir).")
@click.option("--project-dir", default=".", show_default=True, metavar="DIR",
              help="Where to look for report-task.txt.")
@click.option("--timeout", type=click.FloatRange(min=0, max=MAX_TIMEOUT), default=300.0,
              show_default=True, metavar="S", callback=_finite,
              help="Seconds to wait for the background task (at most a day).")
@click.option("--interval", type=click.FloatRange(min=0.01, max=MAX_INTERVAL), default=5.0,
              show_default=True, metavar="S", callback=_finite,
              help="Seconds between polls of the background task (at most an hour).")
@click.option("--host", metavar="URL", help="Server URL replacing the one in report-task.txt "
              "(default: $SONAR_HOST_URL when set).")
@click.option("--ca-bundle", metavar="PEM", help="CA certificates to trust "
              "(default: $REQUESTS_CA_BUNDLE, else the system's).")
@click.option("--auth", "auth_scheme", type=click.Choice(["basic", "bearer"]), default="basic",
              show_default=True, help="How $SONAR_TOKEN is sent (bearer needs SonarQube 10+).")
@click.option("--allow-warn", is_flag=True, help="Pass on WARN (older servers).")
@click.option("--allow-none", is_flag=True, help="Pass when no gate is attached (NONE).")
@click.option("--env-file", metavar="FILE", help="Also write QUALITY_GATE_STATUS=<status> here, "
              "for the buildspec to source and export.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def gate(
    report_task: str | None,
    project_dir: str,
    timeout: float,
    interval: float,
    host: str | None,
    ca_bundle: str | None,
    auth_scheme: str,
    allow_warn: bool,
    allow_none: bool,
    env_file: str | None,
    fmt: str,
) -> int:
    """Wait for the analysis, print the gate's conditions, exit 0 only if it passed.

    \b
    Exit codes: 0 gate OK (or WARN/NONE when allowed); 1 gate WARN, ERROR or
    NONE, background task FAILED or CANCELED, or --timeout reached; 2 bad
    input: report file, token (401/403), unknown task (404), host unreachable.
    The token comes from $SONAR_TOKEN.
    """
    from hdhooks.build.sonar import gate as lib

    try:
        report, client, host_url = _prepare(
            report_task, project_dir, host, ca_bundle, auth_scheme, env_file
        )
        result = lib.gate(
            report, client, host=host_url, timeout=timeout, interval=interval,
            policy=lib.GatePolicy(allow_warn=allow_warn, allow_none=allow_none),
            progress=lambda line: click.echo(f"hdhooks: {line}", err=True),
        )
    except HdhooksError:
        _publish(lib.STATUS_UNKNOWN, env_file, fmt)
        raise
    if fmt == "json":
        from hdhooks.build.sonar.table import to_json

        click.echo(json.dumps(to_json(result), indent=2))
    else:
        from hdhooks.build.sonar.table import text_lines

        click.echo("\n".join(text_lines(result)))
    _publish(result.status, env_file, fmt)
    return result.exit_code


def _prepare(
    report_task: str | None, project_dir: str, host: str | None, ca_bundle: str | None,
    auth_scheme: str, env_file: str | None,
) -> tuple[ReportTask, SonarClient, str]:
    """Read the report and build the client: every input checked before any request."""
    from hdhooks.build.sonar import gate as lib
    from hdhooks.build.sonar.client import SonarClient
    from hdhooks.build.sonar.table import check_status_file

    if env_file is not None:
        check_status_file(env_file)
    path = report_task or lib.find_report_task(project_dir)
    if not report_task:
        click.echo(f"hdhooks: reading {path}", err=True)
    report = lib.read_report_task(path)
    env_host = os.environ.get("SONAR_HOST_URL", "").strip()
    host_url = ""
    if host:
        host_url = lib.normalise_host(host, "--host")
    elif env_host:
        host_url = lib.normalise_host(env_host, "SONAR_HOST_URL")
    if ca_bundle:
        _check_ca_bundle(ca_bundle)
    token = os.environ.get("SONAR_TOKEN", "").strip()
    register(token)  # whatever the server echoes, the token is never printed
    client = SonarClient(
        token=token,
        auth_scheme=auth_scheme,
        ca_bundle=ca_bundle or "",
    )
    return report, client, host_url


def _check_ca_bundle(path: str) -> None:
    """--ca-bundle must be a readable regular PEM file (not a FIFO or a directory)."""
    from hdhooks.fsread import read_regular

    if not os.path.exists(path):
        raise InputError(f"--ca-bundle {path}: file not found")
    try:
        data = read_regular(path, limit=16 * 1024 * 1024)
    except OSError as exc:
        raise InputError(f"--ca-bundle {path}: cannot read: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise InputError(f"--ca-bundle {path}: no PEM certificate in the file",
                         hint="pass the CA certificate(s) in PEM form")


def _publish(status: str, env_file: str | None, fmt: str) -> None:
    """Hand QUALITY_GATE_STATUS to the buildspec: a stdout line and the env file."""
    from hdhooks.build.sonar.table import status_line, write_status_file

    click.echo(status_line(status), err=fmt == "json")
    if env_file:
        write_status_file(env_file, status)
