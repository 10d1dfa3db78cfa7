"""The instance metadata service as the agent and hdhooks meet it: IMDSv2 only.

A plain HTTP probe (the standard library, no SDK), because the doctor must
see what the SDK hides: that a GET *without* a token is refused (IMDSv2
required), not only that a token can be had.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from hdhooks.doctor.model import FAIL, OK, WARN, Context, Finding

DEFAULT_ENDPOINT = "http://169.254.169.254"
TIMEOUT = 2.0
ENABLE_FIX = ("aws ec2 modify-instance-metadata-options --instance-id ID --http-endpoint "
              "enabled --http-tokens required --http-put-response-hop-limit 2")


def endpoint(ctx: Context) -> str:
    """Where IMDS is: ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` (as botocore reads it)."""
    return ctx.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def _request(url: str, method: str = "GET", headers: dict[str, str] | None = None
             ) -> tuple[int, str]:
    """(status, body) of one request; HTTP error statuses are answers, not errors."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return int(answer.status), answer.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), ""


def check_imds(ctx: Context) -> list[Finding]:
    """A token PUT works, a tokenless GET gets 401; records instance id and region."""
    base = endpoint(ctx)
    try:
        status, token = _request(f"{base}/latest/api/token", "PUT",
                                 {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    except (OSError, ValueError) as exc:
        return [Finding("imdsv2", FAIL, f"no answer from {base}: {exc}", ENABLE_FIX)]
    if status != 200 or not token:
        return [Finding("imdsv2", FAIL, f"token PUT to {base} answered {status}", ENABLE_FIX)]
    found = [Finding("imdsv2", OK, f"token from {base}")]
    auth = {"X-aws-ec2-metadata-token": token}
    for key, path in (("instance_id", "instance-id"), ("imds_region", "placement/region")):
        try:
            code, body = _request(f"{base}/latest/meta-data/{path}", headers=auth)
        except (OSError, ValueError):
            continue
        if code == 200 and body.strip():
            ctx.facts[key] = body.strip()
    try:
        tokenless, _ = _request(f"{base}/latest/meta-data/instance-id")
    except (OSError, ValueError) as exc:
        tokenless, _ = 0, str(exc)
    if tokenless == 401:
        found.append(Finding("imdsv2 required", OK, "a GET without a token gets 401"))
    else:
        found.append(Finding("imdsv2 required", WARN, f"a GET without a token answered "
                             f"{tokenless or 'nothing'}: IMDSv1 is still allowed",
                             "require tokens: aws ec2 modify-instance-metadata-options "
                             "--instance-id ID --http-tokens required"))
    return found
