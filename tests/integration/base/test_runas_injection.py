"""runas with a deployment root whose path holds shell metacharacters (root only).

``su USER -c STRING`` hands STRING to the user's shell: the script path is
quoted for it, so the script runs and nothing in the path is executed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.integration.agent.bundles import deploy, make_bundle
from tests.support.users import ensure_user

USER, GROUP = "hdhooks-app", "hdhooks-grp"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None,
    reason="needs root and useradd to create real users",
)

NAMES = [
    "semi;touch PWNED;x",
    "sub$(touch PWNED)x",
    "tick`touch PWNED`x",
    "with space && touch PWNED",
    "quote'; touch PWNED; echo '",
    'dquote"; touch PWNED; echo "',
    "line\ntouch PWNED\n",
    "pipe|touch PWNED",
]


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_root_path_metacharacters_run_only_the_script(hdhooks_bin: str, open_tmp: Path,
                                                       name: str) -> None:
    ensure_user(USER, GROUP)
    bundle = make_bundle(
        open_tmp / "b",
        f"version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: who.sh\n"
        f"      runas: {USER}\n      timeout: 10\n",
        scripts={"who.sh": '#!/bin/sh\necho "ran-as=$(id -un)"\n'},
    )
    bundle.chmod(0o755)
    holder = open_tmp / name
    holder.mkdir()
    holder.chmod(0o755)
    root = holder / "root"
    r = deploy(hdhooks_bin, "-l", bundle, "--root", root, env={"HOME": str(open_tmp)})
    assert r.returncode == 0, r.stderr
    log = next(root.rglob("scripts.log")).read_text()
    assert f"[stdout]ran-as={USER}" in log
    planted = [p for p in Path("/").glob("PWNED")] + list(open_tmp.rglob("PWNED"))
    assert planted == []
