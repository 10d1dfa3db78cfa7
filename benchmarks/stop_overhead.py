"""ApplicationStop overhead: the time a stop takes beyond the app's own shutdown.

The example service is started through the process backend with a known
``--stop-delay`` (its own shutdown time, like a slow JVM) and stopped with
``Service.stop()``; the overhead is the stop's duration minus that delay
(it includes signalling, noticing the exit, the pidfile and the port check,
and the app's own exit path). Target: median at most 0.15 s.

Usage: .venv/bin/python benchmarks/stop_overhead.py [RUNS]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from common import HELLO_APP, free_port

from hdhooks.instance.health import HealthCheck, wait_healthy
from hdhooks.instance.service.base import ServiceSpec
from hdhooks.instance.service.factory import make_service

TARGET_MEDIAN = 0.15
STOP_DELAY = 0.5
HELLO = HELLO_APP


def one_run(folder: str) -> float:
    port = free_port()
    svc = make_service(ServiceSpec(
        name="hello", backend="process", log_dir=folder, pidfile=os.path.join(folder, "pid"),
        port=port,
        command=[sys.executable, HELLO, "--host", "127.0.0.1", "--port", str(port),
                 "--stop-delay", str(STOP_DELAY)],
    ))
    svc.start()
    if not wait_healthy(HealthCheck(f"http://127.0.0.1:{port}/health", deadline=30)).ok:
        raise SystemExit("the service did not become healthy")
    began = time.monotonic()
    result = svc.stop()
    took = time.monotonic() - began
    if not result.ok:
        raise SystemExit(f"stop failed: {result.describe()}")
    return took - STOP_DELAY


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    with tempfile.TemporaryDirectory() as folder:
        over = [one_run(folder) for _ in range(runs)]
    med = statistics.median(over)
    print(f"stop overhead (process backend, app stop delay {STOP_DELAY:g}s, {runs} runs): "
          f"median {med * 1000:.0f} ms, max {max(over) * 1000:.0f} ms, "
          f"min {min(over) * 1000:.0f} ms")
    ok = med <= TARGET_MEDIAN
    print(f"target: median <= {TARGET_MEDIAN * 1000:.0f} ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
