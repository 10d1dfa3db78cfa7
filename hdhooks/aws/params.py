"""Configuration values from SSM Parameter Store and Secrets Manager.

Each value comes back as a :class:`Param` that says whether it is secret
(SecureString or any Secrets Manager value). Secret values are registered
with :mod:`hdhooks.redact` before this module returns them, so no later error
message or log line can show them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hdhooks.aws.session import AwsCallFailed, aws_call, client
from hdhooks.redact import register


@dataclass(frozen=True)
class Param:
    """One fetched value. ``repr`` never shows a secret value."""

    name: str
    value: str
    secret: bool

    def __repr__(self) -> str:
        shown = "****" if self.secret else repr(self.value)
        return f"Param(name={self.name!r}, value={shown}, secret={self.secret})"


def _param(item: dict[str, object]) -> Param:
    value = str(item.get("Value", ""))
    secret = item.get("Type") == "SecureString"
    if secret:
        register(value)
    return Param(str(item.get("Name", "")), value, secret)


def parameters_by_path(
    path: str, *, recursive: bool = True, region: str | None = None
) -> list[Param]:
    """Every parameter under ``path`` (all pages), SecureStrings decrypted."""
    ssm = client("ssm", region)
    found: list[Param] = []
    kwargs: dict[str, object] = {"Path": path, "Recursive": recursive, "WithDecryption": True}
    with aws_call("ssm", "GetParametersByPath", path):
        while True:
            page = ssm.get_parameters_by_path(**kwargs)
            found.extend(_param(item) for item in page.get("Parameters", []))
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
    return found


def parameter(name: str, *, region: str | None = None) -> Param:
    """One parameter by name, decrypted when it is a SecureString."""
    ssm = client("ssm", region)
    with aws_call("ssm", "GetParameter", name):
        item = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    return _param(item)


def secret_value(
    secret_id: str, *, json_key: str | None = None, region: str | None = None
) -> Param:
    """A Secrets Manager string secret, or one key of a JSON secret.

    The whole secret string and the value returned are registered as secret.
    Other keys of a JSON secret (often a plain user name) are not: they never
    reach a template, and masking short common words would garble messages.
    """
    sm = client("secretsmanager", region)
    with aws_call("secretsmanager", "GetSecretValue", secret_id):
        answer = sm.get_secret_value(SecretId=secret_id)
    if "SecretString" not in answer:
        raise AwsCallFailed(
            f"secret {secret_id} is binary; hdhooks reads string secrets only",
            service="secretsmanager",
            operation="GetSecretValue",
            code="BinarySecret",
        )
    text = str(answer["SecretString"])
    register(text)
    if json_key is None:
        return Param(secret_id, text, True)
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise AwsCallFailed(
            f"secret {secret_id} is not a JSON object, so key '{json_key}' cannot be read",
            service="secretsmanager",
            operation="GetSecretValue",
            code="NotJson",
            hint="drop 'key' to use the whole secret string",
        )
    if json_key not in doc:
        raise AwsCallFailed(
            f"secret {secret_id} has no key '{json_key}' (keys: {', '.join(sorted(doc))})",
            service="secretsmanager",
            operation="GetSecretValue",
            code="MissingKey",
        )
    value = doc[json_key]
    value = value if isinstance(value, str) else json.dumps(value)
    register(value)
    return Param(f"{secret_id}:{json_key}", value, True)
