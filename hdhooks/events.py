"""CodeDeploy lifecycle event names, as the agent knows them.

A module of constants only: the hook process imports it at start-up.
"""

from __future__ import annotations

# Lifecycle events the agent can run scripts for.
SCRIPTABLE_EVENTS: tuple[str, ...] = (
    "BeforeBlockTraffic",
    "AfterBlockTraffic",
    "ApplicationStop",
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
# Built-in steps: hooks for these are accepted and never run.
BUILTIN_EVENTS: tuple[str, ...] = ("DownloadBundle", "Install")
# Events that run the last successful revision's scripts.
PREVIOUS_REVISION_EVENTS: tuple[str, ...] = (
    "ApplicationStop",
    "BeforeBlockTraffic",
    "AfterBlockTraffic",
)
FILE_EXISTS_BEHAVIORS: tuple[str, ...] = ("DISALLOW", "OVERWRITE", "RETAIN")
