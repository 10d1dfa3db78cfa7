"""``hdhooks appspec validate``: check an appspec the way the CodeDeploy agent reads it."""

from __future__ import annotations

import click


@click.group("appspec")
def appspec() -> None:
    """Validate appspec.yml files (CodeDeploy, EC2/on-premises, Linux)."""


@appspec.command("validate")
@click.argument("path", required=False, default=".", type=click.Path())
@click.option("--strict", is_flag=True, help="Warnings fail the check too (exit 1).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json prints only a JSON document on stdout.")
@click.option("-A", "--appspec-filename", "filename", default=None, metavar="NAME",
              help="Appspec file name inside a bundle directory (default: appspec.yml, "
                   "then appspec.yaml).")
def validate(path: str, strict: bool, fmt: str, filename: str | None) -> int:
    """Validate PATH: an appspec file, or a bundle directory (default: .).

    \b
    A directory also gets the bundle checks: hook scripts exist, are regular
    files without CRLF line endings, have a '#!' line and the execute bit, and
    every files source exists.

    \b
    Output: FILE:LINE:COL: error|warning: MESSAGE [yaml.path], one per line.
    Exit codes: 0 valid (warnings allowed unless --strict), 1 invalid,
    2 usage error (no such file, bad option).
    """
    import os

    from hdhooks.appspec.read import validate_path
    from hdhooks.cli._report import emit
    from hdhooks.fsread import check_regular, check_regular_in

    if os.path.isdir(path):
        names = [filename] if filename else ["appspec.yml", "appspec.yaml"]
        check_regular_in(path, names, devices=True)
    else:
        check_regular(path, devices=True)  # the reader bounds devices itself
    _, report = validate_path(path, strict=strict, filename=filename)
    return emit([report], fmt=fmt, strict=strict, label=report.file)
