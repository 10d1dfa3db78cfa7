"""Render and validate the CloudFormation of the 26-component, 3-account manifest.

Whole-process figures, as a pipeline step or a laptop pays them: the
console script `hdhooks provision render` (28 templates, 84 parameter
files) and `hdhooks provision validate` (cfn-lint on every template and the
parameter files), each with its wall time and peak resident memory (the
child's ru_maxrss).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "examples" / "components.yml"
HDHOOKS = Path(sys.executable).parent / "hdhooks"


def measured(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one run of ``argv`` in a fresh child."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: exec the command, its rusage is its own
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return elapsed, usage.ru_maxrss / 1024


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        render = measured([str(HDHOOKS), "provision", "render", str(MANIFEST), "--out-dir", out])
        validate = measured([str(HDHOOKS), "provision", "validate", out])
        templates = len(list(Path(out, "templates").rglob("*.yml")))
        params = len(list(Path(out, "parameters").rglob("*.json")))
        size = max(p.stat().st_size for p in Path(out, "templates").rglob("*.yml"))
    print(f"provision render:   {render[0]:6.2f} s  peak {render[1]:6.1f} MiB  "
          f"({templates} templates, {params} parameter files, largest {size} bytes)")
    print(f"provision validate: {validate[0]:6.2f} s  peak {validate[1]:6.1f} MiB  "
          f"(cfn-lint on {templates} templates, {validate[0] / templates:.2f} s each)")
    print(f"machine: {os.cpu_count()} cpu, load {os.getloadavg()[0]:.1f}, "
          f"python {sys.version.split()[0]}, self peak "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
