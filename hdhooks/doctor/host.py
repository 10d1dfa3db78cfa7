"""Checks of the machine itself: hdhooks, Python, the CodeDeploy agent, systemd.

They read files under the context's root and run ``systemctl``; none needs
AWS, so they all run during a bake too, except whether the agent is
running (a bake's agent is installed but stopped until the instance boots).
"""

from __future__ import annotations

import os
import re
import sys

from hdhooks import __version__
from hdhooks.doctor.model import FAIL, OK, SKIP, WARN, Context, Finding
from hdhooks.errors import HdhooksError
from hdhooks.fsread import read_regular
from hdhooks.proc import run, which

AGENT_VERSION_FILE = "/opt/codedeploy-agent/.version"
#: IMDSv2 needs agent 1.2.0; Amazon Linux 2023 (Ruby 3.2) needs 1.6.0.
AGENT_MIN_IMDSV2 = (1, 2)
AGENT_MIN_AL2023 = (1, 6)
AGENT_INSTALL = ("install it: dnf install -y ruby wget, then the region's installer: "
                 "wget https://aws-codedeploy-REGION.s3.REGION.amazonaws.com/latest/install "
                 "&& sudo bash install auto")
INSTALL_PATH = "/opt/hdhooks/venv/bin/hdhooks"
PATH_LINK = "/usr/local/bin/hdhooks"


def check_hdhooks(ctx: Context) -> list[Finding]:
    """hdhooks runs from its own venv, and the shims can find it."""
    found: list[Finding] = []
    if sys.prefix != sys.base_prefix:
        found.append(Finding("hdhooks", OK, f"hdhooks {__version__} in venv {sys.prefix}"))
    else:
        found.append(Finding("hdhooks", WARN, f"hdhooks {__version__} runs in the system "
                             f"Python ({sys.prefix}), not its own venv",
                             "install it with scripts/bake-ami.sh into /opt/hdhooks/venv"))
    link, installed = ctx.path(PATH_LINK), ctx.path(INSTALL_PATH)
    on_path = which("hdhooks") if ctx.root == "/" else None
    if any(p and os.access(p, os.X_OK) for p in (link, installed, on_path)):
        found.append(Finding("hdhooks on PATH", OK,
                             f"the shims find {installed if os.path.exists(installed) else link}"))
    else:
        found.append(Finding("hdhooks on PATH", FAIL,
                             f"neither {PATH_LINK} nor {INSTALL_PATH} exists: every shim "
                             "would exit 127", f"link it: ln -s {INSTALL_PATH} {PATH_LINK}"))
    return found


def check_python(ctx: Context) -> list[Finding]:
    """The interpreter under hdhooks: 3.10 or newer (AL2023's python3 is 3.9)."""
    return [python_verdict(tuple(sys.version_info[:3]), sys.executable)]


def python_verdict(version: tuple[int, ...], executable: str) -> Finding:
    """ok for 3.10 and newer, fail for older: pure, table-tested."""
    shown = ".".join(str(n) for n in version)
    if version[:2] >= (3, 10):
        return Finding("python", OK, f"Python {shown} ({executable})")
    return Finding("python", FAIL, f"Python {shown} is older than 3.10",
                   "install python3.11 and rebuild the venv: dnf install -y python3.11")


def parse_agent_version(text: str) -> tuple[int, ...] | None:
    """``OFFICIAL_1.7.1-110_rpm`` -> (1, 7, 1); None when there is no version in it."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def os_release(ctx: Context) -> dict[str, str]:
    """``/etc/os-release`` (else ``/usr/lib/os-release``) as a dict; empty when missing."""
    for candidate in ("/etc/os-release", "/usr/lib/os-release"):
        text = _read_small(ctx.path(candidate))
        if text is not None:
            break
    else:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep:
            values[key] = value.strip().strip("\"'")
    return values


def _read_small(path: str) -> str | None:
    """A small text file, or None; a FIFO or device is refused, never waited on."""
    try:
        return read_regular(path, 64 * 1024).decode("utf-8", "replace")
    except HdhooksError:
        return None


def agent_verdict(version: tuple[int, ...], al2023: bool) -> tuple[str, str]:
    """(status, fix) for an installed agent version: pure, table-tested."""
    shown = ".".join(map(str, version))
    if version[:2] < AGENT_MIN_IMDSV2:
        return FAIL, (f"agent {shown} cannot use IMDSv2 (it gets 401): update it to the "
                      "latest: sudo bash install auto")
    if al2023 and version[:2] < AGENT_MIN_AL2023:
        return FAIL, (f"agent {shown} does not run on Amazon Linux 2023 (Ruby 3.2): update "
                      "it to 1.6 or newer: sudo bash install auto")
    return OK, ""


def check_agent(ctx: Context) -> list[Finding]:
    """The CodeDeploy agent is installed, new enough for IMDSv2 and the OS."""
    text = _read_small(ctx.path(AGENT_VERSION_FILE))
    if text is None:
        return [Finding("codedeploy agent", FAIL, f"not installed ({AGENT_VERSION_FILE} "
                        "is missing or not a regular file)", AGENT_INSTALL)]
    version = parse_agent_version(text)
    if version is None:
        return [Finding("codedeploy agent", FAIL, f"{AGENT_VERSION_FILE} holds no version "
                        f"({text.strip()[:60]!r})", "reinstall it: sudo bash install auto")]
    release = os_release(ctx)
    al2023 = release.get("ID") == "amzn" and release.get("VERSION_ID", "").startswith("2023")
    status, fix = agent_verdict(version, al2023)
    return [Finding("codedeploy agent", status,
                    f"version {'.'.join(map(str, version))}"
                    f"{' on Amazon Linux 2023' if al2023 else ''}", fix)]


def systemctl(ctx: Context) -> list[str]:
    """The systemctl command, pointed at the root when it is not ``/``."""
    command = ctx.environ.get("HDHOOKS_SYSTEMCTL", "systemctl").split()
    return [*command, "--root", ctx.root] if ctx.root != "/" else command


def check_agent_running(ctx: Context) -> list[Finding]:
    """The agent's service is active (only on a running instance)."""
    from hdhooks.instance.service.systemd import parse_show

    # Plain `show`: Debian's daemonless systemctl ignores a comma list of properties.
    result = run([*systemctl(ctx), "show", "codedeploy-agent"], timeout=20)
    props = parse_show(result.output) if result.ok else {}
    state = props.get("ActiveState", "unknown")
    if state == "active":
        return [Finding("codedeploy agent running", OK, f"active ({props.get('SubState')})")]
    return [Finding("codedeploy agent running", FAIL, f"codedeploy-agent is {state}",
                    "start it: systemctl enable --now codedeploy-agent")]


def check_systemd(ctx: Context) -> list[Finding]:
    """systemctl exists; on an instance, systemd is the running init."""
    command = systemctl(ctx)[0]
    if not (os.path.isabs(command) and os.access(command, os.X_OK)) and not which(command):
        return [Finding("systemd", FAIL, f"{command} not found",
                        "hdhooks' services and the reconcile timer need systemd")]
    if ctx.bake or os.path.isdir("/run/systemd/system"):
        return [Finding("systemd", OK, f"{command} found")]
    return [Finding("systemd", WARN, "systemd is not the running init (/run/systemd/system "
                    "is missing)", "boot the instance with systemd; services will not start")]


def skipped(name: str, why: str) -> Finding:
    return Finding(name, SKIP, why)
