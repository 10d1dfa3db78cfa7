"""CloudWatch Embedded Metric Format: one JSON line per hook, in a file of its own.

The CodeDeploy agent prefixes every line of a script's output with its own
timestamp and ``[stdout]``, which the CloudWatch agent cannot read as EMF. So
each hook also appends its line to a JSON-lines file that holds nothing else
(:func:`metrics_file`); the CloudWatch agent ships that file as EMF, and hdhooks
needs no PutMetricData permission and makes no extra API call.

Only ``os`` and ``stat`` are used: this runs in every hook process.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from collections.abc import Mapping

NAMESPACE = "hdhooks"
#: Where the metric lines go: a file path, or ``off`` for none.
METRICS_FILE_ENV = "HDHOOKS_METRICS_FILE"
ROOT_METRICS_FILE = "/var/log/hdhooks/metrics.log"
METRICS_FILE_MODE = 0o644


def metrics_file(log_dir: str | None, environ: Mapping[str, str] | None = None) -> str:
    """``$HDHOOKS_METRICS_FILE``; else /var/log/hdhooks/metrics.log on an instance.

    ``log_dir`` is where the services' logs go (None: the instance's
    /var/log/hdhooks); with an explicit state directory or without root that
    is ``<state dir>/log``. Empty when the variable is ``off``.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(METRICS_FILE_ENV, "")
    if explicit:
        return "" if explicit == "off" else explicit
    return os.path.join(log_dir, "metrics.log") if log_dir else ROOT_METRICS_FILE


def append_line(line: str, path: str) -> str:
    """Append ``line`` to the JSON-lines file ``path``; a warning, or "" when written.

    One ``write`` of the whole line on an ``O_APPEND`` descriptor, so lines of
    hooks running at once never interleave. The file is never reached through
    a symbolic link, a FIFO or a hard link; a metric that cannot be written
    never fails the hook.
    """
    import stat

    try:
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755, exist_ok=True)
        flags = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
                 | os.O_NONBLOCK)
        fd = os.open(path, flags, METRICS_FILE_MODE)
    except OSError as exc:
        return f"metric not written to {path}: {exc.strerror or exc}"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            return f"metric not written to {path}: not a regular file with one link"
        if st.st_uid == os.geteuid() and st.st_mode & 0o7777 != METRICS_FILE_MODE:
            os.fchmod(fd, METRICS_FILE_MODE)  # the CloudWatch agent reads it, whatever the umask
        os.write(fd, (line + "\n").encode())
    except OSError as exc:
        return f"metric not written to {path}: {exc.strerror or exc}"
    finally:
        os.close(fd)
    return ""


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

