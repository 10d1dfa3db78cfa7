"""What a check answers, and what every check is given.

A check is a plain function ``(Context) -> list[Finding]``: the context
carries the root directory (``/`` on an instance, a temp tree in tests),
whether this is a bake, and the environment, so checks never read global
state themselves and one check may report several findings (one per
component, one per endpoint).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"

#: The order a table lists statuses in a summary.
STATUSES = (OK, WARN, FAIL, SKIP)


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's table: what was checked, the verdict, the fix."""

    check: str
    status: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status, "detail": self.detail,
                "fix": self.fix}


@dataclass
class Context:
    """What a check may look at; ``root`` prefixes every absolute path it reads."""

    root: str = "/"
    bake: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    #: Facts a check found that a later one uses (instance id, region, account ARN).
    facts: dict[str, str] = field(default_factory=dict)

    def path(self, absolute: str) -> str:
        """``absolute`` inside the root (``/etc/x`` -> ``<root>/etc/x``)."""
        return os.path.join(self.root, absolute.lstrip("/"))


Check = Callable[[Context], list[Finding]]


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its function and whether it needs a running instance."""

    name: str
    run: Check
    instance_only: bool = False
