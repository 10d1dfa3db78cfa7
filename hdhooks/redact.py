"""Keeping secret values out of everything hdhooks prints.

Every value fetched from SSM (SecureString) or Secrets Manager is registered
here the moment it arrives. :func:`redact` replaces each registered value by
``****`` in any text: error messages, log lines, exception text, a service's
log tail. A secret rarely surfaces as itself: Jinja's error messages show it
as a Python ``repr`` (``\\`` doubled, a tab as ``\\t``, a quote escaped), a
JSON document escapes it its own way, a shell line quotes it, a URL
percent-encodes it. Each of those forms is registered with the value.

Multi-line secrets (PEM keys) are also registered line by line, since output
is often shown one line at a time.

One deployment runs as several hook processes, and the later ones
(ApplicationStart, ValidateService) print the service's log, which may hold a
secret that only AfterInstall fetched. :func:`open_registry` therefore keeps
the secrets of a deployment in a file of the state directory (mode 0600,
never through a link, hex-encoded one per line), loads it at the start of
every hook of that deployment, and deletes the files of other deployments.
:func:`close_deployment` deletes it when the deployment has succeeded.

This module is on the hook start-up path: it imports nothing heavy.
"""

from __future__ import annotations

import os
import threading

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    import logging

MASK = "****"
REGISTRY_DIR = "secrets"
REGISTRY_LIMIT = 1 << 20  # a registry file larger than this was not written by hdhooks

_lock = threading.Lock()
_secrets: set[str] = set()  # the values as registered
_forms: set[str] = set()  # every form they take in output
_ordered: tuple[str, ...] = ()  # longest first, so a secret containing another wins
_registry: str | None = None  # the file new secrets are appended to, once opened


def _json_inner(value: str, ascii_only: bool) -> str:
    """``value`` as it appears between the quotes of a JSON string."""
    out = []
    short = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
             "\b": "\\b", "\f": "\\f"}
    for ch in value:
        code = ord(ch)
        if ch in short:
            out.append(short[ch])
        elif code < 0x20 or (ascii_only and code > 0x7E):
            if code > 0xFFFF:
                code -= 0x10000
                out.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def _percent(value: str, keep: bytes = b"", plus: bool = False) -> str:
    """``value`` URL-encoded (``keep`` bytes left as they are; space as ``+``)."""
    out = []
    for byte in value.encode("utf-8", "surrogatepass"):
        if byte in _UNRESERVED or byte in keep:
            out.append(chr(byte))
        elif plus and byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def encodings(value: str) -> set[str]:
    """Every form ``value`` can take in output: plain, repr, JSON, shell, URL."""
    forms = {value, repr(value)[1:-1], _json_inner(value, False), _json_inner(value, True),
             value.replace("'", "'\"'\"'"), value.replace("'", "\\'"),
             value.replace('"', '\\"'), value.replace("\\", "\\\\"),
             _percent(value), _percent(value, b"/"), _percent(value, plus=True)}
    backslashed = value.encode("unicode_escape").decode("ascii")
    forms.update({backslashed, backslashed.replace("'", "\\'"), backslashed.replace('"', '\\"')})
    return {form for form in forms if form}


def _pieces(value: str) -> set[str]:
    pieces = {value}
    if "\n" in value:
        pieces.update(line.strip() for line in value.splitlines() if line.strip())
    return pieces


def _add(value: str) -> bool:
    """Remember ``value`` and its forms; whether it was new. Caller holds the lock."""
    global _ordered
    if value in _secrets:
        return False
    _secrets.add(value)
    for piece in _pieces(value):
        _forms.update(encodings(piece))
    _ordered = tuple(sorted(_forms, key=len, reverse=True))
    return True


def register(value: str) -> None:
    """Remember ``value`` as secret; from now on :func:`redact` hides it in every form.

    When a deployment's registry is open, the value is appended to it too, so
    the later hooks of the deployment hide it as well.
    """
    if not isinstance(value, str) or not value:
        return
    with _lock:
        if _add(value) and _registry is not None:
            _append(_registry, value)


def is_secret(value: str) -> bool:
    """Whether ``value`` was registered as a secret."""
    return value in _secrets


def redact(text: str) -> str:
    """``text`` with every registered secret, in any of its forms, replaced by ``****``."""
    if not text:
        return text
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def count() -> int:
    """How many values are registered (for diagnostics, never the values)."""
    return len(_secrets)


def clear() -> None:
    """Forget every registered value and close the registry (between deployments)."""
    global _ordered, _registry
    with _lock:
        _secrets.clear()
        _forms.clear()
        _ordered = ()
        _registry = None


def registry_path(state_dir: str, deployment_id: str) -> str:
    """The registry file of a deployment (ids are made safe for a file name)."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_"
                   for c in deployment_id).lstrip(".") or "_"
    return os.path.join(state_dir, REGISTRY_DIR, safe)


KEPT_REGISTRIES = 5  # earlier deployments whose secrets stay masked (their releases may run)


def open_registry(state_dir: str, deployment_id: str) -> None:
    """Load the secrets of this deployment and of the few before it; keep new ones.

    A release rendered by an earlier deployment may still run (it is the
    current one until ApplicationStart, and rollback and restart go back to
    it), and its log tail is printed by later hooks: its secrets must stay
    masked. So the newest :data:`KEPT_REGISTRIES` registries are loaded and
    older ones deleted. Nothing is created until a secret is registered.
    """
    global _registry
    path = registry_path(state_dir, deployment_id)
    for other in _kept(os.path.dirname(path), os.path.basename(path)):
        values = _read(other)
        with _lock:
            for value in values:
                _add(value)
    with _lock:
        _registry = path


def _kept(directory: str, current: str) -> list[str]:
    """The registries to load (this one first); older ones beyond the limit are removed."""
    try:
        entries = [e for e in os.scandir(directory) if e.is_file(follow_symlinks=False)]
    except OSError:
        entries = []
    entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime, reverse=True)
    others = [e for e in entries if e.name != current]
    for old in others[KEPT_REGISTRIES:]:
        try:
            os.unlink(old.path)
        except OSError:
            pass
    return [os.path.join(directory, current)] + [e.path for e in others[:KEPT_REGISTRIES]]


def _read(path: str) -> list[str]:
    """The values of a registry file; a link, a non-file or a foreign file yields none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        st = os.fstat(fd)
        if (st.st_mode & 0o170000) != 0o100000 or st.st_uid != os.geteuid():
            return []
        data = os.read(fd, REGISTRY_LIMIT)
    finally:
        os.close(fd)
    values = []
    for line in data.split(b"\n"):
        try:
            values.append(bytes.fromhex(line.decode("ascii")).decode("utf-8"))
        except ValueError:
            continue
    return [value for value in values if value]


def _append(path: str, value: str) -> None:
    """Add one value to the registry file (0600, never through a link)."""
    from hdhooks.fsread import open_nofollow
    from hdhooks.fsutil import ensure_dir

    ensure_dir(os.path.dirname(path), 0o700)
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, value.encode("utf-8").hex().encode("ascii") + b"\n")
    finally:
        os.close(fd)


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
