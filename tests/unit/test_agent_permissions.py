"""Permission matching and ACL assembly (pure)."""

from __future__ import annotations

import pytest

from hdhooks.agent import permissions as perms
from hdhooks.appspec.model import Permission


@pytest.mark.parametrize(("name", "pattern", "expected"), [
    ("run.sh", "*.sh", True),
    ("run.sh.bak", "*.sh", False),
    ("a.b.c", "a*c", True),
    ("abc", "a*b*c", True),
    ("x/run.sh", "*.sh", False),  # direct children only
    ("[x].sh", "[x].sh", True),  # only * is a wildcard
    ("x.sh", "[x].sh", False),
    ("anything", "*", True),
])
def test_simple_glob(name: str, pattern: str, expected: bool) -> None:
    assert perms.simple_glob(name, pattern) is expected


def test_matches_pattern_and_except() -> None:
    p = Permission(object="/opt/app/", pattern="*.sh", excepts=("keep.sh",))
    assert perms.matches(p, "/opt/app/run.sh")
    assert not perms.matches(p, "/opt/app/keep.sh")
    assert not perms.matches(p, "/opt/app/sub/run.sh")
    assert not perms.matches(p, "/opt/app")  # never the object itself
    every = Permission(object="/opt/app")
    assert perms.matches(every, "/opt/app/sub/deep/file")
    assert not perms.matches(every, "/opt/application/file")


def test_full_acl_adds_base_entries_and_mask() -> None:
    assert perms.full_acl(("u:bob:rw",), 0o100640) == ["u:bob:rw", "u::6", "g::4", "o::0",
                                                        "m::4"]
    acl = perms.full_acl(("d:u:bob:rwx",), 0o40750)
    assert acl[:4] == ["d:u:bob:rwx", "u::7", "g::5", "o::0"]
    assert {"d:u::7", "d:g::5", "d:o::0", "d:m::5"} <= set(acl)
