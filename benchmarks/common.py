"""What the benchmark scripts share: whole-process timing, ports, the example app."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "hello-service")
HELLO_APP = os.path.join(EXAMPLE, "app", "hello_service.py")
#: The hdhooks command next to the interpreter running the benchmark.
HDHOOKS = os.path.join(os.path.dirname(sys.executable), "hdhooks")


def median_run(argv: list[str], runs: int, env: Mapping[str, str] | None = None) -> float:
    """Median wall time in seconds of ``runs`` runs of ``argv`` (after one warm-up)."""
    subprocess.run(argv, check=True, capture_output=True, env=env)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed_child(argv: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak RSS (KiB) of one run of ``argv``, which must succeed.

    The RSS is the child's own (``wait4``), not the largest of every child so far.
    """
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    took = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        raise SystemExit(f"{argv[0]} exited {child.returncode}")
    return took, usage.ru_maxrss


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine(runs: int) -> str:
    """The line that says where the figures come from."""
    return (f"machine: {platform.machine()} {platform.python_implementation()} "
            f"{platform.python_version()}, {os.cpu_count()} cpus; median of {runs} runs")
