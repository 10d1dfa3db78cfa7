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


ODD = "od\\d\t'q\"u\nnl-é✓-Zx91"


@pytest.fixture
def odd_secret(request: pytest.FixtureRequest, aws_env: dict[str, str]) -> str:
    unique = request.node.name.replace("[", "-").replace("]", "")
    secret_id = f"odd/{unique}/token"
    boto3.client("secretsmanager").create_secret(Name=secret_id, SecretString=ODD)
    return secret_id


HOSTILE = [
    ("repr-in-error", "x={{ values[secrets.odd] }}\n", "deploy/t.j2:1: undefined"),
    ("string-bomb", "{{ 'x' * 10**10 }}\n", "deploy/t.j2:1: limit exceeded: '*' would build"),
    ("center-bomb", "{{ secrets.odd|center(10**10) }}\n",
     "deploy/t.j2:1: limit exceeded: filter 'center' was given a width"),
    ("range-bomb", "\n{% for i in range(10**9) %}x{% endfor %}\n", "deploy/t.j2:2: OverflowError"),
    ("recursive-macro", "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(secrets.odd) }}\n",
     "deploy/t.j2:1: limit exceeded: recursion too deep"),
    ("silent-loop", "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}"
     "{% endfor %}\n", "deploy/t.j2:1: limit exceeded: rendering took longer than 2s"),
]


@pytest.mark.parametrize(("template", "message"), [h[1:] for h in HOSTILE],
                         ids=[h[0] for h in HOSTILE])
def test_hostile_template_fails_in_one_line_without_the_secret(
        machine: Machine, odd_secret: str, template: str, message: str) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["secrets"] = {"odd": odd_secret}
        cfg["templates"].append({"template": "deploy/t.j2", "destination": "conf/t.conf"})

    machine.extra_env["HDHOOKS_RENDER_SECONDS"] = "2"
    bundle = machine.bundle("v1", "hello-1.0.0", edit=edit, files={"deploy/t.j2": template})
    run = machine.hook("AfterInstall", bundle, "d-ODDODD01")
    line = assert_outcome(run, "FAILED", "AfterInstall", 1)
    assert message in line, line
    assert "Traceback" not in run.output
    registry = list(machine.tmp.rglob("secrets/d-ODDODD01"))
    for piece in (ODD, "od\\d", "nl-é✓-Zx91", repr(ODD)[1:-1]):
        assert piece not in run.output
        for path in machine.tmp.rglob("*"):
            if path.is_file() and "bundles" not in path.parts and path not in registry:
                assert piece not in path.read_text(errors="replace"), path
