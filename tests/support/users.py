"""Real users and groups for the tests that need them (root only)."""

from __future__ import annotations

import grp
import pwd
import subprocess


def ensure_user(user: str, group: str) -> str:
    """Create ``group`` and ``user`` (a member of it, no home) unless they exist."""
    try:
        grp.getgrnam(group)
    except KeyError:
        subprocess.run(["groupadd", group], check=True)
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/bin/sh", "-G", group, user], check=True)
    return user
