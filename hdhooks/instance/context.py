"""Where a hook runs: the event, the bundle, the deployment, the state directory.

CodeDeploy passes the deployment to a hook through environment variables
(LIFECYCLE_EVENT, DEPLOYMENT_ID, ...); the shim passes the bundle directory. Everything a
hook needs to know about its surroundings is gathered here once, so the
steps never read ``os.environ`` themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hdhooks.errors import UsageError
from hdhooks.events import SCRIPTABLE_EVENTS
from hdhooks.record import Record

ROOT_STATE_DIR = "/var/lib/hdhooks"


def state_dir(environ: Mapping[str, str] | None = None) -> str:
    """``$HDHOOKS_STATE_DIR``; else /var/lib/hdhooks for root, ~/.local/state/hdhooks."""
    env = os.environ if environ is None else environ
    explicit = env.get("HDHOOKS_STATE_DIR")
    if explicit:
        return explicit
    if os.geteuid() == 0:
        return ROOT_STATE_DIR
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "hdhooks")


def service_dirs(environ: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """(log dir, pidfile dir) for services; None keeps the system defaults.

    Root on an instance uses /var/log/hdhooks and /run/hdhooks. An explicit
    state directory, or a user without root, keeps everything under it.
    """
    env = os.environ if environ is None else environ
    if os.geteuid() == 0 and not env.get("HDHOOKS_STATE_DIR"):
        return None, None
    base = state_dir(env)
    return os.path.join(base, "log"), os.path.join(base, "run")


class HookEnv(Record):
    """The surroundings of one hook run."""

    event: str
    bundle_dir: str
    deployment_id: str
    deployment_group: str | None
    application: str | None
    environment: str | None  # forced with --environment, else chosen by the config
    state_dir: str

    @classmethod
    def from_environ(
        cls,
        event: str | None,
        bundle_dir: str,
        *,
        environment: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> HookEnv:
        """Read the CodeDeploy variables; an unknown or missing event is a usage error."""
        env = os.environ if environ is None else environ
        name = event or env.get("LIFECYCLE_EVENT", "")
        if not name:
            raise UsageError(
                "no lifecycle event: give EVENT or run from CodeDeploy, which sets "
                "LIFECYCLE_EVENT",
            )
        if name not in SCRIPTABLE_EVENTS:
            raise UsageError(
                f"'{name}' is not a lifecycle event hdhooks can run",
                hint="one of " + ", ".join(SCRIPTABLE_EVENTS),
            )
        return cls(
            event=name,
            bundle_dir=os.path.abspath(bundle_dir),
            deployment_id=env.get("DEPLOYMENT_ID") or "manual",
            deployment_group=env.get("DEPLOYMENT_GROUP_NAME") or None,
            application=env.get("APPLICATION_NAME") or None,
            environment=environment,
            state_dir=state_dir(env),
        )
