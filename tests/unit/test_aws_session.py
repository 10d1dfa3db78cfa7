"""AWS errors made clear, and the client's retry configuration."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConfigParseError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    ProfileNotFound,
)

from hdhooks.aws.session import (
    AwsCallFailed,
    AwsConfigInvalid,
    aws_call,
    client,
    translate_botocore_error,
    translate_client_error,
)
from hdhooks.redact import register


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def test_access_denied_names_the_missing_permission() -> None:
    err = translate_client_error(
        client_error("AccessDeniedException", "User: arn:... is not authorized", "GetSecretValue"),
        "secretsmanager", "GetSecretValue", "api/db")
    assert err.code == "AccessDeniedException"
    assert err.one_line() == (
        "GetSecretValue api/db: access denied: the instance role lacks "
        "secretsmanager:GetSecretValue (allow secretsmanager:GetSecretValue on api/db in "
        "the IAM policy)")


def test_kms_denial_on_securestring_mentions_decrypt() -> None:
    err = translate_client_error(
        client_error("AccessDeniedException", "not authorized to perform kms:Decrypt", "x"),
        "ssm", "GetParametersByPath", "/api/prod")
    assert "ssm:GetParametersByPath (and kms:Decrypt" in err.one_line()


def test_elbv2_permission_prefix() -> None:
    err = translate_client_error(client_error("AccessDenied", "", "DeregisterTargets"),
                                 "elbv2", "DeregisterTargets")
    assert "elasticloadbalancing:DeregisterTargets" in err.one_line()


def test_other_errors_keep_code_and_message_redacted() -> None:
    register("s3cr3t-in-message")
    with pytest.raises(AwsCallFailed) as info, aws_call("ssm", "GetParameter", "/x"):
        raise client_error("ValidationException", "bad value s3cr3t-in-message", "GetParameter")
    assert info.value.one_line() == "GetParameter /x: ValidationException: bad value ****"


def test_connection_errors_get_a_hint() -> None:
    with pytest.raises(AwsCallFailed) as info, aws_call("ssm", "GetParameter", "/x"):
        raise EndpointConnectionError(endpoint_url="https://ssm.example")
    assert info.value.code == "EndpointConnectionError"
    assert "check the network path" in info.value.one_line()


def test_client_has_standard_retries_and_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    ssm = client("ssm")
    assert client("ssm") is ssm
    assert ssm.meta.region_name == "eu-central-1"
    config = ssm.meta.config
    # botocore turns max_attempts=8 (retries) into 9 attempts in all
    assert config.retries == {"mode": "standard", "total_max_attempts": 9}
    assert (config.connect_timeout, config.read_timeout) == (5, 15)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert client("ssm") is not ssm  # a changed environment gets a new client


@pytest.mark.parametrize(
    ("exc", "code", "exit_code", "hint"),
    [
        (ProfileNotFound(profile="nope"), "ProfileNotFound", 2, "unset AWS_PROFILE"),
        (ConfigParseError(path="/x"), "ConfigParseError", 2, "AWS_CONFIG_FILE"),
        (InvalidRegionError(region_name="a b"), "InvalidRegionError", 2, "AWS_REGION"),
        (NoCredentialsError(), "NoCredentialsError", 1, "IAM role"),
    ],
)
def test_settings_errors_exit_2_and_failed_calls_exit_1(
    exc: Exception, code: str, exit_code: int, hint: str
) -> None:
    err = translate_botocore_error(exc, "ssm", "GetParameter", "/x")
    assert (err.code, err.exit_code) == (code, exit_code)
    assert isinstance(err, AwsConfigInvalid) == (exit_code == 2)
    assert hint in err.one_line()
