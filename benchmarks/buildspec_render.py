"""Render and validate the 26-component manifest; the target is under 1 s.

Two figures: in-process (settings parsed, every buildspec rendered and
validated, templates compiled on the first run only) and whole-process (the
console script `hdhooks buildspec render ... --out-dir`, start-up included,
which is what a pipeline step pays).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from hdhooks.build.render import render_components, write_all
from hdhooks.build.settings import load_settings
from hdhooks.proc import run

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "examples" / "components.yml"
HDHOOKS = Path(sys.executable).parent / "hdhooks"
TARGET = 1.0


def in_process(out_dir: Path) -> float:
    start = time.perf_counter()
    components, _ = load_settings(str(MANIFEST))
    rendered = render_components(components, str(MANIFEST))
    write_all(rendered, out_dir)
    return time.perf_counter() - start


def whole_process(out_dir: Path) -> float:
    start = time.perf_counter()
    result = run([str(HDHOOKS), "buildspec", "render", str(MANIFEST), "--out-dir",
                  str(out_dir)], timeout=60)
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise SystemExit(f"render failed: {result.tail()}")
    return elapsed


def main() -> int:
    components, _ = load_settings(str(MANIFEST))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        first = in_process(out)
        warm = [in_process(out) for _ in range(10)]
        procs = [whole_process(out) for _ in range(5)]
    count = len(components)
    print(f"components: {count}")
    print(f"in-process, first (templates compiled): {first * 1000:.1f} ms")
    print(f"in-process, warm median of 10: {statistics.median(warm) * 1000:.1f} ms "
          f"({statistics.median(warm) / count * 1000:.2f} ms per component)")
    print(f"whole process (console script), median of 5: {statistics.median(procs) * 1000:.1f} ms"
          f" (max {max(procs) * 1000:.1f} ms)")
    worst = max(first, max(procs))
    verdict = "OK" if worst < TARGET else "OVER"
    print(f"target < {TARGET:.1f} s: {verdict} (worst {worst * 1000:.1f} ms)")
    return 0 if worst < TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
