"""Rendering config files with values from moto's SSM and Secrets Manager over HTTP."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hdhooks import redact
from hdhooks.aws import params
from hdhooks.aws.session import AwsCallFailed, client
from hdhooks.config.load import load_config
from hdhooks.instance.render import RenderFailed, build_context, fetch_values, render_templates

DB_PASSWORD = "pa55-Zq8vX2-db"
API_TOKEN = "tok-Hj7Kq3Lm9Np2"
SSM_SECRET = "ssm-Sec-Str-4u7i"


def make_bundle(root: Path, prefix: str, template: str, extra: str = "") -> Path:
    (root / "deploy").mkdir(parents=True)
    (root / "config").mkdir()
    (root / "config" / "app.yml.j2").write_text(template)
    (root / "deploy" / "hdhooks.yml").write_text(f"""\
component: api
service: {{port: 8080}}
values: {{threads: 4}}
ssm:
  paths: [{prefix}]
  parameters: {{region_name: {prefix}/single}}
secrets:
  db_password: {{id: {prefix[1:]}/db, key: password}}
  api_token: {prefix[1:]}/token
templates:
  - template: config/app.yml.j2
    destination: conf/app.yml
    mode: "0600"
{extra}""")
    return root


def seed(prefix: str) -> None:
    ssm = client("ssm")
    for i in range(13):  # more than one page (moto serves 10 per page)
        ssm.put_parameter(Name=f"{prefix}/plain/p{i:02d}", Value=f"value-{i}", Type="String")
    ssm.put_parameter(Name=f"{prefix}/db/host", Value="db.internal", Type="String")
    ssm.put_parameter(Name=f"{prefix}/db/secret", Value=SSM_SECRET, Type="SecureString")
    ssm.put_parameter(Name=f"{prefix}/single", Value="eu-west-1", Type="String")
    sm = client("secretsmanager")
    sm.create_secret(Name=f"{prefix[1:]}/db",
                     SecretString=json.dumps({"username": "app", "password": DB_PASSWORD}))
    sm.create_secret(Name=f"{prefix[1:]}/token", SecretString=API_TOKEN)


@pytest.fixture
def prefix(aws_env: dict[str, str], request: pytest.FixtureRequest) -> str:
    name = f"/hdh/{request.node.name.replace('[', '-').replace(']', '')}"
    seed(name)
    return name


TEMPLATE = """\
threads: {{ values.threads }}
db_host: {{ ssm["db/host"] }}
db_ssm_secret: {{ ssm["db/secret"] }}
p12: {{ ssm["plain/p12"] }}
full: {{ ssm[ssm_prefix ~ "/plain/p00"] }}
region: {{ ssm.region_name }}
password: {{ secrets.db_password }}
token: {{ secrets.api_token }}
release: {{ release_dir }}
home: {{ env.HDHOOKS_TEST_MARK }}
"""


def render(bundle: Path, stage: Path, **extra: object) -> list[Path]:
    config = load_config(bundle)
    context = build_context(config, release_dir="/opt/api/releases/d-1",
                            fetched=fetch_values(config), extra=extra)
    return [f.destination for f in render_templates(config, context, stage_dir=stage)]


def test_values_from_ssm_and_secrets_manager(
    tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HDHOOKS_TEST_MARK", "from-env")
    bundle = make_bundle(tmp_path / "bundle", prefix, TEMPLATE)
    stage = tmp_path / "release"
    stage.mkdir()
    written = render(bundle, stage, ssm_prefix=prefix)
    assert written == [stage / "conf" / "app.yml"]
    text = written[0].read_text()
    assert text == f"""\
