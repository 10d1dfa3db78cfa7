"""Whole-process time of ``hdhooks local deploy``: 5 trivial hooks, 50 files.

Builds a directory bundle in a temp directory, deploys it ~10 times into a
temp deployment root (each run is a fresh process, as in CI or on a laptop)
and prints the median, min and max wall time. Target: median <= 0.27 s on a
2-core machine (codedeploy-local: about 0.54 s for the same bundle).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 10
TARGET = 0.27
EVENTS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart",
          "ValidateService")


def make_bundle(where: str, dest: str) -> str:
    bundle = os.path.join(where, "bundle")
    os.makedirs(os.path.join(bundle, "scripts"))
    for i in range(50):
        sub = os.path.join(bundle, "app", f"d{i % 5}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{i}.txt"), "w") as fh:
            fh.write(f"file {i}\n")
    hooks = []
    for event in EVENTS:
        path = os.path.join(bundle, "scripts", f"{event}.sh")
        with open(path, "w") as fh:
            fh.write(f"#!/bin/sh\necho {event}\n")
        os.chmod(path, 0o755)
        hooks.append(f"  {event}:\n    - location: scripts/{event}.sh\n      timeout: 30\n")
    with open(os.path.join(bundle, "appspec.yml"), "w") as fh:
        fh.write("version: 0.0\nos: linux\nfiles:\n  - source: app\n"
                 f"    destination: {dest}\nhooks:\n" + "".join(hooks))
    return bundle


def main() -> int:
    exe = os.path.join(os.path.dirname(sys.executable), "hdhooks")
    with tempfile.TemporaryDirectory() as tmp:
        bundle = make_bundle(tmp, os.path.join(tmp, "dest"))
        root = os.path.join(tmp, "root")
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            proc = subprocess.run([exe, "local", "deploy", "-l", bundle, "--root", root],
                                  capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if proc.returncode != 0:
                sys.stderr.write(proc.stdout + proc.stderr)
                return 1
    median = statistics.median(times)
    print(f"local deploy, 5 hooks + 50 files, {RUNS} runs: median {median:.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s (target <= {TARGET} s)")
    return 0 if median <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
