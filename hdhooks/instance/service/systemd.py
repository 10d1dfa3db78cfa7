"""The systemd backend: ``systemctl`` commands and the parsing of their output.

Every systemctl call is built by :func:`systemctl_argv` and run through
:func:`hdhooks.proc.run`; state is read from ``systemctl show <unit>``
(all properties) with the pure :func:`parse_show`. ``show`` is used instead
of ``is-active``/``status`` because its key=value output is stable across
systemd versions and also what Debian's daemonless systemctl prints (which
answers ``unknown`` to ``is-active`` and honours only one ``--property``).

When the spec names a unit template, the unit file is rendered with
``string.Template`` (no Jinja2 import on this path), written atomically, and
``daemon-reload`` runs only when the content changed.
"""

from __future__ import annotations

import os
import string
import time
from collections.abc import Mapping, Sequence

from hdhooks import proc
from hdhooks.errors import CommandFailed, ConfigError
from hdhooks.instance.service.base import (
    Service,
    ServiceSpec,
    ServiceStatus,
    StopResult,
    check_port_released,
    tail_file,
)

BUILTIN_TEMPLATE = "builtin"
#: UnitFileState values for which ``systemctl enable`` has nothing to do.
ENABLED_STATES = ("enabled", "enabled-runtime", "static", "alias", "indirect", "generated")
START_TIMEOUT = 120.0
#: Extra time given to ``systemctl stop`` beyond the stop timeout before
#: hdhooks sends SIGKILL itself.
STOP_MARGIN = 10.0


def systemctl_argv(spec: ServiceSpec, verb: str, *args: str) -> list[str]:
    """The argv of one systemctl call: the spec's systemctl prefix, verb, args."""
    return [*spec.systemctl, verb, *args]


def parse_show(text: str) -> dict[str, str]:
    """``systemctl show`` output (``Key=value`` lines) as a dict; first wins."""
    props: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and key.strip() == key and key not in props:
            props[key] = value
    return props


def status_from_show(props: Mapping[str, str]) -> ServiceStatus:
    """A :class:`ServiceStatus` from parsed ``show`` properties."""
    state = props.get("ActiveState", "unknown") or "unknown"
    try:
        pid: int | None = int(props.get("MainPID", "0")) or None
    except ValueError:
        pid = None
    load = props.get("LoadState", "")
    return ServiceStatus(
        active=state in ("active", "reloading"),
        main_pid=pid,
        state=state,
        substate=props.get("SubState", "unknown") or "unknown",
        loaded=load == "loaded",
    )


def quote_exec_arg(arg: str) -> str:
    """One argument for ExecStart=, quoted by systemd's rules.

    ``%`` (specifiers) and ``$`` (variable expansion) are doubled so the
    application gets exactly the string it was given.
    """
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if escaped and not any(c in escaped for c in ' \t\n"\'\\;'):
        return escaped
    escaped = escaped.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def quote_environment(key: str, value: str) -> str:
    """One ``Environment=`` line: systemd unquotes it and reads C escapes.

    ``%`` is doubled (specifiers); ``$`` needs nothing (no expansion there).
    """
    text = f"{key}={value}".replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    return 'Environment="{}"\n'.format(text.replace("\n", "\\n"))


def unit_values(spec: ServiceSpec) -> dict[str, str]:
    """The variables a unit template can use (see docs/service.md)."""
    env_lines = "".join(quote_environment(k, v) for k, v in sorted(spec.env.items()))
    log = spec.log_file if spec.log_dir else ""
    workdir = (spec.workdir or "").replace("%", "%%")
    return {
        "name": spec.name,
        "unit": spec.unit,
        "description": f"{spec.name} (deployed by hdhooks)",
        "exec_start": " ".join(quote_exec_arg(a) for a in spec.command),
        "workdir": workdir,
        "workdir_line": f"WorkingDirectory={workdir}\n" if workdir else "",
        "user": spec.user or "",
        "user_line": f"User={spec.user}\n" if spec.user else "",
        "group": spec.group or "",
        "group_line": f"Group={spec.group}\n" if spec.group else "",
        "environment_lines": env_lines,
        "log_file": log,
        "output_lines": f"StandardOutput=append:{log}\nStandardError=inherit\n" if log else "",
        "stop_timeout": f"{spec.stop_timeout:g}",
        "port": str(spec.port or ""),
    }


def render_unit(spec: ServiceSpec, template_text: str) -> str:
    """Render a unit file; a template naming an unknown variable is a ConfigError."""
    try:
        return string.Template(template_text).substitute(unit_values(spec))
    except KeyError as e:
        raise ConfigError(
            f"unit template for {spec.name} uses unknown variable ${e.args[0]}",
            hint="see docs/service.md for the variables",
        ) from None
    except ValueError as e:
        raise ConfigError(
            f"unit template for {spec.name}: {e}", hint="write $$ for a literal $"
        ) from None


def load_template(name: str) -> str:
    """The text of the builtin template or of a template file."""
    if name == BUILTIN_TEMPLATE:
        from importlib import resources

        return resources.files("hdhooks").joinpath("templates/service.unit").read_text("utf-8")
    try:
        with open(name, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"cannot read unit template {name}: {e.strerror}") from None


