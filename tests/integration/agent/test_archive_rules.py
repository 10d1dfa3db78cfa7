"""The extractor's member rules as a table, and the link-safe tree functions on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hdhooks import fsremove, fstree
from hdhooks.agent.archive import Checker, Limits, Refused

M = tuple[str, str, str]  # name, kind, link target

# members in order; the rule of the refused one, or "" when all are accepted
RULES: list[tuple[str, list[M], str]] = [
    ("plain", [("a/b.txt", "file", ""), ("a", "dir", "")], ""),
    ("root-entry", [("./", "dir", ""), ("./x", "file", "")], ""),
    ("link-inside", [("d", "dir", ""), ("d/l", "symlink", "../x")], ""),
    ("chain-inside", [("s", "dir", ""), ("s/h", "symlink", "."), ("e", "symlink", "s/h/..")], ""),
    ("chain-outside", [("s", "dir", ""), ("s/h", "symlink", "."), ("e", "symlink", "s/h/../..")],
     "points outside the revision"),
    ("loop", [("a", "symlink", "b"), ("b", "symlink", "a"), ("c", "symlink", "a/x")],
     "points outside the revision"),
    ("replace-link-by-file", [("l", "symlink", "x"), ("l", "file", "")], ""),
    ("dir-replaced-by-file", [("d/x", "file", ""), ("d", "file", "")],
     "replaces a directory"),
    ("under-a-file", [("f", "file", ""), ("f/x", "file", "")], "parent 'f' is not a directory"),
    ("hardlink-inside", [("f", "file", ""), ("h", "hardlink", "./f")], ""),
    ("hardlink-to-dir", [("d", "dir", ""), ("h", "hardlink", "d")], "not a file"),
    ("hardlink-through-link", [("d/f", "file", ""), ("l", "symlink", "d"),
                               ("h", "hardlink", "l/f")], "not a file"),
    ("hardlink-to-missing", [("h", "hardlink", "f")], "not a file"),
    ("nul", [("a\0b", "file", "")], "NUL"),
    ("empty-file-name", [("./", "file", "")], "its name is empty"),
]


@pytest.mark.parametrize(("members", "rule"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_member_rules(members: list[M], rule: str) -> None:
    checker = Checker("b.tar", Limits())
    if not rule:
        for name, kind, target in members:
            checker.add(name, kind, 1, target)
        return
    with pytest.raises(Refused) as caught:
        for name, kind, target in members:
            checker.add(name, kind, 1, target)
    assert rule in caught.value.one_line()
    assert caught.value.member == members[-1][0]


def test_walk_copy_and_remove_never_enter_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("f")
    os.chmod(src / "d" / "f", 0o4755)
    (src / "out").symlink_to(outside)
    assert [rel for rel, _ in fstree.walk(str(src))] == ["d", "d/f", "out"]
    fstree.copy_tree(str(src), str(tmp_path / "dst"))
    assert (tmp_path / "dst" / "out").is_symlink()
    assert os.stat(tmp_path / "dst" / "d" / "f").st_mode & 0o7777 == 0o4755
    assert not fstree.chmod(str(src / "out"), 0o600)
    assert os.stat(outside).st_mode & 0o777 != 0o600
    fsremove.remove_tree(str(src))
    assert not src.exists()
    assert (outside / "secret").read_text() == "s"


def test_copy_refuses_a_fifo(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    os.mkfifo(src / "pipe")
    with pytest.raises(fstree.SpecialFile) as caught:
        fstree.copy_tree(str(src), str(tmp_path / "dst"))
    assert "pipe: is a FIFO, socket or device" in caught.value.one_line()
