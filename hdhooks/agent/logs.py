"""The agent's two log formats.

``logs/scripts.log`` (per deployment)::

    2024-05-01 12:00:00 LifecycleEvent - ApplicationStart
    2024-05-01 12:00:00 Script - scripts/start.sh
    2024-05-01 12:00:00 [stdout]started

``deployment-logs/codedeploy-agent-deployments.log`` (per root)::

    [2024-05-01 12:00:00.123] [d-ABCDEFGHI-local]LifecycleEvent - ApplicationStart

Times are local. Files are opened in append mode and written line by line,
so a log survives whatever happens to the process.
"""

from __future__ import annotations

import os
import time
from typing import IO


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


class DeploymentLog:
    """``codedeploy-agent-deployments.log`` lines for one deployment."""

    def __init__(self, path: str, deployment_id: str) -> None:
        self.path = path
        self.deployment_id = deployment_id
        self._fh: IO[str] | None = None

    def write(self, message: str) -> None:
        if self._fh is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        now = time.time()
        ms = int((now % 1) * 1000)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        self._fh.write(f"[{stamp}.{ms:03d}] [{self.deployment_id}]{message}\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class ScriptLog:
    """``scripts.log`` of the current deployment, mirrored to the deployment log."""

    def __init__(self, path: str, deployment_log: DeploymentLog | None = None) -> None:
        self.path = path
        self.deployment_log = deployment_log
        self._fh: IO[str] | None = None

    def line(self, text: str) -> None:
        """Append one line (without its newline)."""
        if self._fh is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._fh.write(f"{_stamp()} {text}\n")
        self._fh.flush()
        if self.deployment_log is not None:
            self.deployment_log.write(text)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
