"""The doctor's checks in order, and their table or JSON document.

Order matters: IMDS finds the instance id and region, the region lets STS
run, STS's ARN lets IAM simulate. ``--bake`` drops the checks only a
running instance can answer (the agent running, metadata, credentials,
network, Standby, deployment groups).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from hdhooks.doctor import cloud, deploys, files, host, imds, network
from hdhooks.doctor.model import FAIL, SKIP, STATUSES, CheckSpec, Context, Finding
from hdhooks.errors import ExitCode, HdhooksError

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("hdhooks", host.check_hdhooks),
    CheckSpec("python", host.check_python),
    CheckSpec("codedeploy agent", host.check_agent),
    CheckSpec("codedeploy agent running", host.check_agent_running, instance_only=True),
    CheckSpec("systemd", host.check_systemd),
    CheckSpec("disk", files.check_disk),
    CheckSpec("state directories", files.check_state_dirs),
    CheckSpec("component configs", files.check_configs),
    CheckSpec("journal", files.check_journal),
    CheckSpec("imdsv2", imds.check_imds, instance_only=True),
    CheckSpec("region", cloud.check_region, instance_only=True),
    CheckSpec("credentials", cloud.check_identity, instance_only=True),
    CheckSpec("metadata options", cloud.check_metadata_options, instance_only=True),
    CheckSpec("https endpoints", network.check_endpoints, instance_only=True),
    CheckSpec("clock", network.check_clock, instance_only=True),
    CheckSpec("iam actions", deploys.check_iam, instance_only=True),
    CheckSpec("standby", cloud.check_standby, instance_only=True),
    CheckSpec("traffic control", deploys.check_traffic_control, instance_only=True),
)


def run_checks(ctx: Context, checks: Sequence[CheckSpec] = CHECKS) -> list[Finding]:
    """Every check's findings; a check that raises becomes its own fail line."""
    found: list[Finding] = []
    for spec in checks:
        if ctx.bake and spec.instance_only:
            continue
        try:
            found.extend(spec.run(ctx))
        except HdhooksError as exc:
            found.append(Finding(spec.name, FAIL, exc.one_line(), exc.hint))
        except OSError as exc:
            found.append(Finding(spec.name, FAIL, f"{type(exc).__name__}: {exc}"))
    return found


def table(findings: Sequence[Finding]) -> list[str]:
    """Aligned ``STATUS  CHECK  DETAIL`` lines, each fix on the line below."""
    width = max((len(f.check) for f in findings), default=0)
    lines: list[str] = []
    for f in findings:
        lines.append(f"{f.status.upper():<4}  {f.check:<{width}}  {f.detail}")
        if f.fix and f.status != "ok":
            lines.append(f"{'':<4}  {'':<{width}}  fix: {f.fix}")
    return lines


def summary(findings: Sequence[Finding]) -> str:
    counts = {s: sum(1 for f in findings if f.status == s) for s in STATUSES}
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    verdict = "FAILED" if counts[FAIL] else "OK"
    return f"doctor: {verdict} ({shown or 'nothing checked'})"


def doctor(*, root: str = "/", bake: bool = False, fmt: str = "text") -> int:
    """Run the checks, print the table (or JSON), exit 1 when any failed."""
    ctx = Context(root=root, bake=bake)
    findings = run_checks(ctx)
    failed = any(f.status == FAIL for f in findings)
    if fmt == "json":
        doc = {"ok": not failed, "bake": bake, "root": root,
               "checks": [f.as_dict() for f in findings]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        for line in table(findings):
            sys.stdout.write(line + "\n")
        sys.stderr.write(summary(findings) + "\n")
    return ExitCode.FAILED if failed else ExitCode.OK


__all__ = ["CHECKS", "SKIP", "doctor", "run_checks", "summary", "table"]
