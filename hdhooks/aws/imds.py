"""The EC2 instance metadata service, IMDSv2 first, with the standard library only.

A token is fetched with ``PUT /latest/api/token`` and sent with every GET;
each request has a 1 s timeout and is tried 3 times. IMDSv1 (GETs without a
token) is used only when the caller allows it (``traffic.imds_v1: true``):
an instance that requires IMDSv2 answers 401 to v1, which the sample
scripts misread as "no metadata".

"Are we on EC2" must cost nothing on a laptop: :func:`on_ec2` looks only at
``AWS_EC2_METADATA_DISABLED``, ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` and the
DMI/hypervisor files the EC2 hypervisors fill in, so a local deploy never
waits for a metadata timeout.
"""

from __future__ import annotations

import os

from hdhooks.errors import AwsError

DEFAULT_ENDPOINT = "http://169.254.169.254/"
TIMEOUT = 1.0
TRIES = 3
TOKEN_TTL = 21600
_DMI_FILES = (
    ("/sys/devices/virtual/dmi/id/board_asset_tag", "i-"),
    ("/sys/hypervisor/uuid", "ec2"),
    ("/sys/devices/virtual/dmi/id/sys_vendor", "Amazon EC2"),
)

_token: dict[str, str] = {}


class ImdsError(AwsError):
    """The metadata service could not say what was asked; names the path and why."""

    def __init__(self, path: str, problem: str, *, hint: str = "") -> None:
        super().__init__(f"instance metadata {path}: {problem}", hint=hint)
        self.path = path
        self.problem = problem


def disabled() -> bool:
    return os.environ.get("AWS_EC2_METADATA_DISABLED", "").strip().lower() == "true"


def endpoint() -> str:
    """The metadata service base URL (``AWS_EC2_METADATA_SERVICE_ENDPOINT`` wins)."""
    url = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "").strip() or DEFAULT_ENDPOINT
    return url if url.endswith("/") else url + "/"


def on_ec2(dmi_files: tuple[tuple[str, str], ...] = _DMI_FILES) -> bool:
    """Whether metadata is worth asking for: an endpoint is set, or the DMI says EC2."""
    if disabled():
        return False
    if os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "").strip():
        return True
    for path, prefix in dmi_files:
        try:
            with open(path, encoding="ascii", errors="replace") as fh:
                if fh.read(64).strip().startswith(prefix):
                    return True
        except OSError:
            continue
    return False


def _request(method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """One HTTP request to the metadata service: (status, body); OSError on no answer."""
    import http.client
    from urllib.parse import urlsplit

    base = urlsplit(endpoint())
    if base.scheme not in ("http", "https") or not base.hostname:
        raise ImdsError(path, f"endpoint {endpoint()!r} is not an http(s) URL",
                        hint="fix AWS_EC2_METADATA_SERVICE_ENDPOINT")
    cls = http.client.HTTPSConnection if base.scheme == "https" else http.client.HTTPConnection
    try:
        conn = cls(base.hostname, base.port, timeout=TIMEOUT)
    except ValueError as exc:
        raise ImdsError(path, str(exc), hint="fix AWS_EC2_METADATA_SERVICE_ENDPOINT") from None
    try:
        conn.request(method, base.path.rstrip("/") + "/" + path.lstrip("/"), headers=headers)
        response = conn.getresponse()
        body = response.read(64 * 1024).decode("utf-8", errors="replace")
        return response.status, body
    except http.client.HTTPException as exc:
        raise OSError(f"bad answer: {type(exc).__name__}") from None
    finally:
        conn.close()


def _tried(method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """``_request`` with :data:`TRIES` attempts on no answer or a 5xx."""
    problem = ""
    for _ in range(TRIES):
        try:
            status, body = _request(method, path, headers)
        except OSError as exc:
            problem = f"no answer from {endpoint()} ({exc.strerror or exc})"
            continue
        if status < 500:
            return status, body
        problem = f"HTTP {status}"
    raise ImdsError(path, f"{problem} after {TRIES} tries",
                    hint="check that the instance metadata service is enabled and reachable "
                         "(hop limit 2 in containers)")


def forget_token() -> None:
    """Drop the cached token (a process that changes its endpoint, or a test)."""
    _token.clear()


def token(*, refresh: bool = False) -> str | None:
    """An IMDSv2 session token; None when the service does not hand out tokens."""
    key = endpoint()
    if key in _token and not refresh:
        return _token[key]
    status, body = _tried("PUT", "latest/api/token",
                          {"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL)})
    if status == 200 and body.strip():
        _token[key] = body.strip()
        return _token[key]
    if status in (403,):
        raise ImdsError("latest/api/token", "IMDS is disabled for this instance (403)",
                        hint="enable the instance metadata service (HttpEndpoint enabled)")
    return None


def get(path: str, *, allow_v1: bool = False) -> str:
    """``latest/<path>`` from the metadata service, IMDSv2 unless ``allow_v1``."""
    if disabled():
        raise ImdsError(path, "disabled by AWS_EC2_METADATA_DISABLED")
    full = "latest/" + path.lstrip("/")
    tok = token()
    if tok is None and not allow_v1:
        raise ImdsError(path, "no IMDSv2 token was given and IMDSv1 is not allowed",
                        hint="require IMDSv2 on the instance, or set traffic.imds_v1: true")
    headers = {"X-aws-ec2-metadata-token": tok} if tok else {}
    status, body = _tried("GET", full, headers)
    if status == 401 and tok:
        headers = {"X-aws-ec2-metadata-token": token(refresh=True) or ""}
        status, body = _tried("GET", full, headers)
    if status == 401:
        raise ImdsError(path, "401 Unauthorized (the instance requires IMDSv2)",
                        hint="the token was refused; check the IMDS hop limit")
    if status == 404:
        raise ImdsError(path, "not available (404)")
    if status != 200:
        raise ImdsError(path, f"HTTP {status}")
    return body.strip()


def instance_id(*, allow_v1: bool = False) -> str:
    value = get("meta-data/instance-id", allow_v1=allow_v1)
    if not value.startswith("i-") or any(c.isspace() for c in value):
        raise ImdsError("meta-data/instance-id", f"not an instance id: {value[:40]!r}")
    return value


def region(*, allow_v1: bool = False) -> str | None:
    """The instance's region; None off EC2 (cheap: no request is made then)."""
    if not on_ec2():
        return None
    value = get("meta-data/placement/region", allow_v1=allow_v1)
    if not value or len(value) > 40 or not all(c.isalnum() or c == "-" for c in value):
        raise ImdsError("meta-data/placement/region", f"not a region name: {value[:40]!r}")
    return value


def lifecycle_state(*, allow_v1: bool = False) -> str | None:
    """The Auto Scaling target lifecycle state (InService, Terminated, ...); None outside an ASG."""
    try:
        return get("meta-data/autoscaling/target-lifecycle-state", allow_v1=allow_v1) or None
    except ImdsError as exc:
        if exc.problem.startswith("not available"):
            return None
        raise
