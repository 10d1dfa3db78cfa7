"""A broken AWS configuration fails AfterInstall with one clear line, exit 2.

The hook renders an SSM SecureString, so it creates a client: a bad region,
endpoint URL, config file or profile is a configuration error (exit 2), a
call AWS could not answer a failed hook (exit 1). Never exit 70, never the
secret in any output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.hookkit import Machine, assert_outcome

SECRET = "Db-pa55-Qx71mm-aws"
TEMPLATE = "db={{ ssm.db_password }}\n"


@pytest.fixture
def machine(tmp_path: Path, aws_env: dict[str, str]) -> Iterator[Machine]:
    m = Machine(tmp_path)
    m.extra_env.update(aws_env)
    yield m
    m.cleanup()


@pytest.fixture
def param(request: pytest.FixtureRequest, aws_env: dict[str, str]) -> str:
    unique = request.node.name.replace("[", "-").replace("]", "")
    name = f"/hello/{unique}/db-password"
    boto3.client("ssm").put_parameter(Name=name, Value=SECRET, Type="SecureString")
    return name


def with_param(name: str) -> Any:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["ssm"] = {"parameters": {"db_password": name}}
        cfg["templates"].append({"template": "deploy/db.j2", "destination": "conf/db.conf"})
    return edit


def garbage_config(tmp: Path) -> str:
    path = tmp / "aws-config"
    path.write_bytes(b"this is not\x00 an ini file\n[[[\nregion\n")
    return str(path)


ENDPOINT_HINT = ("(AWS_ENDPOINT_URL (or endpoint_url in the AWS config file) must be a URL "
                 "such as https://ssm.eu-west-1.amazonaws.com, or unset)")

# (id, environment change, exit code, text the outcome line ends with)
CASES = [
    ("endpoint", lambda tmp: {"AWS_ENDPOINT_URL": "::bad"}, 2,
     f"cannot create the ssm client: Invalid endpoint: ::bad {ENDPOINT_HINT}"),
    ("endpoint-port", lambda tmp: {"AWS_ENDPOINT_URL": "http://127.0.0.1:99999"}, 2,
     "endpoint URL 'http://127.0.0.1:99999' is not usable (Port out of range 0-65535) "
     + ENDPOINT_HINT),
    ("endpoint-scheme", lambda tmp: {"AWS_ENDPOINT_URL": "ftp://127.0.0.1"}, 2,
     f"endpoint URL 'ftp://127.0.0.1' is not usable (scheme ftp) {ENDPOINT_HINT}"),
    ("region", lambda tmp: {"AWS_REGION": "eu west 1!", "AWS_DEFAULT_REGION": "eu west 1!"}, 2,
     "cannot create the ssm client: Provided region_name 'eu west 1!' doesn't match a "
     "supported format. (set AWS_REGION to a region name such as eu-west-1)"),
    ("config-file", lambda tmp: {"AWS_CONFIG_FILE": garbage_config(tmp)}, 2,
     "aws-config (fix the file, or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE "
     "at a valid one)"),
    ("profile", lambda tmp: {"AWS_PROFILE": "nope"}, 2,
     "cannot create the ssm client: The config profile (nope) could not be found "
     "(define the profile in the AWS config file, or unset AWS_PROFILE)"),
    ("unreachable", lambda tmp: {"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                                 "AWS_MAX_ATTEMPTS": "1"}, 1,
     "(check the network path to the AWS endpoint (VPC endpoint, proxy, security group))"),
]


@pytest.mark.parametrize(("change", "code", "ending"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_broken_aws_setting_is_one_line(machine: Machine, param: str, change: Any,
                                          code: int, ending: str) -> None:
    bundle = machine.bundle("v1", "hello-1.0.0", edit=with_param(param),
                            files={"deploy/db.j2": TEMPLATE})
    machine.extra_env.update(change(machine.tmp))

    run = machine.hook("AfterInstall", bundle, "d-AWSCONF01")

    line = assert_outcome(run, "FAILED", "AfterInstall", code)
    assert line.endswith(ending), run.describe()
    assert "internal error" not in run.output and "Traceback" not in run.output
    assert SECRET not in run.output
    assert not (machine.base_dir / "releases" / "d-AWSCONF01" / "conf" / "db.conf").exists()


def test_the_same_setup_renders_when_the_settings_are_right(machine: Machine,
                                                            param: str) -> None:
    bundle = machine.bundle("v1", "hello-1.0.0", edit=with_param(param),
                            files={"deploy/db.j2": TEMPLATE})

    run = machine.hook("AfterInstall", bundle, "d-AWSCONF02")

    assert_outcome(run, "OK", "AfterInstall", 0)
    rendered = machine.base_dir / "releases" / "d-AWSCONF02" / "conf" / "db.conf"
    assert rendered.read_text() == f"db={SECRET}\n"
