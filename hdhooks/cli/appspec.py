"""``hdhooks appspec validate``: check an appspec the way the CodeDeploy agent reads it."""

from __future__ import annotations

import os
import sys

import click

from hdhooks.errors import ExitCode


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
    from hdhooks.appspec import validate_path

    _, report = validate_path(path, strict=strict, filename=filename)
    for note in report.notes:
        sys.stderr.write(f"{note}\n")
    valid = report.valid(strict)
    if fmt == "json":
        sys.stdout.write(report.to_json(strict) + "\n")
    else:
        for line in report.text_lines():
            sys.stdout.write(line + "\n")
        sys.stderr.write(_summary(report.file, len(report.errors), len(report.warnings),
                                  valid) + "\n")
    return ExitCode.OK if valid else ExitCode.FAILED


def _summary(file: str, errors: int, warnings: int, valid: bool) -> str:
    def count(n: int, what: str) -> str:
        return f"{n} {what}{'' if n == 1 else 's'}"

    parts = [count(n, what) for n, what in ((errors, "error"), (warnings, "warning")) if n]
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{os.path.normpath(file)}: {'valid' if valid else 'invalid'}{detail}"
