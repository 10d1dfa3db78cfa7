"""Health detection latency: from the app answering healthy to the check returning.

The example service is started through the process backend with a boot
delay; it logs the moment it turns healthy (``ready_at``, on the
system-wide monotonic clock). The health check starts right away and polls;
the latency is the time the check returned minus ``ready_at``. Target: a
median of at most 0.25 s with the default settings (interval 0.2 s, one
success); also measured with a 0.1 s interval.

Usage: .venv/bin/python benchmarks/health_latency.py [RUNS]
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time

from common import HELLO_APP, free_port

from hdhooks.instance.health import HealthCheck, wait_healthy
from hdhooks.instance.service.base import ServiceSpec
from hdhooks.instance.service.factory import make_service

TARGET_MEDIAN = 0.25
HELLO = HELLO_APP


def ready_at(log_file: str) -> float:
    with open(log_file, encoding="utf-8") as f:
        found = re.findall(r"ready_at=([0-9.]+)", f.read())
    return float(found[-1])


def one_run(folder: str, interval: float, boot_delay: float) -> float:
    """Seconds from healthy to the check returning, for one start."""
    port = free_port()
    spec = ServiceSpec(
        name="hello", backend="process", log_dir=folder, pidfile=os.path.join(folder, "pid"),
        command=[sys.executable, HELLO, "--host", "127.0.0.1", "--port", str(port),
                 "--boot-delay", str(boot_delay)],
    )
    svc = make_service(spec)
    svc.start()
    try:
        result = wait_healthy(HealthCheck(f"http://127.0.0.1:{port}/health", interval=interval,
                                          deadline=30))
        returned = time.monotonic()
        if not result.ok:
            raise SystemExit(f"health check failed: {result.reason}")
        return returned - ready_at(spec.log_file)
    finally:
        svc.stop()


def measure(interval: float, runs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        return [one_run(folder, interval, boot_delay=0.3 + 0.037 * i) for i in range(runs)]


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    default = HealthCheck("http://x").interval
    ok = True
    for interval in (default, 0.1):
        lat = measure(interval, runs)
        med = statistics.median(lat)
        label = "default" if interval == default else "fast"
        print(f"health latency ({label}, interval {interval:g}s, {runs} runs): "
              f"median {med * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms, "
              f"min {min(lat) * 1000:.0f} ms")
        if interval == default:
            ok = med <= TARGET_MEDIAN
    print(f"target: median <= {TARGET_MEDIAN * 1000:.0f} ms with the defaults: "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
