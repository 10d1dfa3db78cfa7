"""Is a hook script the hdhooks shim, or does it carry logic of its own?

CodeDeploy runs ApplicationStop (and the block-traffic events) from the
*previous* revision. Logic kept in a revision's scripts therefore outlives
the revision: a broken stop script blocks every later deployment until it is
fixed by hand, a known fault of hand-written hook scripts. The shim holds no logic; it only
hands the event to the installed hdhooks, which can be fixed on the instance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SHIM = "shim"  # only the exec of hdhooks (plus comments and `set` options)
MODIFIED = "modified"  # calls hdhooks but also does other things
OTHER = "other"  # does not call hdhooks at all
UNREADABLE = "unreadable"  # missing, not a regular file, not text

_EXEC_RE = re.compile(
    r"""exec\s+(?:"\$\{HDHOOKS:-hdhooks\}"|\$\{HDHOOKS:-hdhooks\}|"?[\w./-]*hdhooks"?)"""
    r"""\s+hook(?:\s.*)?"""
)
_SET_RE = re.compile(r"set\s+[-+][A-Za-z]+(?:\s+[-+][A-Za-z]+)*")
_CALLS_RE = re.compile(r"\bhdhooks\b|\$\{?HDHOOKS\b")
_READ_LIMIT = 1 << 16


@dataclass(frozen=True)
class ShimCheck:
    """What a script is; for MODIFIED, the first line that is not the shim's."""

    kind: str
    line: int = 0
    text: str = ""


def classify(text: str) -> ShimCheck:
    """Classify a hook script's text (see the module constants)."""
    lines = text.splitlines()
    commands = [
        (n, line.strip())
        for n, line in enumerate(lines, 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not any(_CALLS_RE.search(cmd) for _, cmd in commands):
        return ShimCheck(OTHER)
    for n, cmd in commands:
        if _SET_RE.fullmatch(cmd) or _EXEC_RE.fullmatch(cmd):
            continue  # an exec that is not last is caught by the line after it
        return ShimCheck(MODIFIED, n, cmd)
    last_n, last = commands[-1]
    if not _EXEC_RE.fullmatch(last):
        return ShimCheck(MODIFIED, last_n, last)
    return ShimCheck(SHIM)


def classify_file(path: str) -> ShimCheck:
    """Classify the script at ``path``; UNREADABLE when it cannot be read as text."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_READ_LIMIT)
        return classify(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError):
        return ShimCheck(UNREADABLE)