threads: 4
db_host: db.internal
db_ssm_secret: {SSM_SECRET}
p12: value-12
full: value-0
region: eu-west-1
password: {DB_PASSWORD}
token: {API_TOKEN}
release: /opt/api/releases/d-1
home: from-env
"""
    assert stat.S_IMODE(written[0].stat().st_mode) == 0o600
    for secret in (DB_PASSWORD, API_TOKEN, SSM_SECRET):
        assert redact.redact(f"x{secret}y") == "x****y"
    assert not redact.is_secret("db.internal")  # plain String values are not secret


FAILING = """\
ok: {{ secrets.api_token }}
bad: {{ {"a": 1}[secrets.db_password] }}
"""


def test_failing_render_never_shows_a_secret(
    tmp_path: Path, prefix: str, capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bundle = make_bundle(tmp_path / "bundle", prefix, FAILING)
    stage = tmp_path / "release"
    stage.mkdir()
    with caplog.at_level("DEBUG"), pytest.raises(RenderFailed) as info:
        render(bundle, stage)
    message = info.value.one_line()
    assert message.startswith("config/app.yml.j2:2: undefined: ")
    assert "****" in message
    out, err = capfd.readouterr()
    for secret in (DB_PASSWORD, API_TOKEN):
        assert secret not in message + out + err + caplog.text
    assert not (stage / "conf" / "app.yml").exists()


CHILD = """\
import logging, sys
from hdhooks.cli.boundary import report_error
from hdhooks.config.load import load_config
from hdhooks.errors import HdhooksError
from hdhooks.instance.render import build_context, fetch_values, render_templates
from hdhooks.redact import RedactingFilter
handler = logging.StreamHandler(sys.stderr)
handler.addFilter(RedactingFilter())
logging.basicConfig(level=logging.DEBUG, handlers=[handler])
config = load_config(sys.argv[1])
fetched = fetch_values(config)
logging.getLogger("hdhooks.test").info("fetched token %s", fetched.secrets["api_token"])
try:
    render_templates(config, build_context(config, release_dir=sys.argv[2], fetched=fetched),
                     stage_dir=sys.argv[2])
except HdhooksError as exc:
    report_error(exc)
    sys.exit(int(exc.exit_code))
"""


def test_failing_render_in_a_child_process_prints_no_secret(
    tmp_path: Path, prefix: str, aws_env: dict[str, str]
) -> None:
    bundle = make_bundle(tmp_path / "bundle", prefix,
                         "a: {{ secrets.db_password }}\n{% include secrets.api_token %}\n")
    stage = tmp_path / "release"
    stage.mkdir()
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    result = subprocess.run([sys.executable, str(script), str(bundle), str(stage)],
                            env={**os.environ, **aws_env}, capture_output=True, text=True,
                            timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "hdhooks: error: config/app.yml.j2:2: included template not found: ****" in output
    assert "fetched token ****" in output
    for secret in (DB_PASSWORD, API_TOKEN):
        assert secret not in output


def test_missing_values_name_the_call(tmp_path: Path, aws_env: dict[str, str]) -> None:
    bundle = make_bundle(tmp_path / "bundle", "/hdh/none-such", "x\n")
    with pytest.raises(AwsCallFailed) as info:
        fetch_values(load_config(bundle))
    assert info.value.code == "ParameterNotFound"
    assert info.value.one_line().startswith(
        "GetParameter /hdh/none-such/single: ParameterNotFound")
    with pytest.raises(AwsCallFailed) as info:
        params.secret_value("hdh/none-such/db")
    assert info.value.code == "ResourceNotFoundException"
    assert "GetSecretValue hdh/none-such/db: ResourceNotFoundException" in info.value.one_line()


def test_all_or_nothing_across_templates(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "deploy").mkdir(parents=True)
    (bundle / "good.j2").write_text("new {{ values.v }}\n")
    (bundle / "bad.j2").write_text("line one\n{{ values.v }}\n{{ values.missing }}\n")
    out = tmp_path / "etc"
    out.mkdir()
    (out / "good.conf").write_text("old good\n")
    (out / "bad.conf").write_text("old bad\n")
    (bundle / "deploy" / "hdhooks.yml").write_text(f"""\
component: api
values: {{v: 1}}
templates:
  - {{template: good.j2, destination: {out}/good.conf, mode: "0644"}}
  - {{template: bad.j2, destination: {out}/bad.conf}}
