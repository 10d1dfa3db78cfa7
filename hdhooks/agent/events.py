"""Which lifecycle events a local deployment runs, and in what order.

codedeploy-local's rules: without ``--events`` the
default order runs; with it, the named events run in the given order, and
DownloadBundle and Install are added when missing. Orders that would run a
new-revision event before the bundle is there are refused up front.
"""

from __future__ import annotations

from hdhooks.appspec.model import PREVIOUS_REVISION_EVENTS
from hdhooks.errors import UsageError

DEFAULT_ORDER: tuple[str, ...] = (
    "BeforeBlockTraffic",
    "AfterBlockTraffic",
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
REQUIRED = ("DownloadBundle", "Install")
# Events that may never come before DownloadBundle (nor, except BeforeInstall, before Install).
NEW_REVISION_EVENTS = (
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)


def parse_events(text: str | None) -> list[str]:
    """``--events`` as a list; empty names are dropped."""
    if not text:
        return []
    return [e.strip() for e in text.split(",") if e.strip()]


def check_order(events: list[str], given: str) -> None:
    """Refuse the orders codedeploy-local refuses, with its message."""
    previous = ",".join(PREVIOUS_REVISION_EVENTS_ORDERED)
    if "DownloadBundle" in events:
        before = events[: events.index("DownloadBundle")]
        if any(e in (*NEW_REVISION_EVENTS, "Install") for e in before):
            raise UsageError(
                f"The only events that can be specified before DownloadBundle are {previous}. "
                f"Please fix the order of your specified events: {given}"
            )
    if "Install" in events:
        before = events[: events.index("Install")]
        if any(e in NEW_REVISION_EVENTS for e in before):
            raise UsageError(
                "The only events that can be specified before Install are "
                f"{previous},DownloadBundle,BeforeInstall. "
                f"Please fix the order of your specified events: {given}"
            )


PREVIOUS_REVISION_EVENTS_ORDERED = tuple(
    e for e in DEFAULT_ORDER if e in PREVIOUS_REVISION_EVENTS
)


def ordered_events(requested: list[str]) -> list[str]:
    """The events to run, in order.

    Missing DownloadBundle/Install go to the front, as in codedeploy-local;
    one deliberate difference: when DownloadBundle is named and Install is
    not, Install goes right after DownloadBundle (codedeploy-local puts it
    first, where it can only fail because nothing is unpacked yet).
    """
    if not requested:
        return list(DEFAULT_ORDER)
    events = list(requested)
    if "DownloadBundle" in events and "Install" not in events:
        i = events.index("DownloadBundle")
        return [*events[: i + 1], "Install", *events[i + 1 :]]
    missing = [e for e in REQUIRED if e not in events]
    return missing + events


def unknown_appspec_events(hooks: list[str], requested: list[str]) -> list[str]:
    """appspec events the run does not know: neither default nor named in ``--events``."""
    known = set(DEFAULT_ORDER) | set(requested)
    return [e for e in hooks if e not in known]


def unknown_requested_events(requested: list[str], hooks: list[str]) -> list[str]:
    """``--events`` names that are neither default events nor in the appspec."""
    return [e for e in requested if e not in DEFAULT_ORDER and e not in hooks]


def uses_previous_revision(event: str) -> bool:
    return event in PREVIOUS_REVISION_EVENTS
