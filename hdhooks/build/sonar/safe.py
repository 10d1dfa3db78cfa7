"""Server text made safe to print: one line, no control characters, no token.

Everything a SonarQube server sends (task ids, statuses, messages, metric
names, warnings, HTTP reason phrases, headers) ends up on a line that a
buildspec or a person reads, next to ``QUALITY_GATE_STATUS=``. A newline or
carriage return in that text would forge a line of its own; terminal escapes
and bidi overrides would change what the reader sees. :func:`text` escapes
them (``\\n``, ``\\x1b``, ``\\u202e``), bounds the length and masks the token,
so every server string goes through it before it is kept.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from hdhooks.redact import redact

TEXT_LIMIT = 300  # characters kept of one server string
MAX_BODY = 2 * 1024 * 1024  # bytes read of one answer; real ones are a few KB
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Control (Cc), format (Cf: bidi overrides, zero-width), line and paragraph separators.
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def text(value: Any, limit: int = TEXT_LIMIT) -> str:
    """``value`` as one printable line: escaped, at most ``limit`` characters, redacted."""
    if value is None:
        return ""
    raw = redact(value if isinstance(value, str) else str(value))
    if len(raw) > limit * 4:
        raw = raw[: limit * 4]
    out = "".join(_escape(ch) if unicodedata.category(ch) in _UNSAFE else ch for ch in raw)
    if len(out) > limit:
        out = out[: limit - 3] + "..."
    return out


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

