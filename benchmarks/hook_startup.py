"""Start-up cost of ``hdhooks hook`` for events that need no AWS.

Every lifecycle event starts a fresh ``hdhooks hook`` process, so its fixed
cost is paid nine times per deployment on every instance. Prints the median
wall time of whole-process runs (after one warm-up run, which also fills the
config cache as the first hook of a deployment does) against a bare
``python -c pass`` of the same interpreter; the target is at most 2x.

Measured: BeforeAllowTraffic (nothing to do without traffic control: pure
start-up, config included) and, for reference, ApplicationStop of a service
that is not running and a --dry-run of ValidateService.

Usage: .venv/bin/python benchmarks/hook_startup.py [RUNS]
"""

from __future__ import annotations

import os
import sys
import tempfile

from common import EXAMPLE, HDHOOKS, machine, median_run

TARGET_RATIO = 2.0
BUNDLE = EXAMPLE


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    script = HDHOOKS
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "HDHOOKS_STATE_DIR": state, "DEPLOYMENT_ID": "d-BENCH0001"}
        hook = [script, "hook", "--bundle", BUNDLE, "--environment", "demo"]
        python = median_run([sys.executable, "-c", "pass"], runs, env)
        empty = median_run([*hook, "BeforeAllowTraffic"], runs, env)
        stop = median_run([*hook, "ApplicationStop"], runs, env)
        dry = median_run([*hook, "--dry-run", "ValidateService"], runs, env)
    ratio = empty / python
    print(machine(runs))
    print(f"python -c pass                         {python * 1000:7.1f} ms")
    print(f"hdhooks hook BeforeAllowTraffic        {empty * 1000:7.1f} ms  "
          f"ratio {ratio:.2f} (target <= {TARGET_RATIO})")
    print(f"hdhooks hook ApplicationStop (stopped) {stop * 1000:7.1f} ms  "
          f"ratio {stop / python:.2f}")
    print(f"hdhooks hook --dry-run ValidateService {dry * 1000:7.1f} ms  "
          f"ratio {dry / python:.2f}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
