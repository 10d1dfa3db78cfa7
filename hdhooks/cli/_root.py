"""The click root group, loaded only when a command (not --version) runs."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import click

from hdhooks import __version__
from hdhooks.errors import ExitCode, UsageError


class LazyGroup(click.Group):
    """A group whose subcommands live in modules imported on first use."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str, str]], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module, attr, _ = self._lazy[cmd_name]
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text comes from the table so `hdhooks --help` imports nothing else.
        rows = [(name, self._lazy[name][2]) for name in sorted(self._lazy)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def build_root() -> click.Group:
    from hdhooks.cli.main import COMMANDS

    @click.group(
        cls=LazyGroup,
        lazy=COMMANDS,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.version_option(__version__, prog_name="hdhooks", message="%(prog)s %(version)s")
    def root() -> None:
        """hdhooks: fast, safe and boring AWS CodeDeploy deployments to EC2.

        \b
        On instances: `hdhooks hook EVENT` runs a lifecycle event (the shims in
        hooks/ call it), `hdhooks rollback` goes back one release,
        `hdhooks reconcile` returns the instance to traffic after a failed
        deployment, `hdhooks status` shows what runs and what the load
        balancer sees, `hdhooks iam-policy` prints the instance role's policy,
        `hdhooks doctor` checks the instance (`--bake`: the image) can take
        deployments.
        In builds: `hdhooks buildspec render|validate`, `hdhooks sonar gate`.
        On laptops and in CI: `hdhooks appspec validate`, `hdhooks lint`,
        `hdhooks local deploy`.
        For the platform: `hdhooks provision render|validate|deploy` (CloudFormation
        for every component's pipeline, build, deployment group and fleet).

        \b
        Exit codes: 0 ok, 1 check failed (invalid file, failed hook or gate),
        2 usage or input error, 70 internal error (traceback in the debug log:
        $HDHOOKS_DEBUG_LOG or ~/.cache/hdhooks/debug.log).
        """

    return root


def run(args: Sequence[str]) -> int:
    """Run the click root with ``args``; returns the exit code."""
    root = build_root()
    try:
        result = root.main(args=list(args), prog_name="hdhooks", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "")
        return ExitCode.USAGE
    except click.UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = f"see '{exc.ctx.command_path} --help'"
        raise UsageError(exc.format_message(), hint=hint) from None
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        raise KeyboardInterrupt from None
    if isinstance(result, int):
        return result
    return ExitCode.OK
