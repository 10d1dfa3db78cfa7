"""The ``hdhooks`` command's entry point and its table of command groups."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hdhooks import __version__

# command name -> (module, attribute, one-line help). Modules load lazily.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "appspec": ("hdhooks.cli.appspec", "appspec", "Validate appspec.yml files."),
    "local": ("hdhooks.cli.local", "local", "Run CodeDeploy deployments on this machine."),
    "hook": ("hdhooks.cli.instance", "hook", "Run a lifecycle event (called by the shims)."),
    "rollback": ("hdhooks.cli.instance", "rollback", "Switch back to the previous release."),
    "restart": ("hdhooks.cli.instance", "restart", "Restart and validate the current release."),
    "init": ("hdhooks.cli.lint", "init", "Scaffold a component for CodeDeploy."),
    "lint": ("hdhooks.cli.lint", "lint", "Check a bundle: appspec, shims, hdhooks.yml."),
    "buildspec": ("hdhooks.cli.build", "buildspec", "Render and validate CodeBuild buildspecs."),
    "sonar": ("hdhooks.cli.sonar", "sonar", "SonarQube quality gate for CodeBuild."),
    "doctor": ("hdhooks.cli.doctor", "doctor", "Check this instance can take deployments."),
    "reconcile": ("hdhooks.cli.ops", "reconcile",
                  "Make the instance whole after a failed or abandoned deployment."),
    "status": ("hdhooks.cli.ops", "status",
               "Release, service, health and traffic state of each component."),
    "iam-policy": ("hdhooks.cli.ops", "iam_policy",
                   "Print the least-privilege IAM policy of the instance role."),
    "provision": ("hdhooks.cli.provision", "provision",
                  "CloudFormation for every component's pipeline and fleet."),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hdhooks`` command; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        sys.stdout.write(f"hdhooks {__version__}\n")
        return 0
    # Everything else lives in the boundary module, so `--version` costs
    # almost nothing beyond starting Python.
    from hdhooks.cli.boundary import run_main

    return run_main(args)
