"""The AfterInstall release copy of a 5,000-file revision, against ``cp -a`` of it.

``ReleaseStore.promote`` (what AfterInstall runs) makes ``releases/<id>`` from
the unpacked revision; each run promotes into a fresh base directory on the
same disk, interleaved with ``cp -a`` of the same tree, and the medians are
printed. Cases: the revision the agent unpacked (``source: bundle``; as root,
its root-owned read-only files are hard-linked), the same with a service
group to grant read access to (every file copied with its new group), and
``incoming`` (always copied). Nothing is asserted. ``--settle SECONDS``
waits before each timed step, so that the deletions of the previous one do
not slow its file creations (see ``local_deploy.py``).

    python benchmarks/release_copy.py [--files 5000] [--runs 7] [--settle 31]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_deploy import make_tree

from hdhooks.instance.releases import ReleaseStore


def promote(tmp: str, revision: str, n: int, *, source: bool, gid: int | None) -> tuple[float, str]:
    store = ReleaseStore(os.path.join(tmp, f"base{n}"))
    start = time.perf_counter()
    store.promote(f"d-{n}", revision if source else None, reader_gid=gid)
    took = time.perf_counter() - start
    shutil.rmtree(store.base_dir)
    return took, store.last_copy


def cp_a(tmp: str, revision: str) -> float:
    target = os.path.join(tmp, "cp")
    start = time.perf_counter()
    subprocess.run(["cp", "-a", revision, target], check=True)
    took = time.perf_counter() - start
    shutil.rmtree(target)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--settle", type=float, default=0)
    args = parser.parse_args()
    cases = {"bundle": (True, None), "bundle, service group": (True, 1),
             "incoming": (False, None)}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        revision = os.path.join(tmp, "revision")
        make_tree(revision, args.files)
        incoming = os.path.join(tmp, "base{n}", "incoming")
        times: dict[str, list[float]] = {name: [] for name in [*cases, "cp -a"]}
        how: dict[str, str] = {}
        for n in range(args.runs):
            for name, (source, gid) in cases.items():
                if not source:  # incoming: the agent's Install put the revision there
                    os.makedirs(os.path.dirname(incoming.format(n=n)))
                    subprocess.run(["cp", "-a", revision, incoming.format(n=n)], check=True)
                time.sleep(args.settle)
                took, how[name] = promote(tmp, revision, n, source=source, gid=gid)
                times[name].append(took)
            time.sleep(args.settle)
            times["cp -a"].append(cp_a(tmp, revision))
    floor = statistics.median(times["cp -a"])
    print(f"release copy, {args.files} files, {args.runs} runs, as uid {os.geteuid()}, "
          f"settle {args.settle:g} s:")
    for name, t in times.items():
        med = statistics.median(t)
        note = f" [{how[name]}]" if name in how else ""
        print(f"  {name}: median {med:.3f} s ({min(t):.3f}-{max(t):.3f}), "
              f"{med / floor:.2f}x cp -a{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
