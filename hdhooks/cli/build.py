"""``hdhooks buildspec render|validate``: CodeBuild buildspecs for components."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hdhooks.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from hdhooks.build.render import Rendered


@click.group("buildspec")
def buildspec() -> None:
    """Render buildspecs from component settings; validate any buildspec."""


@buildspec.command("validate")
@click.argument("path", type=click.Path())
@click.option("--strict", is_flag=True, help="Warnings fail the check too (exit 1).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json prints only a JSON document on stdout.")
def validate(path: str, strict: bool, fmt: str) -> int:
    """Validate PATH: a buildspec file, or a folder holding buildspec.yml.

    \b
    Checks the buildspec 0.2 reference (keys, values, phases, reports,
    artifacts, cache, batch), the YAML traps (a command with ': ', an unquoted
    3.10, a glob starting with *, yes/no), and for bundles and SonarQube:
    appspec.yml at the artifact root, folders kept, an effective quality gate.

    \b
    Output: FILE:LINE:COL: error|warning: MESSAGE [yaml.path], one per line.
    Exit codes: 0 valid (warnings allowed unless --strict), 1 invalid,
    2 usage error (no such file, bad option).
    """
    from hdhooks.build.buildspec.validate import validate_file
    from hdhooks.cli._report import emit
    from hdhooks.fsread import check_regular

    if os.path.isdir(path):
        path = os.path.join(path, "buildspec.yml")
    check_regular(path, devices=True)

    report = validate_file(path)
    return emit([report], fmt=fmt, strict=strict, label=report.file)


@buildspec.command("render")
@click.argument("settings", type=click.Path())
@click.option("--component", "-c", "name", metavar="NAME",
              help="Render only this component of a manifest.")
@click.option("-o", "--output", metavar="FILE",
              help="Write the one buildspec to FILE (default: stdout).")
@click.option("--out-dir", metavar="DIR",
              help="Write every buildspec as DIR/<name>.buildspec.yml.")
@click.option("--check", is_flag=True,
              help="With --out-dir: write nothing, exit 1 if a file there is missing or "
                   "differs from what would be rendered.")
def render(settings: str, name: str | None, output: str | None, out_dir: str | None,
           check: bool) -> int:
    """Render the buildspec(s) described by SETTINGS.

    \b
    SETTINGS is one component's YAML (name, kind: maven|flutter, ...) or a
    manifest (defaults + components). Every rendered buildspec is validated
    before anything is written; an invalid one means nothing is written.

    \b
    Exit codes: 0 rendered; 1 a rendered buildspec is invalid or (--check)
    out of date; 2 bad settings or usage.
    """
    from hdhooks.build.render import render_components, select
    from hdhooks.build.settings import load_settings

    if output and out_dir:
        raise UsageError("give -o/--output or --out-dir, not both")
    if check and not out_dir:
        raise UsageError("--check needs --out-dir")
    from hdhooks.fsread import check_regular

    check_regular(settings, devices=True)
    components, report = load_settings(settings)
    for line in report.text_lines():  # only warnings reach this point
        sys.stderr.write(line + "\n")
    chosen = select(components, name)
    if len(chosen) > 1 and not out_dir:
        raise UsageError(f"{settings} holds {len(chosen)} components",
                         hint="give --out-dir DIR, or --component NAME for one")
    rendered = render_components(chosen, settings)
    if out_dir:
        return _to_dir(rendered, Path(out_dir), check)
    text = rendered[0].text
    if output and output != "-":
        from hdhooks.build.render import write_atomic

        write_atomic(Path(output), text)
        sys.stderr.write(f"hdhooks: wrote {output} (valid)\n")
    else:
        sys.stdout.write(text)
    return ExitCode.OK


def _to_dir(rendered: list[Rendered], out_dir: Path, check: bool) -> int:
    from hdhooks.build.render import stale_outputs, write_all

    if check:
        stale = stale_outputs(rendered, out_dir)
        for path in stale:
            sys.stderr.write(f"{path}: out of date; render again\n")
        return ExitCode.FAILED if stale else ExitCode.OK
    paths = write_all(rendered, out_dir)
    sys.stderr.write(f"hdhooks: wrote {len(paths)} buildspec(s) to {out_dir} (all valid)\n")
    return ExitCode.OK
