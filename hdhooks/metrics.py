"""CloudWatch Embedded Metric Format: one JSON line per hook.

A CloudWatch agent that ships the hook's log turns the line into metrics, so
hdhooks needs no PutMetricData permission and makes no extra API call.
"""

from __future__ import annotations

import json
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
) -> str:
    """The EMF document for one finished hook, as a single line of JSON."""
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
    if environment:
        doc["Environment"] = environment
    if deployment_id:
        doc["DeploymentId"] = deployment_id
    return json.dumps(doc, separators=(",", ":"), sort_keys=False)
