"""Whole-process time of ``hdhooks local deploy`` at real bundle sizes.

Each case builds a bundle in a temp directory on the disk under test and
deploys it several times into a temp deployment root (each run a fresh
process, as in CI or on a laptop), the runs of every contender interleaved
so that they share the disk's moods. Contenders:

- ``hdhooks``: ``hdhooks local deploy`` with OVERWRITE;
- ``agent``: ``codedeploy-local`` with the same options, when it is on PATH,
  on a copy of the bundle that installs to its own destination (each
  contender then removes only its own previous install, as on an instance);
- ``floor``: what the disk allows for the same tree: ``tar -xzf`` of the
  bundle (or ``cp -a`` of a directory bundle) into a fresh directory, then
  ``cp -a`` of the installed tree to the destination, then ``rm -rf`` of the
  previous run's two copies (the same work as a redeployment, in the order
  that is cheapest for the disk: new files first, old ones deleted after).
  ``cp`` runs with ``--reflink=never``: on XFS, a reflink (``cp``'s default)
  of files just unpacked waits for them to be written out and takes three
  times as long, and the floor is the cheapest way, not the default one.

``--settle SECONDS`` waits before every run. On ext4 without a journal the
kernel will not reuse an inode freed less than 30 s ago, and checks every
such inode of the block group on each file it creates (``perf`` shows the
time in ``find_inode_bit`` / ``recently_deleted``): a contender that runs
just after another has deleted thousands of files pays for that deletion.
``--settle 31`` gives each run a disk that only its own work has touched.

Prints median / min / max per contender, the ratios and hdhooks' peak RSS.
Nothing is asserted: the figures go to RESULTS.md.

    python benchmarks/local_deploy.py                 # 50 and 5,000 files, every kind
    python benchmarks/local_deploy.py --files 50000 --kinds directory,tgz --runs 3
    python benchmarks/local_deploy.py --chatty        # 5 hooks x 20,000 lines
    python benchmarks/local_deploy.py --files 5000 --settle 31
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
from common import HDHOOKS, timed_child

EVENTS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart",
          "ValidateService")
KINDS = ("directory", "directory+permissions", "tgz", "zip")


def make_tree(app: str, files: int) -> None:
    """``files`` small files in ``files // 100`` directories (at least 5), a few links."""
    dirs = max(files // 100, 5)
    for d in range(dirs):
        os.makedirs(os.path.join(app, f"d{d:04}"), exist_ok=True)
    for i in range(files):
        with open(os.path.join(app, f"d{i % dirs:04}", f"f{i}.js"), "w") as fh:
            fh.write(f"export const v{i} = {i};\n" * (1 + i % 7))
    os.symlink("d0000/f0.js", os.path.join(app, "entry.js"))


def make_bundle(where: str, files: int, dest: str, *, permissions: bool = False,
                chatty: int = 0) -> str:
    """A directory bundle: ``app/`` (installed to ``dest``) and 5 hooks."""
    bundle = os.path.join(where, "bundle")
    os.makedirs(os.path.join(bundle, "scripts"))
    make_tree(os.path.join(bundle, "app"), files)
    hooks = []
    for event in EVENTS:
        path = os.path.join(bundle, "scripts", f"{event}.sh")
        body = (f"i=0; while [ $i -lt {chatty} ]; do echo \"{event} line $i\"; "
                "i=$((i+1)); done\n" if chatty else f"echo {event}\n")
        with open(path, "w") as fh:
            fh.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        hooks.append(f"  {event}:\n    - location: scripts/{event}.sh\n      timeout: 300\n")
    perms = ""
    if permissions:
        perms = (f"permissions:\n  - object: {dest}\n    pattern: \"**\"\n    mode: 640\n"
                 "    owner: root\n    group: root\n    type:\n      - file\n"
                 f"  - object: {dest}\n    pattern: \"**\"\n    mode: 750\n"
                 "    type:\n      - directory\n")
    with open(os.path.join(bundle, "appspec.yml"), "w") as fh:
        fh.write("version: 0.0\nos: linux\nfiles:\n  - source: app\n"
                 f"    destination: {dest}\nfile_exists_behavior: OVERWRITE\n" + perms
                 + "hooks:\n" + "".join(hooks))
    return bundle


def pack(bundle: str, kind: str) -> str:
    """The bundle as ``kind`` (directory, tgz, zip), made with the system tools."""
    if kind.startswith("directory"):
        return bundle
    out = bundle + (".tgz" if kind == "tgz" else ".zip")
    if kind == "tgz":
        subprocess.run(["tar", "-czf", out, "-C", bundle, "."], check=True)
    else:
        subprocess.run(["zip", "-qry", out, "."], cwd=bundle, check=True)
    return out


def contenders(tmp: str, location: str, kind: str, dest: str,
               agent_location: str = "") -> dict[str, list[str]]:
    root = os.path.join(tmp, "root")
    deploy = ["local", "deploy", "-l", location, "-b", "OVERWRITE"]
    out = {"hdhooks": [HDHOOKS, *deploy, "--root", root]}
    agent = shutil.which("codedeploy-local")
    if agent and agent_location:
        out["agent"] = [agent, "--bundle-location", agent_location, "--type",
                        "directory" if kind.startswith("directory") else kind,
                        "--file-exists-behavior", "OVERWRITE"]
    floor_dir = os.path.join(tmp, "floor")
    unpack = (f"cp -a --reflink=never {location}/. {floor_dir}/rev" if kind.startswith("directory")
              else f"tar -xzf {location} -C {floor_dir}/rev" if kind == "tgz"
              else f"unzip -qo {location} -d {floor_dir}/rev")
    new, old = f"{floor_dir}.new", f"{floor_dir}.old"
    unpack = unpack.replace(f"{floor_dir}/rev", f"{new}/rev")
    out["floor"] = ["sh", "-c", f"set -e; rm -rf {new} {dest}.new; mkdir -p {new}/rev; {unpack}; "
                    f"cp -a --reflink=never {new}/rev/app {dest}.new; "
                    f"if [ -d {floor_dir} ]; then mv {floor_dir} {old}; "
                    f"mv {dest}.floor {dest}.old; fi; "
                    f"mv {new} {floor_dir}; mv {dest}.new {dest}.floor; "
                    f"rm -rf {old} {dest}.old"]
    return out


def run_case(files: int, kind: str, runs: int, chatty: int = 0, settle: float = 0) -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        dest = os.path.join(tmp, "dest")
        bundle = make_bundle(tmp, files, dest, permissions=kind.endswith("permissions"),
                             chatty=chatty)
        location = pack(bundle, kind)
        agent_location = ""
        if shutil.which("codedeploy-local"):  # the same bundle, its own destination
            agent_dir = os.path.join(tmp, "agent")
            agent_location = pack(make_bundle(agent_dir, files, dest + ".agent",
                                              permissions=kind.endswith("permissions"),
                                              chatty=chatty), kind)
        cmds = contenders(tmp, location, kind, dest, agent_location)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        peak = 0
        for argv in cmds.values():  # warm-up: caches, the first install
            time.sleep(settle)
            timed_child(argv)
        for _ in range(runs):
            for name, argv in cmds.items():
                time.sleep(settle)
                took, rss = timed_child(argv)
                times[name].append(took)
                if name == "hdhooks":
                    peak = max(peak, rss)
    what = f"5 hooks x {chatty} lines" if chatty else f"{files} files, {kind}"
    med = {name: statistics.median(t) for name, t in times.items()}
    parts = [f"{name} {med[name]:.2f} s ({min(t):.2f}-{max(t):.2f})" for name, t in times.items()]
    ratios = [f"{med['hdhooks'] / med[n]:.2f}x {n}" for n in med if n != "hdhooks"]
    print(f"{what}, {runs} runs: " + ", ".join(parts) + "; hdhooks = " + ", ".join(ratios)
          + f"; hdhooks peak RSS {peak / 1024:.0f} MiB", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", default="50,5000", help="comma-separated file counts")
    parser.add_argument("--kinds", default=",".join(KINDS), help=", ".join(KINDS))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--settle", type=float, default=0,
                        help="seconds to wait before each run (31: see above)")
    parser.add_argument("--chatty", action="store_true",
                        help="only the case of 5 hooks printing 20,000 lines each")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"codedeploy-local: {shutil.which('codedeploy-local') or 'not installed'}; "
          f"settle {args.settle:g} s; load average {os.getloadavg()[0]:.2f}")
    if args.chatty:
        run_case(50, "directory", args.runs, chatty=20_000, settle=args.settle)
        return 0
    for files in (int(f) for f in args.files.split(",")):
        for kind in args.kinds.split(","):
            run_case(files, kind, args.runs, settle=args.settle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
