"""The temporary-name scheme every atomic write uses (pure: no file is touched)."""

from __future__ import annotations

import os
from pathlib import Path

from hdhooks.fsutil import TEMP_MARK, temp_name


def test_temp_name_is_hidden_beside_the_target_and_names_its_writer() -> None:
    name = temp_name("/srv/app/app.conf")
    assert name.parent == Path("/srv/app")
    assert name.name.startswith(f".app.conf{TEMP_MARK}{os.getpid()}-")


def test_temp_names_differ_for_one_target() -> None:
    assert temp_name("/srv/x") != temp_name("/srv/x")
