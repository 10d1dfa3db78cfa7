"""Checks of what lies on disk: free space, state directories, component configs."""

from __future__ import annotations

import os
import shutil
import stat

from hdhooks.doctor.model import FAIL, OK, WARN, Context, Finding

#: hdhooks' directories and the mode the bake gives them.
STATE_DIRS = {"/etc/hdhooks": 0o755, "/var/lib/hdhooks": 0o755, "/var/log/hdhooks": 0o755}
#: Where deployments write: releases, the agent's deployment root, temp files.
DISK_PATHS = ("/var/lib/hdhooks", "/opt/codedeploy-agent", "/opt", "/tmp")
DISK_FAIL = 256 * 1024 * 1024
DISK_WARN = 1024 * 1024 * 1024


def disk_verdict(free: int) -> str:
    """ok / warn / fail for a number of free bytes."""
    return FAIL if free < DISK_FAIL else WARN if free < DISK_WARN else OK


def _existing(path: str) -> str:
    while not os.path.exists(path) and path != os.path.dirname(path):
        path = os.path.dirname(path)
    return path


def check_disk(ctx: Context) -> list[Finding]:
    """Free space on every file system a deployment writes to (once per device)."""
    found: list[Finding] = []
    seen: set[int] = set()
    for wanted in DISK_PATHS:
        path = _existing(ctx.path(wanted))
        device = os.stat(path).st_dev
        if device in seen:
            continue
        seen.add(device)
        usage = shutil.disk_usage(path)
        status = disk_verdict(usage.free)
        fix = "" if status == OK else (f"free space on the file system of {wanted} (old "
                                       "releases, /opt/codedeploy-agent/deployment-root) or "
                                       "grow the volume")
        found.append(Finding(f"disk {wanted}", status,
                             f"{usage.free / 2**30:.1f} GiB free of {usage.total / 2**30:.1f}",
                             fix))
    return found


def dir_problem(st: os.stat_result | None, want: int) -> str | None:
    """What is wrong with a state directory's lstat result; None when it is fine."""
    if st is None:
        return "is missing"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if st.st_uid != 0:
        return f"is owned by uid {st.st_uid}, not root"
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        return f"has mode {mode:04o}: group or others may write to it"
    if mode & 0o700 != 0o700 or mode & want != want:
        return f"has mode {mode:04o}, expected {want:04o}"
    return None


def check_state_dirs(ctx: Context) -> list[Finding]:
    """/etc/hdhooks, /var/lib/hdhooks, /var/log/hdhooks: root's, not writable by others."""
    found: list[Finding] = []
    for directory, want in STATE_DIRS.items():
        try:
            st: os.stat_result | None = os.lstat(ctx.path(directory))
        except FileNotFoundError:
            st = None
        problem = dir_problem(st, want)
        if problem is None:
            found.append(Finding(f"dir {directory}", OK, f"mode {want:04o}, owned by root"))
        else:
            found.append(Finding(f"dir {directory}", FAIL, f"{directory} {problem}",
                                 _dir_fix(directory, want, st)))
    return found


def _dir_fix(directory: str, want: int, st: os.stat_result | None) -> str:
    if st is not None and stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode):
        return f"chown root:root {directory} && chmod {want:04o} {directory}"
    remove = "" if st is None else f"rm {directory} && "
    return f"{remove}install -d -o root -g root -m {want:04o} {directory}"


def state_dir(ctx: Context) -> str:
    """The state directory under the root, or the one hooks use on this machine."""
    if ctx.root != "/":
        return ctx.path("/var/lib/hdhooks")
    from hdhooks.instance.context import state_dir as hook_state_dir

    return hook_state_dir(ctx.environ)


def check_configs(ctx: Context) -> list[Finding]:
    """Every deployed component's current config lints clean."""
    from hdhooks.config.state import read_all

    states, bad = read_all(state_dir(ctx))
    found = [Finding("state record", FAIL, exc.one_line(), exc.hint) for exc in bad]
    for state in states:
        found.append(_config_finding(ctx, state.component, state.base_dir))
    if not states and not bad:
        found.append(Finding("component configs", OK, "no component deployed yet"))
    return found


def _config_finding(ctx: Context, component: str, base_dir: str) -> Finding:
    from hdhooks.config.load import config_path, validate_config
    from hdhooks.errors import HdhooksError

    name = f"config {component}"
    current = os.path.join(ctx.path(base_dir), "current")
    if not os.path.isdir(current):
        return Finding(name, FAIL, f"{current} is missing: the component has no current "
                       "release", f"deploy it again, or hdhooks rollback {component}")
    file = config_path(current)
    try:
        report = validate_config(file)
    except HdhooksError as exc:
        return Finding(name, FAIL, exc.one_line(), "fix the config and deploy again")
    errors, warnings = report.errors, report.warnings
    if errors:
        return Finding(name, FAIL, errors[0].format(str(file)),
                       f"fix it and deploy again (hdhooks lint shows all {len(errors)})")
    if warnings:
        return Finding(name, WARN, warnings[0].format(str(file)), "hdhooks lint shows why")
    return Finding(name, OK, f"{file} lints clean")


def check_journal(ctx: Context) -> list[Finding]:
    """No traffic action left open (an instance out of its target groups or in Standby)."""
    from hdhooks.aws.journal import Journal

    entries = Journal(state_dir(ctx)).open_entries()
    if not entries:
        return [Finding("journal", OK, "no open traffic action")]
    return [Finding("journal", FAIL, f"open since a deployment: {entry.describe()}",
                    "hdhooks reconcile undoes it (the reconcile timer runs it too)")
            for entry in entries]
