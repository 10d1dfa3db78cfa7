"""A Jinja2 sandbox with limits: bounded output, memory, time and recursion.

Templates come from the bundle, which anyone who can push a build controls,
and they are rendered as root. Jinja's own sandbox stops attribute tricks and
caps ``range`` but not ``{{ 'x' * 10**10 }}``, ``{{ 9**9**9 }}``, a
``|center(10**10)``, loops that print nothing for hours or a macro calling
itself. Here:

* ``*`` and ``**`` refuse results larger than :data:`MAX_VALUE` characters
  (or bits); width-taking filters and string methods refuse huge widths;
* the caller counts output and stops at its own limit (:func:`bounded`);
* :func:`limits` bounds the address space and the wall time of a render, so
  whatever slips past the checks above ends in :class:`TemplateLimit`, not in
  an exhausted machine; RecursionError is reported the same way.
"""

from __future__ import annotations

import os
import resource
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MAX_VALUE = 4 << 20  # characters of one computed value, bits of one computed number
MAX_OUTPUT = 16 << 20  # bytes of one rendered file
RENDER_SECONDS = 20.0  # wall time of one template; $HDHOOKS_RENDER_SECONDS changes it
MEMORY_HEADROOM = 1 << 30  # address space a render may add to the process
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_WIDTH_FILTERS = ("center", "indent", "wordwrap", "truncate")


class TemplateLimit(Exception):
    """A template went past one of the limits; the message says which."""


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(times, int) and _size(seq) * max(times, 0) > MAX_VALUE:
                raise TemplateLimit(f"'*' would build a value of {_size(seq) * times} "
                                    f"items (limit {MAX_VALUE})")
    elif (operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0
          and abs(left) > 1 and abs(left).bit_length() * right > MAX_VALUE):
        raise TemplateLimit(f"'**' would build a number of about "
                            f"{abs(left).bit_length() * right} bits (limit {MAX_VALUE})")


def _check_widths(args: tuple[Any, ...], kwargs: dict[str, Any], what: str) -> None:
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_VALUE:
            raise TemplateLimit(f"{what} was given a width of {arg} (limit {MAX_VALUE})")


def _bounded_filter(name: str, original: Any) -> Any:
    def bounded_filter(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_widths(args, kwargs, f"filter '{name}'")
        return original(value, *args, **kwargs)

    return bounded_filter


def environment(loader: Any = None) -> Any:
    """A strict, sandboxed Jinja environment with the limits above."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class LimitedSandbox(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _check_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            if getattr(__obj, "__name__", "") in _WIDTH_METHODS and isinstance(
                    getattr(__obj, "__self__", None), str | bytes):
                _check_widths(args, kwargs, f"'{__obj.__name__}'")
            return super().call(__context, __obj, *args, **kwargs)

    env = LimitedSandbox(loader=loader, undefined=StrictUndefined, autoescape=False,
                         keep_trailing_newline=True)
    for name in _WIDTH_FILTERS:
        env.filters[name] = _bounded_filter(name, env.filters[name])
    return env


def bounded(chunks: Iterator[str], limit: int = MAX_OUTPUT) -> Iterator[str]:
    """The chunks of a render, stopping with TemplateLimit past ``limit`` bytes."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise TemplateLimit(f"output is larger than {limit} bytes")
        yield chunk


def _address_space() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def render_seconds() -> float:
    """The time one render may take: $HDHOOKS_RENDER_SECONDS (0.1..3600), else 20 s."""
    try:
        seconds = float(os.environ.get("HDHOOKS_RENDER_SECONDS") or RENDER_SECONDS)
    except ValueError:
        return RENDER_SECONDS
    return min(max(seconds, 0.1), 3600.0) if seconds == seconds else RENDER_SECONDS


@contextmanager
def limits(seconds: float | None = None) -> Iterator[None]:
    """Bound the memory and time of the renders inside the block.

    The address-space limit is lowered for the block only (to what the process
    uses plus :data:`MEMORY_HEADROOM`) and the time limit is a SIGALRM timer,
    which only the main thread can use; elsewhere only the checks apply.
    """
    seconds = render_seconds() if seconds is None else seconds

    def on_alarm(signum: int, frame: Any) -> None:
        raise TemplateLimit(f"rendering took longer than {seconds:g}s")

    main = threading.current_thread() is threading.main_thread()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    used = _address_space()
    wanted = used + MEMORY_HEADROOM if used else resource.RLIM_INFINITY
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    lower = used and (soft == resource.RLIM_INFINITY or wanted < soft)
    previous: Any = None
    if main:
        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    if lower:
        resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    try:
        yield
    except MemoryError:
        raise TemplateLimit(f"rendering needs more than {MEMORY_HEADROOM >> 20} MiB "
                            "of memory") from None
    except RecursionError:
        raise TemplateLimit("recursion too deep (a macro or include calling itself?)"
                            ) from None
    finally:
        if lower:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        if main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
