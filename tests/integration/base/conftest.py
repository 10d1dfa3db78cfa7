"""Fixtures for the shared base's tests: the installed command and open temp dirs."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def hdhooks_bin() -> str:
    """The ``hdhooks`` console script installed next to the running Python."""
    path = os.path.join(os.path.dirname(sys.executable), "hdhooks")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: install the package (pip install -e .) first")
    return path


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temp directory other users can enter (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="hdhooks-base-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
