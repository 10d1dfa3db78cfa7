"""A fleet deploying at once through the ALB emulator with AWS's rate budgets on.

Part 1: N components (default 26), one instance each in its own Auto Scaling
group behind its own target group, each instance a real example-service
process with its own IMDS identity, state directory and port. Every
instance runs the five lifecycle events through the installed
``hdhooks hook`` command at the same moment (a first deployment, then an
in-place upgrade), with ``traffic.fleet_concurrency`` set to N.

Part 2: the same components with 2 instances each (MinSize 1), deployed
HalfAtATime: the first instance of every group at once, then the second.

Figures: failed deployments (target 0), throttled answers and whether any
exhausted its retries (target 0), peak and mean calls per second per
operation family against the emulator's budgets, the traffic time per
instance (drain + healthy wait, from each hook's metric line) against the
physical floor (deregistration delay + the first passing health check), and
the Auto Scaling groups' capacity afterwards (no capacity race: desired and
MinSize as before, every instance InService and healthy).

Usage: .venv/bin/python benchmarks/fleet.py [COMPONENTS]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from typing import Any

from bedkit import Bed, BedMachine, have_moto
from common import free_port

from tests.e2e.hookkit import Run
from tests.support.alb_emulator import BUDGETS

INTERVAL, HEALTHY, DELAY = 5, 2, 5


def deploy_all(machines: list[BedMachine], label: str, n: int) -> dict[str, dict[str, Run]]:
    """Every machine's deployment in its own thread, all started together."""
    results: dict[str, dict[str, Run]] = {}
    start = threading.Barrier(len(machines))

    def one(m: BedMachine) -> None:
        bundle = m.traffic_bundle(f"{label}{n}", f"hello-{n}.0.0", mode="hdhooks",
                                  fleet_concurrency=len(machines))
        start.wait()
        try:
            results[m.instance.id] = m.deploy(
                bundle, f"d-{label.upper()}{n}{m.instance.id[-6:]}")
        except Exception as exc:  # a hook that hung past its timeout is a failed deployment
            results[m.instance.id] = {"deploy": Run([], 124, "", f"{type(exc).__name__}: {exc}")}

    threads = [threading.Thread(target=one, args=(m,)) for m in machines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def rates(bed: Bed, since: float, until: float) -> dict[str, tuple[int, float, int]]:
    """Per family: peak calls in any 1 s window, mean calls/s, throttled answers."""
    calls = [c for c in bed.emulator.calls(since=since) if c.time <= until]
    out = {}
    for fam in sorted({c.family for c in calls}):
        times = sorted(c.time for c in calls if c.family == fam)
        peak, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= 1.0:
                lo += 1
            peak = max(peak, hi - lo + 1)
        throttled = sum(1 for c in calls if c.family == fam and c.throttled)
        out[fam] = (peak, len(times) / max(until - since, 1e-9), throttled)
    return out


def floor_seconds(bed: Bed, m: BedMachine, since: float) -> float:
    """Deregistration delay + the first passing check after the instance asked for traffic."""
    marks = bed.emulator.transitions(m.comp.tg_arn, m.instance.id, since=since)
    asked = next((t.time for t in marks if t.state == "initial"), None)
    healthy = next((t.time for t in marks if t.state == "healthy" and asked
                    and t.time >= asked), None)
    first_pass = (healthy - asked) if asked and healthy else 0.0
    return DELAY + first_pass


def summarise(bed: Bed, title: str, machines: list[BedMachine],
              results: dict[str, dict[str, Run]], since: float, until: float) -> int:
    failed = [(iid, ev, run) for iid, runs in results.items() for ev, run in runs.items()
              if run.returncode != 0]
    exhausted = sum(1 for _, _, run in failed if "Throttling" in run.output)
    traffic, floors, walls = [], [], []
    for m in machines:
        runs = results[m.instance.id]
        if "ValidateService" not in runs:
            continue
        drain = float(runs["ApplicationStop"].emf().get("DrainSeconds", 0) or 0)
        wait = float(runs["ValidateService"].emf().get("HealthyWaitSeconds", 0) or 0)
        traffic.append(drain + wait)
        floors.append(floor_seconds(bed, m, since))
        walls.append(sum(float(r.emf()["Duration"]) / 1000 for r in runs.values()))
    print(f"{title}: {len(machines)} instances, wall {until - since:.1f} s")
    print(f"  failed deployments: {len({iid for iid, _, _ in failed})}; failures from "
          f"exhausted Throttling retries: {exhausted}")
    for iid, event, run in failed[:3]:
        said = run.outcome_line() if "FAILED" in run.stdout else run.stderr[-300:]
        print(f"    {iid} {event}: {said}")
    for fam, (peak, mean, throttled) in rates(bed, since, until).items():
        budget = BUDGETS.get(fam)
        limit = f"budget {budget[0]:.0f} burst, {budget[1]:.0f}/s" if budget else "no budget"
        print(f"  {fam}: peak {peak}/s, mean {mean:.2f}/s ({limit}); throttled answers "
              f"{throttled}")
    if traffic:
        print(f"  traffic time per instance (drain + healthy wait): median "
              f"{statistics.median(traffic):.1f} s, max {max(traffic):.1f} s; physical floor "
              f"median {statistics.median(floors):.1f} s (delay {DELAY} s + first pass); "
              f"whole deployment (5 hooks) median {statistics.median(walls):.1f} s")
    return len(failed)


def capacity(bed: Bed, comps: list[Any]) -> str:
    asg = bed.fleet.client("autoscaling")
    names = [c.asg_name for c in comps]
    bad = []
    for i in range(0, len(names), 50):
        for g in asg.describe_auto_scaling_groups(AutoScalingGroupNames=names[i:i + 50])[
                "AutoScalingGroups"]:
            states = {x["LifecycleState"] for x in g["Instances"]}
            want = len(next(c for c in comps if c.asg_name == g["AutoScalingGroupName"])
                       .instances)
            if g["DesiredCapacity"] != want or states != {"InService"}:
                bad.append(f"{g['AutoScalingGroupName']} desired {g['DesiredCapacity']} "
                           f"min {g['MinSize']} {sorted(states)}")
    unhealthy = [i.id for c in comps for i in c.instances
                 if bed.emulator.state(c.tg_arn, i.id).state != "healthy"]
    return (f"capacity afterwards: {len(bad)} groups off ({'; '.join(bad[:3])}), "
            f"{len(unhealthy)} instances not healthy")


def part(bed: Bed, count: int, per: int) -> int:
    comps = []
    for n in range(count):
        ports = [free_port() for _ in range(per)]
        comps.append(bed.fleet.add_component(
            f"c{n:02d}x{per}", ports[0], instances=per, min_size=per - 1, interval=INTERVAL,
            healthy=HEALTHY, dereg_delay=DELAY, ports=ports if per > 1 else None))
    halves = [[BedMachine(bed.tmp / f"{c.name}-{k}", bed, c, k) for c in comps]
              for k in range(per)]
    failures = 0
    try:
        for label, n in (("first", 1), ("upgrade", 2)):
            for k, machines in enumerate(halves):
                since = time.time()
                results = deploy_all(machines, f"{label}{k}", n)
                title = f"{count} components x {per}, {label} deployment"
                if per > 1:
                    title += f", half {k + 1} of {per} (HalfAtATime)"
                failures += summarise(bed, title, machines, results, since, time.time())
        print("  " + capacity(bed, comps))
    finally:
        for machines in halves:
            for m in machines:
                m.cleanup()
    return failures


def main() -> int:
    if not have_moto():
        print("skipped: moto is not installed (make test-deps)")
        return 0
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 26
    with Bed("fleet") as bed:
        failures = part(bed, count, 1)
        failures += part(bed, count, 2)
    print(f"failed hooks: {failures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
