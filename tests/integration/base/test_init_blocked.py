"""``hdhooks init`` where a folder the scaffold needs exists as a file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.mark.parametrize("force", [False, True])
def test_hooks_as_a_file_is_a_usage_error(hdhooks_bin: str, tmp_path: Path, force: bool) -> None:
    (tmp_path / "hooks").write_text("not a folder\n")
    args = [hdhooks_bin, "init", "--kind", "jvm", "--name", "api", *(["--force"] if force else [])]
    r = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr == ("hdhooks: error: hooks: exists and is not a directory, but "
                        "the scaffold puts files in it (move or rename it, then run init "
                        "again)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hooks"]
    assert (tmp_path / "hooks").read_text() == "not a folder\n"
