"""--events ordering rules (pure)."""

from __future__ import annotations

import pytest

from hdhooks.agent import events as ev
from hdhooks.errors import UsageError


@pytest.mark.parametrize(("given", "expected"), [
    ("", list(ev.DEFAULT_ORDER)),
    ("ApplicationStop,BeforeInstall,ValidateService",
     ["DownloadBundle", "Install", "ApplicationStop", "BeforeInstall", "ValidateService"]),
    ("Install,AfterInstall", ["DownloadBundle", "Install", "AfterInstall"]),
    ("DownloadBundle,ApplicationStop", ["DownloadBundle", "Install", "ApplicationStop"]),
    (" ApplicationStop , ,DownloadBundle,Install", ["ApplicationStop", "DownloadBundle",
                                                     "Install"]),
])
def test_ordered_events(given: str, expected: list[str]) -> None:
    assert ev.ordered_events(ev.parse_events(given)) == expected


@pytest.mark.parametrize(("given", "ok"), [
    ("ApplicationStop,DownloadBundle,BeforeInstall,Install,AfterInstall", True),
    ("BeforeInstall,DownloadBundle", True),  # the agent's own quirk: allowed
    ("Install,DownloadBundle", False),
    ("ValidateService,DownloadBundle", False),
    ("DownloadBundle,AfterInstall,Install", False),
    ("BeforeInstall,Install", True),
    ("AfterInstall", True),  # no DownloadBundle/Install named: nothing to check
])
def test_check_order(given: str, ok: bool) -> None:
    events = ev.parse_events(given)
    if ok:
        ev.check_order(events, given)
    else:
        with pytest.raises(UsageError, match="Please fix the order of your specified events"):
            ev.check_order(events, given)


def test_unknown_events() -> None:
    hooks = ["ApplicationStart", "BlockTraffic", "Warm", "Install"]
    assert ev.unknown_appspec_events(hooks, []) == ["BlockTraffic", "Warm"]
    assert ev.unknown_appspec_events(hooks, ["Warm"]) == ["BlockTraffic"]
    assert ev.unknown_requested_events(["Warm", "Nope", "AfterInstall"], hooks) == ["Nope"]
