"""Reconcile at the start of every hook costs nothing while the journal holds no open entry.

Settled entries (the history) and an empty journal directory are the usual
state of an instance: a do-nothing hook must then load exactly what it loads
without a journal (no json, no boto3: tests/integration/layout).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.layout.test_startup_modules import (
    EXAMPLE,
    HEAVY,
    STDLIB_KEPT_OFF,
    loaded_by,
    top_level,
)


@pytest.mark.parametrize("event", ["BeforeAllowTraffic", "AfterAllowTraffic"])
def test_settled_journal_costs_nothing_at_hook_start(tmp_path: Path, event: str) -> None:
    import os

    state = tmp_path / "state"
    history = state / "journal" / "history"
    history.mkdir(parents=True)
    (history / "0000000000001-1-abcd.json").write_text("{}\n")
    (state / "journal" / ".0000000000002-1-tmp.json").write_text("")  # a write in progress
    env = {**os.environ, "HDHOOKS_STATE_DIR": str(state), "DEPLOYMENT_ID": "d-STARTUP02"}
    args = ["hook", "--bundle", str(EXAMPLE), "--environment", "demo", event]
    loaded_by(args, tmp_path, env)  # the first hook of a deployment fills the cache
    loaded = loaded_by(args, tmp_path, env)
    assert top_level(loaded) & set(HEAVY + STDLIB_KEPT_OFF) == set()
    assert not any(m.startswith(("hdhooks.aws", "hdhooks.instance.reconcile")) for m in loaded)


def test_reconcile_with_nothing_to_do_imports_no_aws_sdk(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "HDHOOKS_STATE_DIR": str(tmp_path / "state")}
    loaded = top_level(loaded_by(["reconcile"], tmp_path, env))
    assert {"boto3", "botocore"} & loaded == set()
