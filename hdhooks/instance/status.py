"""``hdhooks status``: what runs here and what the load balancer thinks of it.

Per component deployed with hdhooks: the current release and its build, the
service's state, one local health probe, and, where hdhooks controls traffic,
each target group's view of this instance and the Auto Scaling lifecycle
state; then the journal's open entries (traffic moves not yet undone).

Read-only: it never starts, stops or moves anything, and one component that
cannot be read (a damaged record, AWS unreachable) is reported in its own
fields while the others are still shown.
"""

from __future__ import annotations

from typing import Any

from hdhooks.errors import HdhooksError


def instance_status(state_dir: str, component: str | None = None) -> dict[str, Any]:
    """The whole status as one JSON-able object."""
    from hdhooks.config.state import read_all

    records, unreadable = read_all(state_dir)
    found = [component_status(r, state_dir) for r in records
             if component is None or r.component == component]
    doc: dict[str, Any] = {"state_dir": state_dir, "components": found,
                           "journal": open_entries(state_dir, component)}
    if unreadable:
        doc["unreadable"] = [e.one_line() for e in unreadable]
    return doc


def open_entries(state_dir: str, component: str | None) -> list[dict[str, Any]] | str:
    """The journal's open entries (or why they cannot be read)."""
    from hdhooks.instance.hook import journal_has_open

    if not journal_has_open(state_dir):
        return []
    from hdhooks.aws.journal import Journal

    try:
        return [e.to_dict() for e in Journal(state_dir).open_entries(component)]
    except HdhooksError as exc:
        return f"unreadable: {exc.one_line()}"


def component_status(record: Any, state_dir: str) -> dict[str, Any]:
    """One component: release, service, health and traffic, each filled or explained."""
    doc: dict[str, Any] = {"component": record.component, "environment": record.environment,
                           "deployment_group": record.deployment_group,
                           "deployment_id": record.deployment_id,
                           "base_dir": record.base_dir}
    try:
        side = current_side(record)
    except HdhooksError as exc:
        doc["release"] = None
        doc["error"] = exc.one_line()
        return doc
    if side is None:
        doc["release"] = None
        return doc
    doc.update(release=side.release_id, build_id=side.build_id)
    doc["service"] = service_state(side.config)
    doc["health"] = health_state(side)
    doc["traffic"] = traffic_state(side.config, record, state_dir)
    return doc


def current_side(record: Any) -> Any:
    """The current release with the config it was deployed with, or None."""
    from hdhooks.instance.releases import ReleaseStore
    from hdhooks.instance.rollback import side_of

    current = ReleaseStore(record.base_dir).current()
    return None if current is None else side_of(current, record)


def service_state(config: Any) -> dict[str, Any]:
    from hdhooks.instance.runtime import service_spec
    from hdhooks.instance.service.factory import make_service

    try:
        status = make_service(service_spec(config)).status()
    except HdhooksError as exc:
        return {"error": exc.one_line()}
    return {"active": status.active, "state": status.state, "substate": status.substate,
            "main_pid": status.main_pid, "describe": status.describe()}


def health_state(side: Any) -> dict[str, Any]:
    """One probe of the local health check (status never waits for health)."""
    from hdhooks.instance.health import probe
    from hdhooks.instance.plan import Where, health_check

    try:
        check = health_check(side.config, Where(side.release_id, side.deployment_group,
                                                side.build_id))
    except HdhooksError as exc:
        return {"error": exc.one_line()}
    if check is None:
        return {"checked": False, "reason": "no health section in the config"}
    answer = probe(check)
    return {"checked": True, "ok": answer.ok, "url": check.url, "status": answer.status,
            "reason": answer.reason}


def traffic_state(config: Any, record: Any, state_dir: str) -> dict[str, Any]:
    """Each target group's view of this instance, and its Auto Scaling lifecycle state.

    The groups are those the last deployment discovered (its cache), else
    discovered now without writing a cache: status changes nothing.
    """
    t = config.traffic
    if t.mode in ("off", "codedeploy"):
        return {"controlled": False, "reason": f"traffic.mode is {t.mode}"}
    from hdhooks.aws import imds

    if not imds.on_ec2():
        return {"controlled": True, "reason": "not on EC2: no target group view"}
    from hdhooks.aws import discovery as d
    from hdhooks.aws.journal import Journal
    from hdhooks.aws.traffic import Mover, target_view

    ask = d.Ask(config.component, record.deployment_id or "", record.deployment_group, None,
                tuple(t.target_groups), t.port, imds_v1=t.imds_v1)
    try:
        found = d.cached(state_dir, ask) or d._discover(ask)
        mover = Mover(found, Journal(state_dir), config.component, "", "", "status")
        return {"controlled": True, "instance_id": found.instance_id, "asg": found.asg,
                "lifecycle_state": mover.asg_state() if found.asg else None,
                "target_groups": target_view(found)}
    except HdhooksError as exc:
        return {"controlled": True, "error": exc.one_line()}


def format_text(doc: dict[str, Any]) -> list[str]:
    """The status for people: a few lines per component, then the journal."""
    lines = []
    for c in doc["components"]:
        head = f"{c['component']} ({c.get('environment') or '-'}): release " \
               f"{c.get('release') or 'none'}"
        if c.get("build_id"):
            head += f", build {c['build_id']}"
        lines.append(head)
        if "error" in c:
            lines.append(f"  error: {c['error']}")
        if "service" in c:
            s = c["service"]
            lines.append(f"  service: {s.get('describe') or s.get('error')}")
        if "health" in c:
            h = c["health"]
            text = h.get("error") or (("healthy" if h["ok"] else f"unhealthy: {h['reason']}")
                                      if h.get("checked") else h.get("reason"))
            lines.append(f"  health: {text}")
        if "traffic" in c:
            lines.extend(_traffic_lines(c["traffic"]))
    if not doc["components"]:
        lines.append(f"no component deployed with hdhooks here ({doc['state_dir']})")
    lines.extend(_journal_lines(doc["journal"]))
    lines.extend(f"unreadable: {u}" for u in doc.get("unreadable", []))
    return lines


def _traffic_lines(t: dict[str, Any]) -> list[str]:
    if "error" in t:
        return [f"  traffic: {t['error']}"]
    if not t.get("controlled", True) or "reason" in t:
        return [f"  traffic: {t.get('reason', 'not controlled by hdhooks')}"]
    lines = []
    if t.get("lifecycle_state"):
        lines.append(f"  auto scaling: {t.get('asg') or '-'} {t['lifecycle_state']}")
    for group in t.get("target_groups", []):
        reason = f" {group['reason']}" if group.get("reason") else ""
        lines.append(f"  target group {group.get('group') or group.get('arn')}: "
                     f"{group.get('state')}{reason}")
    return lines or ["  traffic: no target group"]


def _journal_lines(journal: list[dict[str, Any]] | str) -> list[str]:
    if isinstance(journal, str):
        return [f"journal: {journal}"]
    if not journal:
        return ["journal: no open entries"]
    return [f"journal: {len(journal)} open entr{'y' if len(journal) == 1 else 'ies'} "
            "(hdhooks reconcile undoes them)"] + [
        f"  {e['action']} by {e['event']} of {e['deployment_id']} ({e['component']}); "
        f"undo: {e['inverse']}" for e in journal]
