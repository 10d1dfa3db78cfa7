"""systemd backend: command building, `systemctl show` parsing, unit rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdhooks.errors import ConfigError
from hdhooks.instance.service.base import ServiceSpec
from hdhooks.instance.service.systemd import (
    load_template,
    parse_show,
    quote_exec_arg,
    render_unit,
    root_of,
    status_from_show,
    systemctl_argv,
    write_if_changed,
)

# systemd 252 (Debian 12), `systemctl show api.service`, trimmed.
REAL_SYSTEMD_RUNNING = """\
Type=simple
Restart=on-failure
NotifyAccess=none
RestartUSec=5s
TimeoutStopUSec=30s
MainPID=4242
ControlPID=0
ExecMainStartTimestamp=Tue 2024-05-14 10:01:02 UTC
ExecMainPID=4242
ExecMainCode=0
ExecMainStatus=0
ExecStart={ path=/usr/bin/java ; argv[]=/usr/bin/java -jar app.jar ; ignore_errors=no }
Environment=JAVA_OPTS=-Xmx1g SPRING_PROFILES_ACTIVE=prod
Id=api.service
Names=api.service
Description=api (deployed by hdhooks)
LoadState=loaded
ActiveState=active
SubState=running
FragmentPath=/etc/systemd/system/api.service
UnitFileState=enabled
"""

REAL_SYSTEMD_AUTO_RESTART = """\
MainPID=0
ExecMainStatus=3
Id=api.service
LoadState=loaded
ActiveState=activating
SubState=auto-restart
"""

# Debian's daemonless systemctl 1.4, `systemctl --root R show hello.service`.
DAEMONLESS_FAILED = """\
Id=hello.service
Names=hello.service
Description=hello (deployed by hdhooks)
MainPID=0
SubState=failed
ActiveState=failed
LoadState=loaded
UnitFileState=disabled
TimeoutStartUSec=1min 30s
TimeoutStopUSec=10s
NeedDaemonReload=no
Environment=HELLO_X=1
"""

DAEMONLESS_NOT_FOUND = """\
Id=nothere.service
Names=nothere.service
Description=NOT-FOUND nothere.service
MainPID=0
SubState=dead
ActiveState=inactive
LoadState=not-found
UnitFileState=static
"""


@pytest.mark.parametrize(
    ("text", "active", "pid", "state", "substate", "loaded"),
    [
        (REAL_SYSTEMD_RUNNING, True, 4242, "active", "running", True),
        (REAL_SYSTEMD_AUTO_RESTART, False, None, "activating", "auto-restart", True),
        (DAEMONLESS_FAILED, False, None, "failed", "failed", True),
        (DAEMONLESS_NOT_FOUND, False, None, "inactive", "dead", False),
        ("", False, None, "unknown", "unknown", False),
        ("MainPID=garbage\nActiveState=reloading\n", True, None, "reloading", "unknown", False),
    ],
)
def test_status_from_show(text: str, active: bool, pid: int | None, state: str,
                          substate: str, loaded: bool) -> None:
    status = status_from_show(parse_show(text))
    assert (status.active, status.main_pid, status.state, status.substate, status.loaded) == (
        active, pid, state, substate, loaded)


def test_parse_show_keeps_values_with_equals_signs() -> None:
    props = parse_show(REAL_SYSTEMD_RUNNING)
    assert props["Environment"] == "JAVA_OPTS=-Xmx1g SPRING_PROFILES_ACTIVE=prod"
    assert props["ExecStart"].startswith("{ path=/usr/bin/java")


def test_status_describe() -> None:
    status = status_from_show(parse_show(REAL_SYSTEMD_RUNNING))
    assert status.describe() == "active (running) pid 4242"
    assert status_from_show(parse_show(DAEMONLESS_NOT_FOUND)).describe() == (
        "inactive (dead), not installed")


def spec(**kw: object) -> ServiceSpec:
    values: dict[str, object] = {"name": "api", "command": ["/usr/bin/java", "-jar", "app.jar"]}
    values.update(kw)
    return ServiceSpec(**values)  # type: ignore[arg-type]


def test_systemctl_argv_uses_the_configured_prefix() -> None:
    s = spec(systemctl=["/opt/systemctl", "--root", "/tmp/r"])
    assert systemctl_argv(s, "show", "api.service") == [
        "/opt/systemctl", "--root", "/tmp/r", "show", "api.service"]
    assert root_of(s.systemctl) == "/tmp/r"
    assert root_of(["systemctl", "--root=/x"]) == "/x"
    assert root_of(["systemctl"]) is None


@pytest.mark.parametrize(
    ("arg", "quoted"),
    [
        ("/usr/bin/java", "/usr/bin/java"),
        ("-Dx=1", "-Dx=1"),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("100%", "100%%"),
        ("$HOME", "$$HOME"),
        ("", '""'),
        ("back\\slash", '"back\\\\slash"'),
    ],
)
def test_quote_exec_arg(arg: str, quoted: str) -> None:
    assert quote_exec_arg(arg) == quoted


def test_builtin_unit_renders_every_setting(tmp_path: Path) -> None:
    s = spec(workdir="/opt/api/current", user="app", env={"B": "2", "A": 'x "y"'},
             log_dir="/var/log/api", stop_timeout=45, port=8080)
    text = render_unit(s, load_template("builtin"))
    assert "ExecStart=/usr/bin/java -jar app.jar\n" in text
    assert "WorkingDirectory=/opt/api/current\n" in text
    assert "User=app\n" in text
    assert 'Environment="A=x \\"y\\""\nEnvironment="B=2"\n' in text
    assert "StandardOutput=append:/var/log/api/api.log\n" in text
    assert "TimeoutStopSec=45\n" in text
    assert "$" not in text.replace("$$", "")


def test_builtin_unit_leaves_out_what_is_not_set() -> None:
    text = render_unit(spec(), load_template("builtin"))
    for absent in ("WorkingDirectory=", "User=", "Environment=", "StandardOutput="):
        assert absent not in text


def test_custom_template_and_unknown_variable(tmp_path: Path) -> None:
    good = tmp_path / "good.tmpl"
    good.write_text("[Service]\nExecStart=$exec_start\n# port $port, cost $$5\n")
    assert render_unit(spec(port=9000), load_template(str(good))) == (
        "[Service]\nExecStart=/usr/bin/java -jar app.jar\n# port 9000, cost $5\n")
    with pytest.raises(ConfigError, match=r"unknown variable \$exec"):
        render_unit(spec(), "ExecStart=$exec\n")
    with pytest.raises(ConfigError, match="cannot read unit template"):
        load_template(str(tmp_path / "missing.tmpl"))


def test_write_if_changed_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "api.service"
    assert write_if_changed(str(path), "a\n") is True
    assert write_if_changed(str(path), "a\n") is False
    assert write_if_changed(str(path), "b\n") is True
    assert path.read_text() == "b\n"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in path.parent.iterdir()] == ["api.service"]


def test_unit_values_are_exactly_the_variables_the_config_checks() -> None:
    from hdhooks.config.model import UNIT_VARIABLES
    from hdhooks.instance.service.base import ServiceSpec as Spec
    from hdhooks.instance.service.systemd import unit_values

    assert set(unit_values(Spec(name="unit", command=("unit",)))) == set(UNIT_VARIABLES)
