"""boto3 clients with the retry policy hdhooks needs, and AWS errors made clear.

* :func:`client` returns a cached client per service, region and AWS
  environment, configured with standard retries (8 attempts), a 5 s connect
  and a 15 s read timeout. Retry mode is set explicitly because botocore's
  default changed between versions.
* :func:`resolve_region` looks at an explicit region, then ``AWS_REGION`` /
  ``AWS_DEFAULT_REGION``, then the instance metadata service
  (:mod:`hdhooks.aws.imds`, which answers None at no cost off EC2).
* :func:`aws_call` turns botocore exceptions into :class:`AwsCallFailed`,
  whose message names the operation, the resource and, for AccessDenied, the
  IAM permission that is missing. Messages go through the redactor.

Retries: botocore's standard mode retries throttling codes, HTTP 429 and
5xx answers, RequestTimeout/PriorRequestNotComplete and connection errors;
an AccessDenied, ValidationError or any other 4xx answer is sent once and
fails at once (tests/integration/traffic counts the attempts), so a fleet
with a missing permission does not multiply its calls by 8. Every HTTP
attempt is counted per operation (:data:`CALLS`, :data:`THROTTLED`) for the
hook's metric line.

Errors are mapped in one place, :func:`_mapped`, which wraps both the
creation of a client and the calls made with it. boto3 reads the AWS
configuration (region, endpoint URL, config and credentials files, profile)
when the client is made, so a broken setting must be caught there too: it
becomes :class:`AwsConfigInvalid` (exit 2, the user must fix a setting),
while a call AWS refused or could not answer stays :class:`AwsCallFailed`
(exit 1).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from hdhooks.errors import AwsError, ExitCode
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

# botocore exceptions that mean "a setting is wrong", not "the call failed",
# with what to tell the user. Names, so botocore is imported only when needed.
_CONFIG_ERRORS = {
    "InvalidRegionError": "set AWS_REGION to a region name such as eu-west-1",
    "NoRegionError": "set AWS_REGION",
    "ConfigParseError": "fix the file, or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE "
    "at a valid one",
    "ProfileNotFound": "define the profile in the AWS config file, or unset AWS_PROFILE",
    "PartialCredentialsError": "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
    "or neither and use the instance role",
    "InvalidConfigError": "check the AWS_* variables and the AWS config file",
    "InvalidEndpointConfigurationError": "check the endpoint settings in the AWS_* variables "
    "and the AWS config file",
    "InvalidRetryConfigurationError": "check AWS_RETRY_MODE / AWS_MAX_ATTEMPTS",
    "InvalidMaxRetryAttemptsError": "AWS_MAX_ATTEMPTS must be a positive whole number",
    "InvalidRetryModeError": "AWS_RETRY_MODE must be legacy, standard or adaptive",
    "InvalidProxiesConfigError": "check the proxy settings in the AWS config file",
    "InvalidIMDSEndpointError": "AWS_EC2_METADATA_SERVICE_ENDPOINT must be an http(s) URL",
    "InvalidIMDSEndpointModeError": "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 "
    "or IPv6",
    "UnknownCredentialError": "check credential_source / credential_process in the AWS "
    "config file",
    "InvalidDNSNameError": "check the endpoint URL",
    "UnknownServiceError": "",
}
_ENDPOINT_HINT = (
    "AWS_ENDPOINT_URL (or endpoint_url in the AWS config file) must be a URL such as "
    "https://ssm.eu-west-1.amazonaws.com, or unset"
)

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


class AwsConfigInvalid(AwsCallFailed):
    """The AWS configuration is broken (region, endpoint, config file, profile): exit 2."""

    exit_code = ExitCode.USAGE


def imds_region() -> str | None:
    """The region from instance metadata; None off EC2 or when IMDS cannot say."""
    from hdhooks.aws import imds

    try:
        return imds.region()
    except AwsError:
        return None


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


def client(service: str, region: str | None = None, *, attempts: int = 8) -> Any:
    """A boto3 client for ``service`` (cached), with hdhooks' retry and timeouts.

    ``attempts`` lowers the retries for a caller that reports rather than
    relies on an answer (``hdhooks doctor``: a broken network must not make
    each check wait out eight attempts).
    """
    resolved = resolve_region(region)
    key = (service, resolved, str(attempts), *_env_fingerprint())
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        import boto3
        from botocore.config import Config

        quiet_sdk_logs()
        with _mapped(service, "client", f"in {resolved}"):
            config = Config(
                retries={"mode": "standard", "max_attempts": attempts},
                connect_timeout=5,
                read_timeout=15,
                region_name=resolved,
            )
            made = boto3.session.Session().client(service, config=config)
        check_endpoint(service, str(made.meta.endpoint_url))
        count_calls(made)
        _cache[key] = made
        return made


#: API calls made by this process: "service:Operation" -> HTTP attempts (retries
#: included), and how many of those attempts were throttled. The hook's metric
#: line reports them; the fleet budget is counted in attempts, not calls.
CALLS: dict[str, int] = {}
THROTTLED: dict[str, int] = {}

_THROTTLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "RequestLimitExceeded", "RequestThrottled", "SlowDown",
    "EC2ThrottledException",
})


def count_calls(made: Any) -> None:
    """Count every HTTP attempt ``made`` sends, and the throttled answers, per operation."""
    service = str(made.meta.service_model.service_name)

    def sent(event_name: str = "", **_: Any) -> None:
        name = f"{service}:{event_name.rsplit('.', 1)[-1]}"
        CALLS[name] = CALLS.get(name, 0) + 1

    def answered(event_name: str = "", response: Any = None, **_: Any) -> None:
        if not isinstance(response, tuple) or len(response) < 2:
            return
        parsed = response[1] if isinstance(response[1], dict) else {}
        if parsed.get("Error", {}).get("Code") in _THROTTLE_CODES:
            name = f"{service}:{event_name.rsplit('.', 1)[-1]}"
            THROTTLED[name] = THROTTLED.get(name, 0) + 1

    made.meta.events.register("before-send", sent)
    made.meta.events.register_first("needs-retry", answered)


def call_counts() -> dict[str, int]:
    """A copy of :data:`CALLS` (HTTP attempts per ``service:Operation``)."""
    return dict(CALLS)


def check_endpoint(service: str, url: str) -> None:
    """Refuse an endpoint URL that botocore accepted but cannot call (port, scheme).

    botocore parses the port only when the first request is sent, so
    ``https://host:99999`` or ``ftp://host`` would fail mid-hook in an
    unexpected way; checked here, they are a configuration error up front.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        reason = str(exc)
    else:
        if port == 0:
            reason = "port 0"
        elif not parts.hostname:
            reason = "no host name"
        elif parts.scheme not in ("http", "https"):
            reason = f"scheme {parts.scheme or '(none)'}"
        else:
            return
    raise AwsConfigInvalid(
        f"cannot create the {service} client: endpoint URL {url!r} is not usable ({reason})",
        service=service, operation="client", code="InvalidEndpoint", hint=_ENDPOINT_HINT,
    )


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
    with _mapped(service, operation, resource):
        yield


