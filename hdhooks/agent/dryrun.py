"""The display-only executor: what ``local deploy --dry-run`` prints.

It builds the same plan as a real run (an archive is unpacked into a
temporary directory outside the deployment root, then removed) and asks the
Install walk what it would do after the previous install is cleaned up.
Nothing in the deployment root or at any destination is touched; no lock is
taken.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

from hdhooks import fsremove
from hdhooks.agent import bundle, cleanup, instructions, layout, listing
from hdhooks.agent import plan as planmod
from hdhooks.agent import spec as specmod
from hdhooks.agent.ids import new_deployment_id
from hdhooks.agent.runner import stage
from hdhooks.errors import HdhooksError


@dataclass
class DryRun:
    plan: planmod.Plan
    instructions: instructions.Instructions | None = None
    cleanup: list[str] = field(default_factory=list)  # paths the cleanup would remove
    problem: str = ""  # why Install would fail

    @property
    def exit_code(self) -> int:
        return 1 if self.problem else 0

    def to_dict(self) -> dict[str, object]:
        p = self.plan
        instr = self.instructions
        return {
            "dry_run": True,
            "deployment_dir": p.deployment_dir,
            "deployment_group_id": p.options.group_id,
            "root": p.options.root,
            "appspec": p.spec.path,
            "file_exists_behavior": p.behavior,
            "events": [
                {"name": s.event, "kind": s.kind, "revision": s.revision,
                 "revision_dir": s.revision_dir, "error": s.error or None,
                 "hint": s.hint or None,
                 "scripts": [sc.location for sc in s.scripts]}
                for s in p.steps
            ],
            "cleanup_removes": self.cleanup,
            "instructions": [i.as_json() for i in instr.items] if instr else [],
            "conflicts": instr.conflicts if instr else [],
            "overwritten": instr.overwritten if instr else [],
            "retained": instr.retained if instr else [],
            "problem": self.problem or None,
            "warnings": p.spec.warnings,
        }


def dry_run(options: planmod.Options) -> DryRun:
    lay = layout.Layout(options.root, options.group_id)
    bundle.check_root(options.bundle, options.bundle_type, options.root)
    tmp = tempfile.mkdtemp(prefix="hdhooks-dry-run-")
    try:
        staged = stage(options, os.path.join(tmp, "revision"))
        loaded = specmod.load(staged, options.appspec_filename)
        plan = planmod.build(options, new_deployment_id(), lay, loaded, staged)
        planmod.check_event_names(plan)
        result = DryRun(plan)
        result.cleanup = cleanup.cleanup_would_remove(listing.read_cleanup(lay.cleanup_file))
        fs = instructions.FsView(result.cleanup)
        try:
            result.instructions = instructions.generate(loaded.spec, staged, plan.behavior, fs)
        except HdhooksError as exc:
            result.problem = exc.one_line()
        if result.instructions and result.instructions.conflicts:
            result.problem = (
                f"{len(result.instructions.conflicts)} file(s) already exist and "
                f"file_exists_behavior is {plan.behavior}"
            )
        return result
    finally:
        fsremove.remove_tree(tmp, ignore_errors=True)


def text_lines(d: DryRun) -> list[str]:
    p = d.plan
    out = [
        f"Dry run: nothing is changed. Deployment would run in {p.deployment_dir}",
        f"  appspec: {p.spec.path}; file_exists_behavior: {p.behavior}",
        "Events:",
    ]
    for s in p.steps:
        out.append(f"  {s.event}: {_step_text(s, p)}")
        out += [f"      {sc.location} (timeout {sc.timeout}s"
                f"{', runas ' + sc.runas if sc.runas else ''}{', sudo' if sc.sudo else ''})"
                for sc in s.scripts]
    if d.cleanup:
        out.append(f"Cleanup of the previous install removes {len(d.cleanup)} path(s)")
    instr = d.instructions
    if instr is not None:
        out.append("Install:")
        for i in instr.items:
            src = f" <- {i.source}" if i.kind == "copy" else ""
            extra = {"chmod": f" {i.mode}", "chown": f" {i.owner or ''}:{i.group or ''}",
                     "setfacl": f" {','.join(i.acl)}"}.get(i.kind, "")
            out.append(f"  {i.kind}{extra} {i.path}{src}")
        out += [f"  CONFLICT (exists): {c}" for c in instr.conflicts]
        out += [f"  overwrite: {c}" for c in instr.overwritten]
        out += [f"  retain (not copied): {c}" for c in instr.retained]
    if d.problem:
        out.append(f"Install would fail: {d.problem}")
    return out


def _step_text(s: planmod.Step, p: planmod.Plan) -> str:
    if s.error:
        return f"would fail: {s.error}" + (f" ({s.hint})" if s.hint else "")
    if s.kind == "download":
        return f"unpack {p.options.bundle} ({p.options.bundle_type}) into deployment-archive"
    if s.kind == "install":
        return "install files and permissions"
    if s.revision == "none":
        return "nothing to run (no previous successful revision)"
    if not s.scripts:
        return "no scripts"
    where = f"previous revision {s.revision_dir}" if s.revision == "previous" else "new revision"
    return f"{len(s.scripts)} script(s) from the {where}"
