"""Which hook scripts are the hdhooks shim (table of script texts)."""

from __future__ import annotations

import pytest

from hdhooks.lint.scaffold import TEMPLATE_ROOT
from hdhooks.lint.shims import MODIFIED, OTHER, SHIM, classify

SHIM_TEXT = (TEMPLATE_ROOT / "hooks" / "application-stop.sh").read_text()

CASES = [
    ("the shipped shim", SHIM_TEXT, SHIM, 0),
    ("plain exec", "#!/bin/sh\nexec hdhooks hook\n", SHIM, 0),
    ("absolute path", "#!/bin/sh\nexec /opt/hdhooks/bin/hdhooks hook --bundle x\n", SHIM, 0),
    ("set options allowed", "#!/bin/sh\nset -eu\n# why\n\nexec hdhooks hook\n", SHIM, 0),
    ("command before exec", "#!/bin/sh\necho hi\nexec hdhooks hook\n", MODIFIED, 2),
    ("command after exec", "#!/bin/sh\nexec hdhooks hook\nrm -rf /tmp/x\n", MODIFIED, 3),
    ("no exec", "#!/bin/sh\nhdhooks hook --bundle .\n", MODIFIED, 2),
    ("another hdhooks command", "#!/bin/sh\nexec hdhooks rollback\n", MODIFIED, 2),
    ("only a comment mentions it", "#!/bin/sh\n# not hdhooks\nsystemctl stop x\n", OTHER, 0),
    ("someone else's script", "#!/bin/bash\nsystemctl stop api\n", OTHER, 0),
    ("empty", "", OTHER, 0),
]


@pytest.mark.parametrize(("text", "kind", "line"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_classify(text: str, kind: str, line: int) -> None:
    check = classify(text)
    assert (check.kind, check.line) == (kind, line)
