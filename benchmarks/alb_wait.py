"""How soon hdhooks sees a target healthy, and what it costs in DescribeTargetHealth calls.

One component, the example service really running, deployed by the
installed ``hdhooks hook`` command through the ALB emulator (group interval
2 s, healthy threshold 2, deregistration delay 1 s). For each deployment the
benchmark watches the emulator: when the hook's RegisterTargets (or
ExitStandby) arrives, boto3's ``target_in_service`` waiter starts on the same
target in this process, once with its default 15 s delay and once with 1 s,
so both wait over the same registration. Figures per deployment:

* notice: from the emulator marking the target healthy to hdhooks' last
  DescribeTargetHealth (the one that saw it healthy). Target: at most 1 s;
* calls: hdhooks' DescribeTargetHealth calls during the wait, against each
  waiter's. Target: at most half of the waiter's;
* register -> healthy as hdhooks saw it, against CodeDeploy's own
  AllowTraffic model on the same settings (HealthyThreshold x interval +
  interval).

Usage: .venv/bin/python benchmarks/alb_wait.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from typing import Any

from bedkit import Bed, BedMachine, have_moto, hook_calls
from common import free_port

INTERVAL, HEALTHY = 2, 2
CODEDEPLOY_MODEL = HEALTHY * INTERVAL + INTERVAL
WAITER_DELAYS = (15, 1)


def waiter_client(bed: Bed, delay: int) -> Any:
    """An elbv2 client whose calls the emulator can tell apart (user agent)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "elbv2", region_name=bed.fleet.region, endpoint_url=bed.emulator.url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(user_agent_extra=f"bench-waiter/{delay}s",
                      retries={"mode": "standard", "max_attempts": 8}))


def waiter(client: Any, tg: str, iid: str, port: int, delay: int, out: dict[str, Any]) -> None:
    """boto3's target_in_service waiter on this target."""
    start = time.time()
    client.get_waiter("target_in_service").wait(
        TargetGroupArn=tg, Targets=[{"Id": iid, "Port": port}],
        WaiterConfig={"Delay": delay, "MaxAttempts": 40})
    out[f"waiter{delay}"] = (start, time.time())


def watch(bed: Bed, m: BedMachine, action: str, since: float, out: dict[str, Any]) -> None:
    """Start the waiters the moment the hook asks for traffic."""
    clients = {d: waiter_client(bed, d) for d in WAITER_DELAYS}
    for client in clients.values():  # connect before the clock starts
        client.describe_target_groups(TargetGroupArns=[m.comp.tg_arn])
    deadline = time.monotonic() + 300
    while not bed.emulator.calls(action, since=since):
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)
    out["asked"] = bed.emulator.calls(action, since=since)[0].time
    threads = [threading.Thread(target=waiter, args=(clients[d], m.comp.tg_arn, m.instance.id,
                                                     m.comp.port, d, out)) for d in WAITER_DELAYS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def one_deployment(bed: Bed, m: BedMachine, n: int, action: str, **traffic: Any
                   ) -> dict[str, float]:
    bundle = m.traffic_bundle(f"v{n}", f"hello-{n}.0.0", **traffic)
    since = time.time()
    seen: dict[str, Any] = {}
    watcher = threading.Thread(target=watch, args=(bed, m, action, since, seen))
    watcher.start()
    runs = m.deploy(bundle, f"d-WAIT{n:05d}")
    watcher.join()
    for event, run in runs.items():
        if run.returncode != 0:
            raise SystemExit(f"{event} failed:\n{run.describe()}")
    healthy = next(t.time for t in bed.emulator.transitions(m.comp.tg_arn, m.instance.id,
                                                        since=seen["asked"])
               if t.state == "healthy")
    calls = bed.emulator.calls("DescribeTargetHealth", since=seen["asked"])
    mine = hook_calls(calls, m.comp.tg_arn, seen["asked"], time.time())
    row = {"notice": mine[-1].time - healthy, "calls": float(len(mine)),
           "to_healthy": mine[-1].time - seen["asked"], "marked": healthy - seen["asked"]}
    for delay in WAITER_DELAYS:
        tag = f"bench-waiter/{delay}s"
        row[f"waiter{delay}"] = float(sum(1 for c in calls if tag in c.agent))
        row[f"waiter{delay}_notice"] = seen[f"waiter{delay}"][1] - healthy
    return row


def path_rounds(bed: Bed, rounds: int, standby: bool) -> list[dict[str, float]]:
    name = "standby" if standby else "register"
    comp = bed.fleet.add_component(name, free_port(), in_asg=standby, instances=1,
                                   min_size=0, interval=INTERVAL, healthy=HEALTHY,
                                   dereg_delay=1)
    m = BedMachine(bed.tmp / name, bed, comp)
    traffic: dict[str, Any] = {"mode": "hdhooks"}
    if not standby:
        traffic["target_groups"] = [comp.tg_name]
    action = "ExitStandby" if standby else "RegisterTargets"
    try:
        return [one_deployment(bed, m, n + 1, action, **traffic) for n in range(rounds)]
    finally:
        m.cleanup()


def report(name: str, rows: list[dict[str, float]]) -> None:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    worst = max(r["notice"] for r in rows)
    print(f"{name}: {len(rows)} deployments")
    print(f"  notice after the emulator marked healthy: median {med('notice'):.2f} s, "
          f"max {worst:.2f} s (target <= 1 s: {'met' if worst <= 1 else 'NOT met'})")
    for delay in WAITER_DELAYS:
        ratio = med("calls") / max(med(f"waiter{delay}"), 1)
        print(f"  DescribeTargetHealth calls: hdhooks {med('calls'):.0f}, waiter (delay "
              f"{delay} s) {med(f'waiter{delay}'):.0f}: {ratio:.2f}x; the waiter noticed "
              f"{med(f'waiter{delay}_notice'):.2f} s after the mark")
    print(f"  {name} -> healthy as hdhooks saw it: median {med('to_healthy'):.2f} s "
          f"(emulator mark {med('marked'):.2f} s); CodeDeploy AllowTraffic model "
          f"{CODEDEPLOY_MODEL} s (HealthyThreshold {HEALTHY} x interval {INTERVAL} s + "
          f"{INTERVAL} s)")


def main() -> int:
    if not have_moto():
        print("skipped: moto is not installed (make test-deps)")
        return 0
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with Bed("albwait") as bed:
        report("RegisterTargets", path_rounds(bed, rounds, standby=False))
        report("ExitStandby", path_rounds(bed, rounds, standby=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
