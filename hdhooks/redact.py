"""Keeping secret values out of everything hdhooks prints.

Every value fetched from SSM (SecureString) or Secrets Manager is registered
here the moment it arrives. :func:`redact` replaces each registered value by
``****`` in any text: error messages, log lines, exception text. The registry
is process-wide because a secret can surface anywhere (a Jinja error, a
command's output tail), and a hook is one short-lived process.

Multi-line secrets (PEM keys) are also registered line by line, since output
is often shown one line at a time.
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    import logging

MASK = "****"

_lock = threading.Lock()
_values: set[str] = set()
_ordered: tuple[str, ...] = ()  # longest first, so a secret containing another wins


def register(value: str) -> None:
    """Remember ``value`` as secret; from now on :func:`redact` hides it."""
    if not isinstance(value, str) or not value:
        return
    pieces = {value}
    if "\n" in value:
        pieces.update(line.strip() for line in value.splitlines() if line.strip())
    global _ordered
    with _lock:
        new = pieces - _values
        if not new:
            return
        _values.update(new)
        _ordered = tuple(sorted(_values, key=len, reverse=True))


def is_secret(value: str) -> bool:
    """Whether ``value`` was registered as a secret."""
    return value in _values


def redact(text: str) -> str:
    """``text`` with every registered secret value replaced by ``****``."""
    if not text:
        return text
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def count() -> int:
    """How many values are registered (for diagnostics, never the values)."""
    return len(_values)


def clear() -> None:
    """Forget every registered value (a long-lived process between deployments)."""
    global _ordered
    with _lock:
        _values.clear()
        _ordered = ()


class RedactingFilter:
    """A logging filter that redacts the formatted message of every record.

    Attach it to a handler: ``handler.addFilter(RedactingFilter())``. The
    message is formatted once with its arguments, redacted, and the
    arguments dropped, so a secret passed as a ``%s`` argument is hidden too.
    (logging takes any object with a ``filter`` method; not subclassing
    logging.Filter keeps ``import logging`` out of every hook's start-up.)
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            # Exception text is rendered by the formatter; pre-render it here.
            import traceback

            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_info = None
            record.exc_text = None
        record.msg = redact(message)
        record.args = None
        return True
