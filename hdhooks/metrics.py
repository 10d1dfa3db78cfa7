"""CloudWatch Embedded Metric Format: one JSON line per hook.

A CloudWatch agent that ships the hook's log turns the line into metrics, so
hdhooks needs no PutMetricData permission and makes no extra API call.
"""

from __future__ import annotations

import time

NAMESPACE = "hdhooks"


def emf_line(
    *,
    component: str,
    event: str,
    duration_s: float,
    result: str,
    environment: str = "",
    deployment_id: str = "",
    namespace: str = NAMESPACE,
    now: float | None = None,
    figures: dict[str, float] | None = None,
    properties: dict[str, object] | None = None,
) -> str:
    """The EMF document for one finished hook, as a single line of JSON.

    ``figures`` are extra metrics (``DrainSeconds``, ``HealthyWaitSeconds``,
    ``ApiCalls``, ``ThrottledCalls``); ``properties`` are logged with the line
    but are not metrics (the API calls per operation).
    """
    timestamp = int((time.time() if now is None else now) * 1000)
    doc: dict[str, object] = {
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["Component", "Event"], ["Component", "Event", "Result"]],
                    "Metrics": [
                        {"Name": "Duration", "Unit": "Milliseconds"},
                        {"Name": "Failed", "Unit": "Count"},
                    ],
                }
            ],
        },
        "Component": component,
        "Event": event,
        "Result": result,
        "Duration": round(duration_s * 1000, 1),
        "Failed": 0 if result == "Succeeded" else 1,
    }
    metrics = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]  # type: ignore[index]
    for name, value in (figures or {}).items():
        metrics.append({"Name": name, "Unit": unit_of(name)})
        doc[name] = value
    doc.update(properties or {})
    if environment:
        doc["Environment"] = environment
    if deployment_id:
        doc["DeploymentId"] = deployment_id
    return to_json(doc)


def unit_of(name: str) -> str:
    return "Seconds" if name.endswith("Seconds") else "Count"


def metric_data(component: str, event: str, result: str, duration_s: float,
                figures: dict[str, float]) -> list[dict[str, object]]:
    """The same figures as the EMF line, shaped for CloudWatch PutMetricData."""
    dims = [{"Name": "Component", "Value": component}, {"Name": "Event", "Value": event}]
    values = {"Duration": (round(duration_s * 1000, 1), "Milliseconds"),
              "Failed": (0 if result == "Succeeded" else 1, "Count")}
    values.update({k: (v, unit_of(k)) for k, v in figures.items()})
    return [{"MetricName": k, "Dimensions": dims, "Value": float(v), "Unit": u}
            for k, (v, u) in values.items()]


def to_json(value: object) -> str:
    """Compact JSON of plain data (dicts, lists, strings, numbers, booleans, None).

    Written out rather than ``json.dumps``: the json module imports ``re``,
    which costs a hook process more than the rest of its start-up.
    """
    if isinstance(value, dict):
        return "{" + ",".join(f"{_string(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    if isinstance(value, str):
        return _string(value)
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, (int, float)):
        finite = value == value and abs(value) != float("inf")  # JSON has no NaN or inf
        return repr(value) if finite else "null"
    return _string(str(value))


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " " or ch == "\u2028" or ch == "\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'