@contextlib.contextmanager
def _mapped(service: str, operation: str, resource: str) -> Iterator[None]:
    """The one place botocore's exceptions become hdhooks errors."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        yield
    except ClientError as exc:
        raise translate_client_error(exc, service, operation, resource) from None
    except (BotoCoreError, ResponseParserError) as exc:
        # ResponseParserError (an HTML error page from a proxy or an endpoint
        # that does not implement the call) is not a BotoCoreError.
        raise translate_botocore_error(exc, service, operation, resource) from None
    except ValueError as exc:
        # botocore raises a bare ValueError for an endpoint URL it cannot parse.
        if operation != "client":
            raise
        raise AwsConfigInvalid(
            f"cannot create the {service} client: {exc}",
            service=service, operation=operation, code="InvalidEndpoint", hint=_ENDPOINT_HINT,
        ) from None


def translate_botocore_error(
    exc: BaseException, service: str, operation: str, resource: str = ""
) -> AwsCallFailed:
    """A botocore error that is not an AWS answer: a setting (exit 2) or the network (1)."""
    names = [cls.__name__ for cls in type(exc).__mro__]
    name = names[0]
    setting = next((n for n in names if n in _CONFIG_ERRORS), None)
    if setting is not None:
        what = f"cannot create the {service} client" if operation == "client" else (
            f"{operation} {resource}".strip())
        return AwsConfigInvalid(
            f"{what}: {exc}", service=service, operation=operation, code=name,
            hint=_CONFIG_ERRORS[setting],
        )
    what = f"{operation} {resource}".strip()
    return AwsCallFailed(
        f"{what}: {name}: {exc}", service=service, operation=operation, code=name,
        hint=_botocore_hint(name),
    )


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
    }.get(name, "")