def write_if_changed(path: str, text: str) -> bool:
    """Atomically replace ``path`` with ``text`` unless it already holds it."""
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return False
    except OSError:
        pass
    from hdhooks.fsutil import atomic_write

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    atomic_write(path, text, mode=0o644)
    return True


def root_of(systemctl: Sequence[str]) -> str | None:
    """The ``--root`` directory of a systemctl command, if any."""
    for i, arg in enumerate(systemctl):
        if arg == "--root" and i + 1 < len(systemctl):
            return systemctl[i + 1]
        if arg.startswith("--root="):
            return arg.split("=", 1)[1]
    return None


class SystemdService(Service):
    """Service control through systemctl."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec

    def _run(self, verb: str, *args: str, timeout: float = 60.0) -> proc.Result:
        return proc.run(systemctl_argv(self.spec, verb, *args), timeout=timeout)

    @property
    def unit_path(self) -> str:
        return os.path.join(self.spec.unit_dir, self.spec.unit)

    def _show(self) -> dict[str, str] | None:
        result = self._run("show", self.spec.unit, timeout=30.0)
        return parse_show(result.output) if result.ok else None

    def status(self) -> ServiceStatus:
        props = self._show()
        if props is None:
            return ServiceStatus(False, None, "unknown", "unknown", loaded=False)
        return status_from_show(props)

    def is_installed(self) -> bool:
        return os.path.exists(self.unit_path) or self.status().loaded

    def install(self) -> bool:
        """Render and write the unit when the spec has a template; reload if changed."""
        if self.spec.unit_template is None:
            return False
        text = render_unit(self.spec, load_template(self.spec.unit_template))
        if not write_if_changed(self.unit_path, text):
            return False
        self._run("daemon-reload").check("systemctl daemon-reload")
        return True

    def enable(self) -> None:
        """Enable a unit hdhooks renders, so the current release starts again after a reboot.

        Only units hdhooks writes itself: a unit managed elsewhere (the AMI's
        nginx) keeps whatever its owner chose.
        """
        if self.spec.unit_template is None:
            return
        props = self._show() or {}
        if props.get("UnitFileState") in ENABLED_STATES:
            return
        self._run("enable", self.spec.unit).check(f"systemctl enable {self.spec.unit}")

    def start(self) -> None:
        self.install()
        self.enable()
        result = self._run("start", self.spec.unit, timeout=START_TIMEOUT)
        if not result.ok:
            tail = [*result.output.splitlines()[-5:], *self.log_tail(15)]
            raise CommandFailed(
                f"systemctl start {self.spec.unit} failed: {self.status().describe()}",
                argv=result.argv,
                exit_status=result.returncode,
                output_tail="\n".join(tail),
            )

    def reload(self) -> None:
        """``systemctl reload`` when active (a shared nginx), else a start."""
        if not self.status().active:
            self.start()
            return
        result = self._run("reload", self.spec.unit, timeout=START_TIMEOUT)
        if not result.ok:
            raise CommandFailed(
                f"systemctl reload {self.spec.unit} failed: {self.status().describe()}",
                argv=result.argv,
                exit_status=result.returncode,
                output_tail="\n".join([*result.output.splitlines()[-5:], *self.log_tail(15)]),
            )

    def stop(self, timeout: float | None = None) -> StopResult:
        """``systemctl stop``; SIGKILL through ``systemctl kill`` if it hangs."""
        timeout = self.spec.stop_timeout if timeout is None else timeout
        began = time.monotonic()
        before = self.status()
        if before.state in ("inactive", "failed", "unknown") and not before.main_pid:
            holders = check_port_released(self.spec.port)
            return StopResult(True, False, time.monotonic() - began, port_holders=holders)
        result = self._run("stop", self.spec.unit, timeout=timeout + STOP_MARGIN)
        killed: bool | None = None
        if result.timed_out:
            self._run("kill", "--signal=SIGKILL", self.spec.unit, timeout=30.0)
            killed = True
        after = self.status()
        stopped = after.state in ("inactive", "failed") or not after.main_pid
        message = "" if stopped else f"{after.describe()}: {result.tail(3)}"
        return StopResult(
            stopped=stopped,
            was_running=True,
            duration=time.monotonic() - began,
            main_pid=before.main_pid,
            killed=killed,
            port_holders=check_port_released(self.spec.port),
            message=message,
        )

    def log_tail(self, lines: int = 20) -> list[str]:
        """From the log file, the daemonless journal file, or journalctl."""
        candidates = [self.spec.log_file] if self.spec.log_dir else []
        root = root_of(self.spec.systemctl)
        if root:
            candidates.append(os.path.join(root, "var/log/journal", f"{self.spec.unit}.log"))
        for path in candidates:
            if os.path.exists(path):
                return tail_file(path, lines)
        if root is None and proc.which("journalctl"):
            argv = ["journalctl", "-u", self.spec.unit, "-n", str(lines), "--no-pager", "-o", "cat"]
            result = proc.run(argv, timeout=15.0)
            if result.ok:
                return result.output.splitlines()[-lines:]
        return []
