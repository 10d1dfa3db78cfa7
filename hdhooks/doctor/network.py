"""HTTPS reachability of the AWS endpoints, and the clock against AWS's.

One HEAD-like GET per endpoint, in parallel with a short timeout: any HTTP
answer (even 403 or 404) proves the path through VPC endpoints, proxies and
security groups; only a failed connection or TLS handshake is a fail. The
STS answer's ``Date`` header gives the clock skew (SigV4 refuses requests
more than 5 minutes off).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime

from hdhooks.doctor.model import FAIL, OK, WARN, Context, Finding

#: Endpoint host prefixes hdhooks (and, first, the CodeDeploy agent) call.
AGENT_HOSTS = ("codedeploy-commands", "codedeploy")
HDHOOKS_HOSTS = ("s3", "elasticloadbalancing", "autoscaling", "sts", "ssm", "logs",
                 "monitoring", "secretsmanager")
TIMEOUT = 5.0
SKEW_FAIL = 300.0
SKEW_WARN = 30.0


def endpoints(ctx: Context) -> dict[str, str]:
    """name -> URL; with ``AWS_ENDPOINT_URL`` set, the one URL every SDK call uses."""
    override = ctx.environ.get("AWS_ENDPOINT_URL")
    if override:
        return {"AWS_ENDPOINT_URL": override}
    region = ctx.facts.get("region", "us-east-1")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return {host: f"https://{host}.{region}.{suffix}" for host in (*AGENT_HOSTS, *HDHOOKS_HOSTS)}


def probe(url: str) -> tuple[str | None, str | None]:
    """(error, Date header) of one GET; error None when any HTTP answer came."""
    request = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return None, answer.headers.get("Date")
    except urllib.error.HTTPError as exc:
        return None, exc.headers.get("Date") if exc.headers else None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{type(reason).__name__}: {reason}", None


def check_endpoints(ctx: Context) -> list[Finding]:
    """Every endpoint answers over HTTPS; records the STS Date for the clock check."""
    urls = endpoints(ctx)
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        answers = dict(zip(urls, pool.map(probe, urls.values()), strict=True))
    found: list[Finding] = []
    for name, (error, date) in answers.items():
        if name in ("sts", "AWS_ENDPOINT_URL") and date:
            ctx.facts["aws_date"] = date
        if error is None:
            found.append(Finding(f"https {name}", OK, urls[name]))
        else:
            found.append(Finding(f"https {name}", FAIL, f"{urls[name]}: {error}",
                                 "open HTTPS (443) to it: a VPC endpoint, a NAT gateway or "
                                 "the proxy (HTTPS_PROXY), and the security group's egress"))
    return found


def skew_verdict(skew: float) -> tuple[str, str]:
    """(status, fix) for a clock skew in seconds: pure, table-tested."""
    fix = "sync the clock: systemctl enable --now chronyd; chronyc tracking shows it"
    if abs(skew) >= SKEW_FAIL:
        return FAIL, fix
    if abs(skew) >= SKEW_WARN:
        return WARN, fix
    return OK, ""


def check_clock(ctx: Context, now: float | None = None) -> list[Finding]:
    """The local clock against the ``Date`` AWS answered with."""
    date = ctx.facts.get("aws_date")
    if not date:
        return [Finding("clock", WARN, "no Date header from STS to compare with",
                        "make the STS endpoint reachable (above)")]
    try:
        aws_time = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return [Finding("clock", WARN, f"unreadable Date header {date!r}")]
    skew = (time.time() if now is None else now) - aws_time
    status, fix = skew_verdict(skew)
    return [Finding("clock", status, f"{skew:+.0f} s against AWS", fix)]
