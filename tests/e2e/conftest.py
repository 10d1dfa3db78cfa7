"""Fixtures for tests that run the installed ``hdhooks`` console script."""

from __future__ import annotations

import os
import sys

import pytest


@pytest.fixture(scope="session")
def hdhooks_bin() -> str:
    """The ``hdhooks`` console script installed next to the running Python."""
    path = os.path.join(os.path.dirname(sys.executable), "hdhooks")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: install the package (pip install -e .) first")
    return path
