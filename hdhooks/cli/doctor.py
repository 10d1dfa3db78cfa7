"""``hdhooks doctor``: can this instance, or the image being baked, take deployments?"""

from __future__ import annotations

import click


@click.command()
@click.option("--bake", is_flag=True,
              help="Only what an image has before it boots: skip the agent running, "
                   "metadata, credentials, network and deployment groups.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="A table (and a summary on stderr), or one JSON document.")
@click.option("--root", type=click.Path(file_okay=False, exists=True), default="/",
              show_default=True, help="Check files under this directory (an image tree).")
def doctor(bake: bool, fmt: str, root: str) -> int:
    """Check this machine can take CodeDeploy deployments with hdhooks.

    \b
    Each line is ok, warn, fail or skip, with the fix below it: hdhooks and
    Python, the CodeDeploy agent (installed, version, running), IMDSv2,
    region, instance-profile credentials (STS), metadata options (hop limit),
    HTTPS to the AWS endpoints, the clock, systemd, free disk, the state
    directories, the deployed components' configs and IAM actions, Standby,
    and the deployment group's traffic control.
    Exit 0 when nothing failed (warnings allowed), 1 on any fail.
    """
    import os

    from hdhooks.doctor.run import doctor as run_doctor

    return run_doctor(root=os.path.abspath(root), bake=bake, fmt=fmt)
