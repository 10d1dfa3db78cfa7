"""Secrets from Secrets Manager and SSM (moto's server over HTTP) in AfterInstall.

The rendered file holds them (mode 0640); nothing hdhooks prints does, not
even when a template fails on an expression built from a secret.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.hookkit import Machine, assert_outcome

SECRET = "S3cr3t-token-Zq81xw"
DB_PASSWORD = "pa55-Wd0rd-Kj27vv"


@pytest.fixture
def machine(tmp_path: Path, aws_env: dict[str, str]) -> Iterator[Machine]:
    m = Machine(tmp_path)
    m.extra_env.update(aws_env)
    yield m
    m.cleanup()


@pytest.fixture
def names(request: pytest.FixtureRequest, aws_env: dict[str, str]) -> tuple[str, str]:
    """A secret and a SecureString parameter, unique to the test."""
    unique = request.node.name.replace("[", "-").replace("]", "")
    secret_id, param = f"hello/{unique}/token", f"/hello/{unique}/db-password"
    boto3.client("secretsmanager").create_secret(Name=secret_id, SecretString=SECRET)
    boto3.client("ssm").put_parameter(Name=param, Value=DB_PASSWORD, Type="SecureString")
    return secret_id, param


def with_secrets(secret_id: str, param: str, template: str) -> Any:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["secrets"] = {"api_token": secret_id}
        cfg["ssm"] = {"parameters": {"db_password": param}}
        cfg["templates"].append({"template": template, "destination": "conf/secret.conf"})
    return edit


GOOD = "token={{ secrets.api_token }}\ndb={{ ssm.db_password }}\n"


def test_secrets_are_rendered_into_a_private_file(machine: Machine,
                                                   names: tuple[str, str]) -> None:
    bundle = machine.bundle("v1", "hello-1.0.0", edit=with_secrets(*names, "deploy/secret.j2"),
                            files={"deploy/secret.j2": GOOD})
    run = machine.hook("AfterInstall", bundle, "d-KKKKKKKK1")
    assert_outcome(run, "OK", "AfterInstall", 0)
    assert "rendered 2 template(s)" in run.outcome_line()
    rendered = machine.base_dir / "releases" / "d-KKKKKKKK1" / "conf" / "secret.conf"
    assert rendered.read_text() == f"token={SECRET}\ndb={DB_PASSWORD}\n"
    assert stat.S_IMODE(os.stat(rendered).st_mode) == 0o640
    assert SECRET not in run.output and DB_PASSWORD not in run.output


@pytest.mark.parametrize("expression", ["secrets.api_token", "ssm.db_password"])
def test_a_template_error_never_shows_the_secret(machine: Machine, names: tuple[str, str],
                                                 expression: str) -> None:
    """The undefined name *is* the secret value: Jinja puts it in its message."""
    broken = f"ok={{{{ {expression} }}}}\nbroken={{{{ values[{expression}] }}}}\n"
    bundle = machine.bundle("v1", "hello-1.0.0", edit=with_secrets(*names, "deploy/secret.j2"),
                            files={"deploy/secret.j2": broken})
    run = machine.hook("AfterInstall", bundle, "d-KKKKKKKK2")
    line = assert_outcome(run, "FAILED", "AfterInstall", 1)
    assert "deploy/secret.j2:2: undefined" in line
    assert "****" in line
    for value in (SECRET, DB_PASSWORD):
        assert value not in run.output
        for path in machine.tmp.rglob("*"):
            if path.is_file() and "bundles" not in path.parts:
                assert value not in path.read_text(errors="replace"), path
    assert not (machine.base_dir / "releases" / "d-KKKKKKKK2").exists()
