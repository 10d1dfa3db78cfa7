"""Start-up cost of the ``hdhooks`` console script against a bare Python.

A hook is a fresh process, so ``hdhooks --version`` must cost little more
than starting Python. Prints the median wall time of whole-process runs of
``hdhooks --version`` and ``python -c pass`` (the venv's own Python) and
their ratio; the target is a ratio of at most 1.5.

Usage: .venv/bin/python benchmarks/startup.py [RUNS]
"""

from __future__ import annotations

import os
import sys
import tempfile

from common import HDHOOKS, machine, median_run

TARGET_RATIO = 1.5
SAMPLE = "version: 0.0\nos: linux\nhooks:\n" + "".join(
    f"  {event}:\n    - location: hooks/{event}.sh\n      timeout: 300\n"
    for event in ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart",
                  "ValidateService")
)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    script = HDHOOKS
    python = median_run([sys.executable, "-c", "pass"], runs)
    hdhooks = median_run([script, "--version"], runs)
    ratio = hdhooks / python
    with tempfile.TemporaryDirectory() as tmp:
        appspec = os.path.join(tmp, "appspec.yml")
        with open(appspec, "w", encoding="utf-8") as fh:
            fh.write(SAMPLE)
        validate = median_run([script, "appspec", "validate", appspec], runs)
    print(machine(runs))
    print(f"python -c pass     {python * 1000:7.1f} ms")
    print(f"hdhooks --version  {hdhooks * 1000:7.1f} ms")
    print(f"ratio              {ratio:7.2f}  (target <= {TARGET_RATIO})")
    print(f"hdhooks appspec validate (5 hooks) {validate * 1000:7.1f} ms  (for reference)")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
