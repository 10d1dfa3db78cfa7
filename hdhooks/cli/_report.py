"""Printing validation reports: the same output for every validating command.

stdout holds the problems (or only the JSON document with ``--format
json``); stderr gets notes and a one-line summary, so scripts can parse
stdout and people still see the verdict.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from hdhooks.errors import ExitCode
from hdhooks.yamlsrc.problems import Report


def emit(reports: Sequence[Report], *, fmt: str, strict: bool, label: str,
         json_list: bool = False) -> int:
    """Print ``reports``; exit 0 when all are valid, 1 otherwise.

    ``label`` names what was checked in the summary line; ``json_list``
    prints a JSON list of documents (one per file) instead of one document.
    """
    valid = all(report.valid(strict) for report in reports)
    for report in reports:
        for note in report.notes:
            sys.stderr.write(f"{note}\n")
    if fmt == "json":
        docs = [json.loads(report.to_json(strict)) for report in reports]
        sys.stdout.write(json.dumps(docs if json_list else docs[0], indent=2) + "\n")
    else:
        for report in reports:
            for line in report.text_lines():
                sys.stdout.write(line + "\n")
        errors = sum(len(r.errors) for r in reports)
        warnings = sum(len(r.warnings) for r in reports)
        files = f", {_count(len(reports), 'file')} checked" if json_list else ""
        sys.stderr.write(f"{_summary(label, errors, warnings, valid)}{files}\n")
    return ExitCode.OK if valid else ExitCode.FAILED


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _summary(label: str, errors: int, warnings: int, valid: bool) -> str:
    parts = [_count(n, what) for n, what in ((errors, "error"), (warnings, "warning")) if n]
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{os.path.normpath(label)}: {'valid' if valid else 'invalid'}{detail}"
