"""Is a hook script the hdhooks shim, or does it carry logic of its own?

CodeDeploy runs ApplicationStop (and the block-traffic events) from the
*previous* revision. Logic kept in a revision's scripts therefore outlives
the revision: a broken stop script blocks every later deployment until it is
fixed by hand, a known fault of hand-written hook scripts. The shim holds no logic; it only
hands the event to the installed hdhooks, which can be fixed on the instance.

The shipped shim first finds hdhooks (``$HDHOOKS``, then PATH, then the AMI's
``/opt/hdhooks/venv/bin/hdhooks``) and says in one line how to install it when
there is none; those lines, exactly as shipped, are part of the shim too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SHIM = "shim"  # only the exec of hdhooks (plus comments and `set` options)
MODIFIED = "modified"  # calls hdhooks but also does other things
OTHER = "other"  # does not call hdhooks at all
UNREADABLE = "unreadable"  # missing, not a regular file, not text

_EXEC_RE = re.compile(
    r"""exec\s+(?:"\$\{HDHOOKS:-hdhooks\}"|\$\{HDHOOKS:-hdhooks\}|"?[\w./-]*hdhooks"?|"\$h")"""
    r"""\s+hook(?:\s.*)?"""
)
#: The shipped shim's line that finds hdhooks (compared with blanks folded).
FINDER = (
    "h=${HDHOOKS:-$(command -v hdhooks || echo /opt/hdhooks/venv/bin/hdhooks)}; "
    """[ -f "$h" ] && [ -x "$h" ] || { printf 'hdhooks: cannot run %s (looked at $HDHOOKS, """
    """PATH, /opt/hdhooks/venv/bin/hdhooks): install it there with scripts/bake-ami.sh, or """
    """set HDHOOKS to its path\\n' "$h" >&2; exit 127; }""",
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
    finder = False
    for n, cmd in commands:
        if " ".join(cmd.split()) in FINDER:
            finder = True
            continue
        if _SET_RE.fullmatch(cmd) or _EXEC_RE.fullmatch(cmd):
            continue  # an exec that is not last is caught by the line after it
        return ShimCheck(MODIFIED, n, cmd)
    last_n, last = commands[-1]
    if not _EXEC_RE.fullmatch(last) or (last.startswith('exec "$h"') and not finder):
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
