"""The error boundary of the command line, and the cheap path of ``hdhooks hook``.

Every command runs through :func:`run_main`: an :class:`HdhooksError` becomes
its one-line message and exit code, Ctrl-C exits 130, and anything unexpected
prints a short message, writes the traceback to the debug log and exits 70.
A user never sees a traceback.
"""

from __future__ import annotations

import os
import sys

from hdhooks import __version__
from hdhooks.errors import ExitCode, HdhooksError


def run_main(args: list[str]) -> int:
    """Run one command line; the single place where exceptions become exit codes."""
    try:
        hook_args = parse_hook_args(args)
        if hook_args is not None:
            return run_hook_fast(*hook_args)
        from hdhooks.cli._root import run

        return run(args)
    except HdhooksError as exc:
        report_error(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("hdhooks: interrupted\n")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.FAILED
    except Exception as exc:  # the boundary: never show a traceback to a user
        return internal_error(exc)


def parse_hook_args(args: list[str]) -> tuple[str | None, str, str | None, bool] | None:
    """``hook [EVENT] [--bundle DIR] [--environment ENV] [--dry-run]``, parsed cheaply.

    A hook is a fresh process at every lifecycle event, and importing click
    costs as much as starting Python. The well-formed calls the shims make
    are parsed here; anything else (``--help``, a typo) returns None and goes
    through click, which owns the help text and the usage errors.
    """
    if not args or args[0] != "hook":
        return None
    event: str | None = None
    bundle, environment, dry_run = ".", None, False
    rest = args[1:]
    while rest:
        arg = rest.pop(0)
        name, eq, inline = arg.partition("=")
        if name in ("--bundle", "--environment") and (eq or rest):
            value = inline if eq else rest.pop(0)
            if name == "--bundle":
                bundle = value
            else:
                environment = value
        elif arg == "--dry-run":
            dry_run = True
        elif not arg.startswith("-") and event is None:
            event = arg
        else:
            return None
    return event, bundle, environment, dry_run


def run_hook_fast(event: str | None, bundle: str, environment: str | None, dry_run: bool) -> int:
    """``hdhooks hook`` without click: the same code the click command calls."""
    from hdhooks.instance.context import HookEnv
    from hdhooks.instance.hook import run_hook

    return run_hook(HookEnv.from_environ(event, bundle, environment=environment),
                    dry_run=dry_run)


def report_error(exc: HdhooksError) -> None:
    """Print an error as one line (plus its diagnostics) on stderr."""
    sys.stderr.write(f"hdhooks: error: {exc.one_line()}\n")
    for line in exc.details():
        sys.stderr.write(f"  {line}\n")


def internal_error(exc: BaseException) -> int:
    """Write the traceback to the debug log, tell the user where, exit 70."""
    import traceback

    path = debug_log_path()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"--- hdhooks {__version__} {sys.argv!r}\n")
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=fh)
        where = f"traceback in {path}"
    except OSError:
        where = "no debug log could be written"
    sys.stderr.write(
        f"hdhooks: internal error: {type(exc).__name__}: {exc} ({where}; "
        "please report it)\n"
    )
    return ExitCode.INTERNAL


def debug_log_path() -> str:
    """``$HDHOOKS_DEBUG_LOG``, else a per-user file under the cache directory."""
    explicit = os.environ.get("HDHOOKS_DEBUG_LOG")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "hdhooks", "debug.log")


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
