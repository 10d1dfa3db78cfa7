"""The AWS wire formats the ALB emulator reads and writes.

* :func:`request_info` finds the service, region and action of a signed
  request (the SigV4 credential scope names the service and region; query
  services put ``Action=`` in the form body, JSON ones ``X-Amz-Target``);
* :func:`error_response` builds an error in the shape botocore parses for
  that service's protocol (query XML, EC2 XML, or JSON), so its retry rules
  and error codes work as against AWS;
* :func:`target_health_xml` builds a DescribeTargetHealth answer;
* :func:`set_lifecycle` rewrites LifecycleState in an Auto Scaling answer.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from tests.support.alb_targets import TargetState

ELB_NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
ASG_NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
_NAMESPACES = {
    "elasticloadbalancing": ELB_NS,
    "autoscaling": ASG_NS,
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")

#: HTTP status AWS answers with, per error code, when a test gives none.
STATUS_FOR = {
    "AccessDenied": 403,
    "UnauthorizedOperation": 403,
    "InternalFailure": 500,
    "InternalError": 500,
    "ServiceUnavailable": 503,
    "BadGateway": 502,
    "GatewayTimeout": 504,
}
CODE_FOR_STATUS = {500: "InternalFailure", 502: "BadGateway", 503: "ServiceUnavailable",
                   504: "GatewayTimeout"}


@dataclass(frozen=True)
class RequestInfo:
    service: str
    region: str
    action: str
    params: dict[str, str]
    json_protocol: bool


def request_info(headers: dict[str, str], body: bytes) -> RequestInfo:
    """Service, region, action and (for query services) the form parameters."""
    found = _SCOPE.search(headers.get("authorization", ""))
    service, region = (found.group(2), found.group(1)) if found else ("", "")
    target = headers.get("x-amz-target", "")
    if target:
        return RequestInfo(service, region, target.rpartition(".")[2], {}, True)
    params: dict[str, str] = {}
    if "x-www-form-urlencoded" in headers.get("content-type", "") or body.startswith(b"Action="):
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        params = {k: v[-1] for k, v in parsed.items()}
    return RequestInfo(service, region, params.get("Action", ""), params, False)


def members(params: dict[str, str], prefix: str) -> list[str]:
    """``Prefix.member.1``, ``Prefix.member.2``... in order."""
    out, n = [], 1
    while f"{prefix}.member.{n}" in params:
        out.append(params[f"{prefix}.member.{n}"])
        n += 1
    return out


def targets(params: dict[str, str]) -> list[tuple[str, int | None]]:
    """``Targets.member.N.Id`` / ``.Port`` as (id, port or None)."""
    out, n = [], 1
    while f"Targets.member.{n}.Id" in params:
        port = params.get(f"Targets.member.{n}.Port")
        out.append((params[f"Targets.member.{n}.Id"], int(port) if port else None))
        n += 1
    return out


def error_response(info: RequestInfo, code: str, message: str,
                   status: int) -> tuple[int, dict[str, str], bytes]:
    """An AWS error answer in the shape botocore expects for this service."""
    request_id = str(uuid.uuid4())
    if info.json_protocol:
        body = json.dumps({"__type": code, "message": message})
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code,
                   "x-amzn-RequestId": request_id}
        return status, headers, body.encode()
    if info.service == "ec2":
        text = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
                f"</Errors><RequestID>{request_id}</RequestID></Response>")
    else:
        ns = _NAMESPACES.get(info.service, ELB_NS)
        kind = "Receiver" if status >= 500 else "Sender"
        text = (f"<ErrorResponse xmlns=\"{ns}\"><Error><Type>{kind}</Type>"
                f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, text.encode()


def _text(tag: str, value: object | None) -> str:
    return "" if value is None else f"<{tag}>{escape(str(value))}</{tag}>"


def target_health_xml(rows: Iterable[tuple[str, int, str, TargetState]]) -> bytes:
    """DescribeTargetHealth's answer from (id, port, health-check port, state) rows."""
    parts = []
    for target_id, port, hc_port, view in rows:
        health = _text("State", view.state) + _text("Reason", view.reason) + _text(
            "Description", view.description)
        parts.append(
            f"<member><HealthCheckPort>{escape(hc_port)}</HealthCheckPort>"
            f"<Target><Id>{escape(target_id)}</Id><Port>{port}</Port></Target>"
            f"<TargetHealth>{health}</TargetHealth></member>"
        )
    text = (f"<DescribeTargetHealthResponse xmlns=\"{ELB_NS}\"><DescribeTargetHealthResult>"
            f"<TargetHealthDescriptions>{''.join(parts)}</TargetHealthDescriptions>"
            f"</DescribeTargetHealthResult><ResponseMetadata><RequestId>{uuid.uuid4()}"
            f"</RequestId></ResponseMetadata></DescribeTargetHealthResponse>")
    return text.encode()


def simple_xml(action: str, service: str) -> bytes:
    """An empty successful answer (e.g. DeregisterTargets) for a query service."""
    ns = _NAMESPACES.get(service, ELB_NS)
    return (f"<{action}Response xmlns=\"{ns}\"><{action}Result/><ResponseMetadata>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            f"</{action}Response>").encode()


def set_lifecycle(body: bytes, states: dict[str, str]) -> bytes:
    """Replace the LifecycleState of the listed instances in an Auto Scaling answer."""
    if not states:
        return body
    ET.register_namespace("", ASG_NS)
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return body
    changed = False
    for node in root.iter():
        iid = node.find(f"{{{ASG_NS}}}InstanceId")
        state = node.find(f"{{{ASG_NS}}}LifecycleState")
        if iid is not None and state is not None and iid.text in states:
            state.text = states[iid.text or ""]
            changed = True
    return ET.tostring(root, encoding="utf-8") if changed else body