""")
    config = load_config(bundle)
    with pytest.raises(RenderFailed) as info:
        render_templates(config, build_context(config, release_dir=tmp_path), stage_dir=tmp_path)
    assert info.value.one_line() == (
        "bad.j2:3: undefined: 'dict object' has no attribute 'missing'")
    assert (out / "good.conf").read_text() == "old good\n"
    assert (out / "bad.conf").read_text() == "old bad\n"
    assert sorted(os.listdir(out)) == ["bad.conf", "good.conf"]


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "deploy").mkdir(parents=True)
    (bundle / "t.j2").write_text("a\nb\nc\n{{ x + }}\n")
    (bundle / "deploy" / "hdhooks.yml").write_text(
        "component: api\ntemplates: [{template: t.j2, destination: t}]\n")
    config = load_config(bundle)
    with pytest.raises(RenderFailed, match=r"^t\.j2:4: syntax error: unexpected"):
        render_templates(config, build_context(config, release_dir=tmp_path), stage_dir=tmp_path)


def test_sandbox_refuses_unsafe_access(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "deploy").mkdir(parents=True)
    (bundle / "t.j2").write_text("{{ values.__class__.__mro__ }}\n")
    (bundle / "deploy" / "hdhooks.yml").write_text(
        "component: api\ntemplates: [{template: t.j2, destination: t}]\n")
    config = load_config(bundle)
    with pytest.raises(RenderFailed, match=r"^t\.j2:1: "):
        render_templates(config, build_context(config, release_dir=tmp_path), stage_dir=tmp_path)


KILL_CHILD = """\
import sys
from hdhooks.config.load import load_config
from hdhooks.instance.render import build_context, render_templates
config = load_config(sys.argv[1])
render_templates(config, build_context(config, release_dir=sys.argv[2]), stage_dir=sys.argv[2])
"""


def test_render_killed_half_way_leaves_the_old_file(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "deploy").mkdir(parents=True)
    # 10^10 lines: never finishes; the child is killed while writing
    (bundle / "huge.j2").write_text(
        "{% for i in range(100000) %}{% for j in range(100000) %}"
        "line {{ i }} {{ j }} {{ values.pad }}\n{% endfor %}{% endfor %}")
    out = tmp_path / "etc"
    out.mkdir()
    dest = out / "app.conf"
    dest.write_text("old content\n")
    (bundle / "deploy" / "hdhooks.yml").write_text(f"""\
component: api
values: {{pad: "{'x' * 200}"}}
templates: [{{template: huge.j2, destination: {dest}, mode: "0644"}}]
""")
    script = tmp_path / "child.py"
    script.write_text(KILL_CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(bundle), str(tmp_path)])
    try:
        temp = _wait_for_partial_file(out, child)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert temp.stat().st_size > 1_000_000  # it really was half-way through writing
    assert dest.read_text() == "old content\n"
    # The next render cleans the dead writer's temp file and succeeds.
    (bundle / "huge.j2").write_text("new {{ values.pad[:3] }}\n")
    config = load_config(bundle)
    render_templates(config, build_context(config, release_dir=tmp_path), stage_dir=tmp_path)
    assert dest.read_text() == "new xxx\n"
    assert os.listdir(out) == ["app.conf"]


def _wait_for_partial_file(directory: Path, child: subprocess.Popen[bytes]) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert child.poll() is None, "the render ended before it could be killed"
        for name in os.listdir(directory):
            path = directory / name
            if name != "app.conf" and path.stat().st_size > 1_000_000:
                return path
        time.sleep(0.01)
    raise AssertionError("no partial file appeared")


def test_mode_applied(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "deploy").mkdir(parents=True)
    (bundle / "t.j2").write_text("x\n")
    (bundle / "deploy" / "hdhooks.yml").write_text(
        "component: api\ntemplates: [{template: t.j2, destination: conf/t, mode: 0640}]\n")
    config = load_config(bundle)
    render_templates(config, build_context(config, release_dir=tmp_path), stage_dir=tmp_path)
    assert stat.S_IMODE((tmp_path / "conf" / "t").stat().st_mode) == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_owner_and_group_applied(tmp_path: Path) -> None:
    import grp
    import pwd

    nobody = pwd.getpwnam("nobody")
    bundle = tmp_path / "bundle"
    (bundle / "deploy").mkdir(parents=True)
    (bundle / "t.j2").write_text("x\n")
    (bundle / "deploy" / "hdhooks.yml").write_text(
        "component: api\nservice: {user: nobody}\ntemplates:\n"
        "  - {template: t.j2, destination: a, owner: nobody}\n"
        "  - {template: t.j2, destination: b, group: root}\n")
    config = load_config(bundle)
    render_templates(config, build_context(config, release_dir=tmp_path), stage_dir=tmp_path)
    a, b = (tmp_path / "a").stat(), (tmp_path / "b").stat()
    assert (a.st_uid, a.st_gid) == (nobody.pw_uid, nobody.pw_gid)  # group: the user's own
    assert (b.st_uid, b.st_gid) == (0, grp.getgrnam("root").gr_gid)
