"""boto3 clients with the retry policy hdhooks needs, and AWS errors made clear.

* :func:`client` returns a cached client per service, region and AWS
  environment, configured with standard retries (8 attempts), a 5 s connect
  and a 15 s read timeout. Retry mode is set explicitly because botocore's
  default changed between versions.
* :func:`resolve_region` looks at an explicit region, then ``AWS_REGION`` /
  ``AWS_DEFAULT_REGION``, then the instance metadata service (the seam
  :data:`imds_region` is replaced by ``hdhooks.aws.imds`` when present).
* :func:`aws_call` turns botocore exceptions into :class:`AwsCallFailed`,
  whose message names the operation, the resource and, for AccessDenied, the
  IAM permission that is missing. Messages go through the redactor.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from hdhooks.errors import AwsError
from hdhooks.redact import redact

# boto3 service name -> IAM action prefix, where they differ.
_IAM_PREFIX = {"elbv2": "elasticloadbalancing", "logs": "logs"}

_ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
}

_cache: dict[tuple[str, ...], Any] = {}
_cache_lock = threading.Lock()


class AwsCallFailed(AwsError):
    """An AWS call failed; carries the service, operation and error code."""

    def __init__(
        self,
        message: str,
        *,
        service: str = "",
        operation: str = "",
        code: str = "",
        hint: str = "",
    ) -> None:
        super().__init__(redact(message), hint=redact(hint))
        self.service = service
        self.operation = operation
        self.code = code


def _imds_region() -> str | None:
    """The region from instance metadata, when ``hdhooks.aws.imds`` provides it."""
    try:
        module = importlib.import_module("hdhooks.aws.imds")
    except ImportError:
        return None
    fn = getattr(module, "region", None)
    if fn is None:
        return None
    try:
        value = fn()
    except AwsError:
        return None
    return str(value) if value else None


# The seam for IMDS: a callable returning the region or None.
imds_region: Callable[[], str | None] = _imds_region


def resolve_region(region: str | None = None) -> str:
    """The region to use: explicit, then the environment, then IMDS."""
    found = (
        region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or imds_region()
    )
    if not found:
        raise AwsError(
            "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or run on EC2 "
            "where the instance metadata service gives it"
        )
    return found


def _env_fingerprint() -> tuple[str, ...]:
    """The AWS_* variables a client depends on, so a changed environment gets a new one."""
    return tuple(sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("AWS_")))


def client(service: str, region: str | None = None) -> Any:
    """A boto3 client for ``service`` (cached), with hdhooks' retry and timeouts."""
    resolved = resolve_region(region)
    key = (service, resolved, *_env_fingerprint())
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        import boto3
        from botocore.config import Config

        quiet_sdk_logs()
        config = Config(
            retries={"mode": "standard", "max_attempts": 8},
            connect_timeout=5,
            read_timeout=15,
            region_name=resolved,
        )
        made = boto3.session.Session().client(service, config=config)
        _cache[key] = made
        return made


def quiet_sdk_logs() -> None:
    """Keep boto3/botocore/urllib3 debug logs out of every log.

    botocore's DEBUG records hold whole response bodies, secret values
    included and sometimes escaped so that redaction cannot recognise them.
    """
    import logging

    for name in ("boto3", "botocore", "urllib3", "s3transfer"):
        logging.getLogger(name).setLevel(logging.WARNING)


def iam_action(service: str, operation: str) -> str:
    """``ssm`` + ``GetParametersByPath`` -> ``ssm:GetParametersByPath``."""
    return f"{_IAM_PREFIX.get(service, service)}:{operation}"


@contextlib.contextmanager
def aws_call(service: str, operation: str, resource: str = "") -> Iterator[None]:
    """Run AWS calls inside; botocore errors leave as :class:`AwsCallFailed`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        raise translate_client_error(exc, service, operation, resource) from None
    except BotoCoreError as exc:
        what = f"{operation} {resource}".strip()
        raise AwsCallFailed(
            f"{what}: {type(exc).__name__}: {exc}",
            service=service,
            operation=operation,
            code=type(exc).__name__,
            hint=_botocore_hint(type(exc).__name__),
        ) from None


def translate_client_error(
    exc: Any, service: str, operation: str, resource: str = ""
) -> AwsCallFailed:
    """A botocore ``ClientError`` as a one-line :class:`AwsCallFailed`."""
    error = exc.response.get("Error", {}) if hasattr(exc, "response") else {}
    code = str(error.get("Code", "") or "Unknown")
    text = str(error.get("Message", "") or "")
    what = f"{operation} {resource}".strip()
    hint = ""
    if code in _ACCESS_DENIED:
        action = iam_action(service, operation)
        if "kms" in text.lower() and service == "ssm":
            action += " (and kms:Decrypt on the parameter's key)"
        message = f"{what}: access denied: the instance role lacks {action}"
        hint = f"allow {action} on {resource or 'the resource'} in the IAM policy"
    else:
        message = f"{what}: {code}: {text}" if text else f"{what}: {code}"
    return AwsCallFailed(message, service=service, operation=operation, code=code, hint=hint)


def _botocore_hint(name: str) -> str:
    return {
        "NoCredentialsError": "give the instance an IAM role or set AWS credentials",
        "EndpointConnectionError": "check the network path to the AWS endpoint (VPC endpoint, "
        "proxy, security group)",
        "ConnectTimeoutError": "check the network path to the AWS endpoint",
        "ReadTimeoutError": "AWS did not answer in 15 s; retry later",
        "NoRegionError": "set AWS_REGION",
    }.get(name, "")
