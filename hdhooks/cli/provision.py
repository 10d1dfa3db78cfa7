"""``hdhooks provision render|validate|deploy``: CloudFormation from the manifest."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from hdhooks.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from hdhooks.provision.manifest import Manifest


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _manifest(path: str) -> Manifest:
    from hdhooks.fsread import check_regular
    from hdhooks.provision.manifest import load_manifest

    check_regular(path, devices=True)
    return load_manifest(path)


@click.group("provision")
def provision() -> None:
    """Pipelines, builds, deployment groups and fleets as CloudFormation."""


@provision.command("render")
@click.argument("manifest", type=click.Path())
@click.option("--environment", "-e", "environments", multiple=True, metavar="ENV",
              help="Write parameter files for this environment only (repeatable).")
@click.option("--out-dir", required=True, metavar="DIR",
              help="Write templates/, parameters/ and stacks.json under DIR.")
def render(manifest: str, environments: tuple[str, ...], out_dir: str) -> int:
    """Render the CloudFormation of every component in MANIFEST.

    \b
    DIR/templates/shared.yml, components/NAME.yml, dashboard.yml: the same
    for every account. DIR/parameters/ENV/REGION/STACK.json: one account's
    values. DIR/stacks.json: the stacks in deployment order.

    \b
    Exit codes: 0 rendered; 1 a template is over CloudFormation's limits;
    2 a bad manifest or usage.
    """
    from hdhooks.provision.render import render_manifest, write_rendered

    loaded = _manifest(manifest)
    rendered = render_manifest(loaded, environments)
    written = write_rendered(rendered, out_dir)
    templates = sum(1 for p in rendered.files if p.startswith("templates/"))
    _err(f"hdhooks: wrote {templates} template(s) and {len(written) - templates - 1} "
         f"parameter file(s) for {', '.join(rendered.environments)} to {out_dir}")
    return ExitCode.OK


@provision.command("validate")
@click.argument("directory", type=click.Path())
@click.option("--strict", is_flag=True, help="Warnings fail the check too (exit 1).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json prints only a JSON list on stdout.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Lint this many templates at once (cfn-lint holds one core each).")
def validate(directory: str, strict: bool, fmt: str, jobs: int) -> int:
    """Check every template in DIRECTORY with cfn-lint, and its parameter files.

    \b
    Output: FILE:LINE:COL: error|warning: MESSAGE (RULE) [yaml.path].
    Findings that are known cfn-lint schema lags are left out and counted
    (hdhooks/provision/lags.py says which and why).
    Exit codes: 0 valid, 1 invalid, 2 usage error (no such folder, no
    cfn-lint: pip install 'hdhooks[provision]').
    """
    from hdhooks.cli._report import emit
    from hdhooks.provision.validate import validate_dir

    reports = validate_dir(directory, jobs)
    return emit(reports, fmt=fmt, strict=strict, label=directory, json_list=True)


@provision.command("deploy")
@click.argument("manifest", type=click.Path())
@click.option("--environment", "-e", required=True, metavar="ENV",
              help="The environment (account) to deploy.")
@click.option("--region", metavar="REGION", help="Only this region of the environment.")
@click.option("--component", "-c", "components", multiple=True, metavar="NAME",
              help="Only these components (the shared and dashboard stacks always).")
@click.option("--dry-run", is_flag=True,
              help="Make each change set and show it, then remove it: nothing changes.")
def deploy(manifest: str, environment: str, region: str | None, components: tuple[str, ...],
           dry_run: bool) -> int:
    """Create or update ENV's stacks through change sets, in dependency order.

    \b
    Each change set's changes are shown, then executed while the stack's
    events stream. The first failed stack stops the run with its first
    failed resource's reason. AWS credentials must be the environment's
    account's (checked first).

    \b
    Exit codes: 0 deployed (or nothing to change); 1 a stack failed or
    rolled back; 2 bad manifest, usage or credentials for another account.
    """
    from hdhooks.provision.deploy import plan_deploy
    from hdhooks.provision.executor import Deployer

    loaded = _manifest(manifest)
    if not loaded.accounts:
        raise UsageError(f"{manifest}: no accounts to deploy")
    plan = plan_deploy(loaded, environment, region=region, components=components)
    outcome = Deployer(_out, execute=not dry_run).run(plan)
    counts: dict[str, int] = {}
    for _, result in outcome.results:
        counts[result] = counts.get(result, 0) + 1
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    if counts.get("unchanged") == len(outcome.results):
        summary = f"no changes: all {len(outcome.results)} stacks are up to date"
    _err(f"hdhooks: {environment}: {summary}")
    return ExitCode.OK
