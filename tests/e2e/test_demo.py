"""``make demo``: the README's first command must keep working end to end."""

from __future__ import annotations

import os
import re
import subprocess

from tests.e2e.hookkit import REPO


def test_the_demo_runs_three_deployments_and_a_rollback() -> None:
    script = REPO / "scripts" / "demo.sh"
    hdhooks = REPO / ".venv" / "bin" / "hdhooks"
    assert os.access(hdhooks, os.X_OK), f"{hdhooks} is missing: the demo runs the project venv"
    # one stream, so that each error stays in the section of the step it belongs to
    p = subprocess.run(["bash", str(script)], cwd=REPO, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    out = p.stdout
    assert p.returncode == 0, out
    v1, rest = out.split("== v2:", 1)
    v2, rest = rest.split("== v3:", 1)
    v3, after = rest.split("== rollback:", 1)
    assert "Local deployment successful" in v1
    assert "service answers: 200 {'status': 'UP', 'build_id': 'hello-1.0.0'" in v1
    assert "service answers: 200 {'status': 'UP', 'build_id': 'hello-1.1.0'" in v2
    assert re.search(r"FAILED ValidateService hello-service in [\d.]+s: unhealthy "
                     r"http://127\.0\.0\.1:18080/health: .*HTTP 500", v3), v3
    assert re.search(r"^OK Rollback hello-service in [\d.]+s: now on release \S+ "
                     r"\(build hello-1\.1\.0\)", after, re.M), after
    assert "service answers: 200 {'status': 'UP', 'build_id': 'hello-1.1.0'" in after
    assert "Traceback" not in out
