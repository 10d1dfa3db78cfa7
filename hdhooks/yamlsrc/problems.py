"""Problems found in a file, and the two ways they are reported.

Shared by every validator (appspec, buildspec, component config, lint): one
line per problem as ``FILE:LINE:COL: error|warning: MESSAGE [yaml.path]``, or a
JSON document ``{"file", "valid", "problems": [...]}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding. ``line``/``column`` are 1-based; 0 means unknown."""

    severity: str
    message: str
    code: str
    line: int = 0
    column: int = 0
    path: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def format(self, file: str) -> str:
        where = file
        if self.line:
            where = f"{file}:{self.line}:{self.column or 1}"
        suffix = f" [{self.path}]" if self.path else ""
        return f"{where}: {self.severity}: {self.message}{suffix}"

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "line": self.line or None,
            "column": self.column or None,
            "path": self.path,
            "message": self.message,
            "code": self.code,
        }


@dataclass
class Report:
    """Every problem found in one file, in file order."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # informational, stderr only

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def sorted(self) -> list[Problem]:
        """Problems in file order; position-less ones (empty file) first."""
        return sorted(self.problems, key=lambda p: (p.line, p.column))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    def valid(self, strict: bool = False) -> bool:
        """No errors (and, when strict, no warnings either)."""
        return not (self.errors or (strict and self.warnings))

    def text_lines(self) -> list[str]:
        return [p.format(self.file) for p in self.sorted()]

    def to_json(self, strict: bool = False) -> str:
        doc = {
            "file": self.file,
            "valid": self.valid(strict),
            "problems": [p.as_dict() for p in self.sorted()],
        }
        return json.dumps(doc, indent=2)
