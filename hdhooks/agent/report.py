"""What a local deployment did, for people (a summary) and machines (JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from hdhooks.agent.scripts import ScriptResult
from hdhooks.errors import HdhooksError


@dataclass
class EventRecord:
    """One lifecycle event as it ran. status: succeeded, failed, skipped, interrupted."""

    name: str
    status: str = "succeeded"
    duration: float = 0.0
    revision: str = "new"  # new, previous, none
    revision_dir: str | None = None
    scripts: list[ScriptResult] = field(default_factory=list)
    note: str = ""
    error: str = ""


@dataclass
class RunReport:
    deployment_id: str
    deployment_dir: str
    group_id: str
    group_name: str
    application_name: str
    root: str
    appspec: str
    events: list[EventRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: HdhooksError | None = None
    dry_run: bool = False
    removed_deployments: list[str] = field(default_factory=list)  # beyond max_revisions

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def exit_code(self) -> int:
        return 0 if self.error is None else int(self.error.exit_code)

    @property
    def scripts_log(self) -> str:
        return f"{self.deployment_dir}/logs/scripts.log"

    def failed_script(self) -> ScriptResult | None:
        for e in self.events:
            for s in e.scripts:
                if not s.ok:
                    return s
        return None

    def to_dict(self) -> dict[str, object]:
        failed = self.failed_script()
        return {
            "deployment_id": self.deployment_id,
            "deployment_dir": self.deployment_dir,
            "deployment_group_id": self.group_id,
            "deployment_group_name": self.group_name,
            "application_name": self.application_name,
            "root": self.root,
            "appspec": self.appspec,
            "status": "succeeded" if self.ok else "failed",
            "exit_code": self.exit_code,
            "scripts_log": self.scripts_log,
            "events": [_event_dict(e) for e in self.events],
            "warnings": self.warnings,
            "removed_deployments": self.removed_deployments,
            "error": None if self.error is None else {
                "message": self.error.one_line(),
                "details": self.error.details(),
                "result_code": failed.code if failed else None,
                "script": failed.location if failed else None,
                "output_tail": failed.tail if failed else [],
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _event_dict(e: EventRecord) -> dict[str, object]:
    return {
        "name": e.name,
        "status": e.status,
        "duration": round(e.duration, 3),
        "revision": e.revision,
        "revision_dir": e.revision_dir,
        "note": e.note,
        "error": e.error or None,
        "scripts": [
            {
                "location": s.location,
                "result_code": s.code,
                "message": s.message,
                "exit_status": s.exit_status,
                "duration": round(s.duration, 3),
                "killed": s.killed,
                "pipe_holders": s.holders,
                "warnings": s.warnings,
                "hint": s.hint or None,
            }
            for s in e.scripts
        ],
    }


def event_line(e: EventRecord, width: int = 18) -> str:
    """One line per event: name, status, duration, where the scripts came from."""
    what = e.note or ""
    if e.revision == "previous" and e.revision_dir:
        what = f"previous revision {e.revision_dir}" + (f"; {what}" if what else "")
    return f"  {e.name:<{width}}  {e.status:<11} {e.duration:6.2f}s  {what}".rstrip()


def failure_lines(report: RunReport) -> list[str]:
    """Why the deployment failed: the agent-style message, result code, output tail, log."""
    if report.error is None:
        return []
    failed = report.failed_script()
    lines = [f"hdhooks: error: {report.error.one_line()}"]
    lines += [f"  {d}" for d in report.error.details()]
    if failed is not None:
        lines.append(f"  result code: {failed.code} ({RESULT_NAMES.get(failed.code, '?')})")
        if failed.hint:
            lines.append(f"  hint: {failed.hint}")
        for who in failed.killed:
            lines.append(f"  ended: {who}")
        for who in failed.holders:
            lines.append(f"  output still held open by: {who}")
        if failed.tail:
            lines.append(f"  last {len(failed.tail)} line(s) of output:")
            lines += [f"    {t}" for t in failed.tail]
        lines.append(f"  full log: {report.scripts_log}")
    return lines


RESULT_NAMES = {
    0: "succeeded",
    1: "script missing",
    2: "script not executable",
    3: "timed out",
    4: "script failed",
    5: "unknown error",
    6: "output left open",
}
