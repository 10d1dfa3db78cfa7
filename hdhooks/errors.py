"""One exception root and the exit codes it maps to.

Library code raises subclasses of :class:`HdhooksError`; they carry data and
format their own one-line message. Only the CLI boundary turns them into exit
codes, so every command behaves the same way on failure.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from hdhooks.proc import Result


class ExitCode:
    """The process exit codes every hdhooks command uses.

    Plain ints on a namespace rather than an IntEnum: ``enum`` is a costly
    import for a hook process that starts at every lifecycle event.
    """

    OK = 0
    FAILED = 1  # a check failed: invalid file, failed hook, failed gate
    USAGE = 2  # usage or input error: missing file, bad option, bad config
    INTERNAL = 70  # a bug in hdhooks (EX_SOFTWARE); traceback in the debug log
    INTERRUPTED = 130  # Ctrl-C


class HdhooksError(Exception):
    """Root of every error hdhooks raises on purpose."""

    exit_code: int = ExitCode.FAILED

    def __init__(self, message: str = "", *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message shown to the user: one line, hint appended."""
        text = " ".join(self.message.split("\n")) if self.message else type(self).__name__
        if self.hint:
            text = f"{text} ({self.hint})"
        return text

    def details(self) -> list[str]:
        """Extra lines printed after the one-line message (diagnostics)."""
        return []

    def __str__(self) -> str:
        return self.one_line()


class UsageError(HdhooksError):
    """Bad command-line usage or input that the user must correct (exit 2)."""

    exit_code = ExitCode.USAGE


class InputError(UsageError):
    """A file the user gave is missing, unreadable or malformed (exit 2).

    ``location`` is ``file:line:column`` when known.
    """

    def __init__(self, message: str, *, location: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.location = location

    def one_line(self) -> str:
        text = super().one_line()
        return f"{self.location}: {text}" if self.location else text


class CheckFailed(HdhooksError):
    """A check ran and failed: invalid file, failed hook or gate (exit 1)."""

    exit_code = ExitCode.FAILED


class ConfigError(InputError):
    """A component or tool configuration is invalid (exit 2)."""


class CommandFailed(HdhooksError):
    """An external command failed; carries what is needed to explain it.

    ``result`` is the :class:`hdhooks.proc.Result` when hdhooks ran the
    command itself: argv, exit status and output tail then come from it.
    """

    def __init__(
        self,
        message: str,
        *,
        argv: tuple[str, ...] = (),
        exit_status: int | None = None,
        output_tail: str = "",
        hint: str = "",
        result: Result | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.result = result
        if result is not None:
            argv, exit_status, output_tail = result.argv, result.returncode, result.tail()
        self.argv = argv
        self.exit_status = exit_status
        self.output_tail = output_tail

    def details(self) -> list[str]:
        return self.output_tail.splitlines()[-20:] if self.output_tail else []


class AwsError(HdhooksError):
    """An AWS call failed in a way hdhooks cannot work around."""


class Interrupted(HdhooksError):
    """The user pressed Ctrl-C; the work in progress was ended cleanly."""

    exit_code = ExitCode.INTERRUPTED
