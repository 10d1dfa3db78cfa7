"""The deployment root on disk, exactly as the CodeDeploy agent lays it out.

::

    <root>/<group-id>/<deployment-id>/{bundle.tar, deployment-archive/, logs/scripts.log}
    <root>/deployment-instructions/<group-id>_last_successful_install   (and _most_recent_install,
                                   <group-id>-cleanup, <group-id>-install.json)
    <root>/deployment-logs/codedeploy-agent-deployments.log
    <root>/ongoing-deployment/<deployment-id>

Pointer files hold an absolute directory path without a newline and are
replaced atomically, so an interrupted run never leaves half a path behind.
hdhooks adds one file, ``deployment-instructions/<group-id>.lock``, the lock
that keeps two runs on one group from interleaving.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hdhooks import fsremove, fsutil
from hdhooks.errors import CheckFailed, UsageError

DEFAULT_GROUP_ID = "default-local-deployment-group"
DEFAULT_GROUP_NAME = "LocalFleet"
SYSTEM_ROOT = "/var/lib/hdhooks/deployment-root"


def default_root() -> str:
    """Where deployments go when ``--root`` is not given.

    root: /var/lib/hdhooks/deployment-root (never the real agent's
    /opt/codedeploy-agent/deployment-root, whose pointer files a local run
    must not move); other users: $XDG_DATA_HOME/hdhooks/deployment-root.
    """
    if os.geteuid() == 0:
        return SYSTEM_ROOT
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "hdhooks", "deployment-root")


def check_group_id(group_id: str) -> str:
    """A group id names a directory: refuse anything that would escape the root."""
    if not group_id or group_id in (".", "..") or "/" in group_id or "\0" in group_id:
        raise UsageError(
            f"invalid --deployment-group '{group_id}'",
            hint="it names a directory: use letters, digits, '-', '_' or '.'",
        )
    return group_id


@dataclass(frozen=True)
class Layout:
    """Every path of one deployment group inside one deployment root."""

    root: str
    group_id: str

    @property
    def group_dir(self) -> str:
        return os.path.join(self.root, self.group_id)

    def deployment_dir(self, deployment_id: str) -> str:
        return os.path.join(self.group_dir, deployment_id)

    @property
    def instructions_dir(self) -> str:
        return os.path.join(self.root, "deployment-instructions")

    def _instr(self, suffix: str) -> str:
        return os.path.join(self.instructions_dir, self.group_id + suffix)

    @property
    def last_successful_file(self) -> str:
        return self._instr("_last_successful_install")

    @property
    def most_recent_file(self) -> str:
        return self._instr("_most_recent_install")

    @property
    def cleanup_file(self) -> str:
        return self._instr("-cleanup")

    @property
    def aside_file(self) -> str:
        """hdhooks' own: directories of the last install renamed aside, until deleted."""
        return self._instr("-cleanup-aside")

    @property
    def install_json(self) -> str:
        return self._instr("-install.json")

    @property
    def lock_file(self) -> str:
        return self._instr(".lock")

    @property
    def deployments_log(self) -> str:
        return os.path.join(self.root, "deployment-logs", "codedeploy-agent-deployments.log")

    def ongoing_file(self, deployment_id: str) -> str:
        return os.path.join(self.root, "ongoing-deployment", deployment_id)

    def last_successful(self) -> str | None:
        """The last successful deployment's directory, if one is recorded."""
        return read_pointer(self.last_successful_file)

    def most_recent(self) -> str | None:
        return read_pointer(self.most_recent_file)


def archive_dir(deployment_dir: str) -> str:
    return os.path.join(deployment_dir, "deployment-archive")


def scripts_log(deployment_dir: str) -> str:
    return os.path.join(deployment_dir, "logs", "scripts.log")


def read_pointer(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            value = fh.read().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckFailed(f"cannot read {path}: {exc.strerror}") from None
    return value or None


def atomic_write(path: str, text: str) -> None:
    """The agent's files (pointers, instructions, markers): 0644 whatever the umask."""
    fsutil.atomic_write(path, text, mode=0o644)


def write_pointer(path: str, value: str) -> None:
    """Record a deployment directory (absolute, no newline) in a pointer file."""
    atomic_write(path, value)


def make_dirs(layout: Layout) -> None:
    """The root's fixed directories; creating them is the first side effect.

    Each is made 0755 whatever the umask, and an existing root or directory
    owned by another user or writable by others is refused: the lock and the
    pointer files in it decide what root runs next.
    """
    fsutil.ensure_dir(layout.root, 0o755)
    for d in (layout.group_dir, layout.instructions_dir,
              os.path.dirname(layout.deployments_log),
              os.path.join(layout.root, "ongoing-deployment")):
        fsutil.ensure_dir(d, 0o755)


def retain(layout: Layout, max_revisions: int, current: str | None = None) -> list[str]:
    """Delete the oldest deployment directories beyond ``max_revisions``.

    As the agent does: the count includes the current deployment, age is the
    directory's ctime, and the last successful deployment is never deleted
    (its scripts run the next ApplicationStop); nor is ``current``, the
    deployment that just ran (its log is where a failure is explained).
    Returns what was removed.
    """
    try:
        names = [n for n in os.listdir(layout.group_dir) if not n.startswith(".")]
    except FileNotFoundError:
        return []
    dirs = [os.path.join(layout.group_dir, n) for n in names]
    dirs = [d for d in dirs if os.path.isdir(d) and not os.path.islink(d)]
    extra = len(dirs) - max_revisions
    if extra <= 0:
        return []
    keep = {os.path.abspath(d) for d in (layout.last_successful(), current) if d}
    candidates = [d for d in dirs if os.path.abspath(d) not in keep]
    candidates.sort(key=lambda d: (os.stat(d).st_ctime, d))
    removed: list[str] = []
    for d in candidates:
        if len(removed) == extra:
            break
        try:
            fsremove.remove_tree(d)
        except OSError:
            continue  # left (a file it cannot remove): the next one goes
        removed.append(d)
    return removed
