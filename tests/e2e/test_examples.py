"""The shipped examples stay valid: what a team copies must pass hdhooks' own checks."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_example_component_passes_lint_strict(hdhooks_bin: str) -> None:
    result = subprocess.run([hdhooks_bin, "lint", "--strict", str(REPO / "examples/hello-service")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stderr


def test_example_shims_are_the_repository_shims() -> None:
    for shim in sorted((REPO / "hooks").glob("*.sh")):
        copy = REPO / "examples/hello-service/hooks" / shim.name
        assert copy.read_text() == shim.read_text(), f"{copy} differs from {shim}"
