"""The unit hdhooks renders, as systemd reads it: settings, quoting, enabling.

Run through Debian's daemonless systemctl with ``--root`` (a real unit file
starting a real process), plus the rendered text for what only a real
systemd interprets (Group=, SuccessExitStatus=, escapes).
"""

from __future__ import annotations

import os
from pathlib import Path

from hdhooks.instance.service.base import ServiceSpec
from hdhooks.instance.service.systemd import load_template, render_unit
from tests.integration.service.conftest import ServiceFactory, hello_command


def unit_text(**kw: object) -> str:
    values: dict[str, object] = {"name": "api", "command": ["/usr/bin/java", "-jar", "app.jar"]}
    values.update(kw)
    return render_unit(ServiceSpec(**values), load_template("builtin"))  # type: ignore[arg-type]


def test_group_and_a_clean_jvm_stop_are_in_the_unit() -> None:
    text = unit_text(user="api", group="api-readers", workdir="/opt/api/current")
    assert "User=api\nGroup=api-readers\n" in text
    assert "SuccessExitStatus=143\n" in text  # java's exit status after SIGTERM
    assert "Restart=on-failure\n" in text and "KillMode=control-group\n" in text
    assert "Group=" not in unit_text(user="api")


def test_environment_and_working_directory_survive_systemd_parsing() -> None:
    text = unit_text(env={"MOTD": "line one\nline two", "PCT": "100%"},
                     workdir="/opt/api%x/current")
    assert 'Environment="MOTD=line one\\nline two"\n' in text  # one line, C escape
    assert 'Environment="PCT=100%%"\n' in text  # not a specifier
    assert "WorkingDirectory=/opt/api%%x/current\n" in text
    assert len([line for line in text.splitlines() if line.startswith("Environment=")]) == 2


def test_a_rendered_unit_is_enabled_so_it_starts_after_a_reboot(make: ServiceFactory,
                                                                 port: int) -> None:
    svc = make("systemd", hello_command(port))
    svc.start()
    root = Path(svc.spec.unit_dir).parents[2]
    wants = root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "hello.service"
    assert wants.is_symlink()
    svc.stop()
    svc.start()  # already enabled: nothing to do, still running
    assert svc.status().active and wants.is_symlink()


def test_a_unit_managed_elsewhere_is_left_as_its_owner_chose(make: ServiceFactory,
                                                            tmp_path: Path, port: int) -> None:
    svc = make("systemd", hello_command(port), unit_template=None)
    unit = Path(svc.spec.unit_dir) / "hello.service"
    unit.parent.mkdir(parents=True)
    unit.write_text(f"[Service]\nExecStart={' '.join(hello_command(port))}\n"
                    "[Install]\nWantedBy=multi-user.target\n")
    svc.start()
    assert svc.status().active
    assert not (unit.parent / "multi-user.target.wants").exists()
    assert os.path.exists(unit)
