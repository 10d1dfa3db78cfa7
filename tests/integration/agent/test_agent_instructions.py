"""Install instruction generation against a real temporary tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdhooks.agent import instructions
from hdhooks.appspec.model import AppSpec, FileMapping, Permission
from hdhooks.errors import CheckFailed, InputError


def _archive(tmp: Path) -> Path:
    a = tmp / "archive"
    (a / "app" / "sub").mkdir(parents=True)
    (a / "app" / "one.txt").write_text("1")
    (a / "app" / "sub" / "two.txt").write_text("2")
    (a / "single.txt").write_text("s")
    return a


def test_directory_copy_and_ancestors(tmp_path: Path) -> None:
    a = _archive(tmp_path)
    dest = tmp_path / "x" / "y"
    spec = AppSpec(path="appspec.yml", files=(FileMapping("app", str(dest)),
                                              FileMapping("single.txt", str(dest / "z"))))
    out = instructions.generate(spec, str(a), "DISALLOW")
    kinds = [(i.kind, i.path) for i in out.items]
    assert kinds == [
        ("mkdir", str(tmp_path / "x")), ("mkdir", str(dest)),
        ("copy", str(dest / "one.txt")), ("mkdir", str(dest / "sub")),
        ("copy", str(dest / "sub" / "two.txt")),
        ("mkdir", str(dest / "z")), ("copy", str(dest / "z" / "single.txt")),
    ]


def test_conflicts_are_collected_and_cleanup_is_taken_into_account(tmp_path: Path) -> None:
    a = _archive(tmp_path)
    dest = tmp_path / "d"
    dest.mkdir()
    (dest / "single.txt").write_text("old")
    spec = AppSpec(path="appspec.yml", files=(FileMapping("single.txt", str(dest)),))
    assert instructions.generate(spec, str(a), "DISALLOW").conflicts == [str(dest / "single.txt")]
    fs = instructions.FsView([str(dest / "single.txt")])
    assert instructions.generate(spec, str(a), "DISALLOW", fs).conflicts == []
    assert instructions.generate(spec, str(a), "RETAIN").items == []


def test_duplicates_are_refused(tmp_path: Path) -> None:
    a = _archive(tmp_path)
    dest = str(tmp_path / "d")
    twice = AppSpec(path="a", files=(FileMapping("single.txt", dest),
                                     FileMapping("single.txt", dest + "/")))
    with pytest.raises(CheckFailed, match="two source files"):
        instructions.generate(twice, str(a), "DISALLOW")
    perm = Permission(object=dest)
    two_perms = AppSpec(path="a", files=(FileMapping("app", dest),), permissions=(perm, perm))
    with pytest.raises(CheckFailed, match="specified more than once"):
        instructions.generate(two_perms, str(a), "DISALLOW")


def test_missing_source_points_at_the_appspec_line(tmp_path: Path) -> None:
    spec = AppSpec(path="appspec.yml", files=(FileMapping("nope", "/tmp/x", line=4),))
    with pytest.raises(InputError) as info:
        instructions.generate(spec, str(_archive(tmp_path)), "DISALLOW")
    assert info.value.one_line().startswith("appspec.yml:4:1: files: source 'nope'")


def test_file_object_needs_default_pattern(tmp_path: Path) -> None:
    a = _archive(tmp_path)
    dest = tmp_path / "d"
    spec = AppSpec(path="a", files=(FileMapping("single.txt", str(dest)),),
                   permissions=(Permission(object=str(dest / "single.txt"), pattern="*.txt"),))
    with pytest.raises(CheckFailed, match="invalid pattern"):
        instructions.generate(spec, str(a), "DISALLOW")
