"""Reading a revision's appspec file, with problems reported file:line:col."""

from __future__ import annotations

from dataclasses import dataclass

from hdhooks.appspec.model import AppSpec
from hdhooks.errors import InputError
from hdhooks.yamlsrc.problems import Problem


class AppspecInvalid(InputError):
    """The appspec has errors: the first is the message, the others are details."""

    def __init__(self, file: str, errors: list[Problem]) -> None:
        first = errors[0]
        where = f"{file}:{first.line}:{first.column or 1}" if first.line else file
        suffix = f" [{first.path}]" if first.path else ""
        super().__init__(first.message + suffix, location=where)
        self.others = [p.format(file) for p in errors[1:]]

    def details(self) -> list[str]:
        return self.others


@dataclass(frozen=True)
class LoadedSpec:
    spec: AppSpec
    path: str  # the file read
    warnings: list[str]


def load(directory: str, filename: str | None = None) -> LoadedSpec:
    """The appspec of an unpacked revision; AppspecInvalid when it has errors."""
    from hdhooks.appspec import read as appspec
    from hdhooks.yamlsrc.loader import read_file

    path = appspec.find_appspec(directory, filename)
    spec, report = appspec.parse(read_file(path), path)
    if spec is None or report.errors:
        errors = [p for p in report.sorted() if p.is_error]
        if not errors:  # no model and no error: treat as the agent would, as invalid
            raise InputError(f"{path}: the appspec file could not be read")
        raise AppspecInvalid(path, errors)
    warnings = [p.format(path) for p in report.sorted() if not p.is_error]
    return LoadedSpec(spec, path, warnings)
