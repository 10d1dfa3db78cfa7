"""Values that would inject into a systemd unit, overflow, or crash a health probe.

Each is refused by ``hdhooks lint`` with one positioned line, exit 1, and no
traceback: nothing reaches ApplicationStop.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_lint_cli import bundle, edit, run  # noqa: F401 - the fixture

CONFIG = "deploy/hdhooks.yml"

CASES = [
    ("workdir-newline", "  user: api ",
     '  workdir: "/opt/api\\nExecStartPre=/bin/sh"\n  user: api ',
     "'service.workdir' contains a control character ('\\n')", "[service.workdir]"),
    ("env-nul", "  # env: {JAVA_TOOL_OPTIONS: -Xmx512m}", '  env: {A: "x\\0y"}',
     "'service.env.A' contains a control character ('\\x00')", "[service.env.A]"),
    ("user-nul", "  user: api ", '  user: "api\\0root" ',
     "'service.user' contains a control character ('\\x00')", "[service.user]"),
    ("command-newline", "[/usr/bin/java, -jar, app.jar]", '[/usr/bin/java, "a\\nUser=root"]',
     "contains a control character ('\\n')", "[service.command[1]]"),
    ("group-id-overflow", "  user: api ", "  group: 4294967296\n  user: api ",
     "'service.group' must be an id from 0 to 4294967294, not 4294967296", "[service.group]"),
    ("template-owner-overflow", "    mode: 0640", "    mode: 0640\n    owner: 99999999999",
     "'templates[0].owner' must be an id from 0 to 4294967294", "[templates[0].owner]"),
    ("health-ipv6", "  path: /actuator/health", "  url: http://[::1/health",
     "'health.url' is not a usable URL (Invalid IPv6 URL)", "[health.url]"),
    ("health-port", "  path: /actuator/health", "  url: http://127.0.0.1:99999/health",
     "'health.url' is not a usable URL (Port out of range 0-65535)", "[health.url]"),
    ("health-space", "  path: /actuator/health", '  url: "http://127.0.0.1:8080/he alth"',
     "'health.url' must not contain spaces", "[health.url]"),
    ("health-scheme", "  path: /actuator/health", "  url: gopher://127.0.0.1/health",
     "'health.url' must be an http:// or https:// URL with a host", "[health.url]"),
    ("hook-timeout", "values:", "hooks:\n  timeouts: {ApplicationStart: 99999999999}\nvalues:",
     "must be at most 3600, not 99999999999", "[hooks.timeouts.ApplicationStart]"),
    ("port", "  port: 8080", "  port: 99999",
     "'service.port' must be at most 65535, not 99999", "[service.port]"),
]


@pytest.mark.parametrize(("old", "new", "message", "where"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_value_is_one_positioned_line(bundle: Path, old: str,  # noqa: F811
                                              new: str, message: str, where: str) -> None:
    edit(bundle / CONFIG, old, new)
    result = run("lint", cwd=bundle)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(CONFIG)]
    assert len(lines) == 1, result.stdout
    assert ": error: " in lines[0] and message in lines[0], lines[0]
    assert lines[0].endswith(where), lines[0]
