"""``lint_bundle`` cross-checks, table-driven on real bundles in a temp directory.

Each case edits a small valid bundle (appspec, deploy/hdhooks.yml, scripts)
and lists every lint problem expected: file, line, column, severity and the
message (a prefix of it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hdhooks.lint.run import lint_bundle
from hdhooks.lint.scaffold import TEMPLATE_ROOT, shim_names

APPSPEC = """\
version: 0.0
os: linux
hooks:
  ApplicationStop:
    - location: hooks/application-stop.sh
      timeout: 120
  BeforeInstall:
    - location: hooks/before-install.sh
  AfterInstall:
    - location: hooks/after-install.sh
  ApplicationStart:
    - location: hooks/application-start.sh
      timeout: 300
  ValidateService:
    - location: hooks/validate-service.sh
      timeout: 300
"""

CONFIG = """\
component: api
service:
  command: [/usr/bin/java, -jar, app.jar]
  user: api
  port: 8080
  stop_timeout: 90
health:
  path: /health
  deadline: 60
"""

TRAFFIC = "traffic:\n  target_groups: [api-tg]\n"


@dataclass
class Case:
    name: str
    appspec: list[tuple[str, str]] = field(default_factory=list)  # (old, new) edits
    config: list[tuple[str, str]] = field(default_factory=list)
    scripts: dict[str, str] = field(default_factory=dict)  # bundle path -> content
    # (file, line, column, severity, message prefix)
    expected: list[tuple[str, int, int, str, str]] = field(default_factory=list)


CASES = [
    Case("valid"),
    Case("stop timeout shorter than stop_timeout",
         appspec=[("timeout: 120", "timeout: 60")],
         expected=[("appspec.yml", 6, 16, "error",
                    "ApplicationStop: timeout 60 s is shorter than stop_timeout 90 s + 30 s "
                    "margin; use at least 120")]),
    Case("traffic adds the deregistration wait and the target-group wait",
         config=[("health:", TRAFFIC + "health:")],
         expected=[
             ("appspec.yml", 6, 16, "error",
              "ApplicationStop: timeout 120 s is shorter than stop_timeout 90 s + the "
              "deregistration wait 360 s (auto: 300 s delay + 60 s) + 30 s margin; use at "
              "least 480"),
             ("appspec.yml", 16, 16, "error",
              "ValidateService: timeout 300 s is shorter than health.deadline 60 s + the "
              "target-group health wait 300 s + 30 s margin; use at least 390"),
         ]),
    Case("explicit deregistration timeout",
         config=[("health:", TRAFFIC + "  deregistration: {timeout: 100}\nhealth:")],
         expected=[
             ("appspec.yml", 6, 16, "error",
              "ApplicationStop: timeout 120 s is shorter than stop_timeout 90 s + "
              "traffic.deregistration.timeout 100 s + 30 s margin; use at least 220"),
             ("appspec.yml", 16, 16, "error", "ValidateService: timeout 300 s is shorter"),
         ]),
    Case("traffic off: no allowance",
         config=[("health:", "traffic: {mode: codedeploy, target_groups: [api-tg]}\nhealth:")]),
    Case("health deadline longer than the ValidateService timeout",
         config=[("deadline: 60", "deadline: 290")],
         expected=[("appspec.yml", 16, 16, "error",
                    "ValidateService: timeout 300 s is shorter than health.deadline 290 s + "
                    "30 s margin; use at least 320")]),
    Case("ApplicationStart shorter than systemctl start",
         appspec=[("timeout: 300\n  ValidateService", "timeout: 100\n  ValidateService")],
         expected=[("appspec.yml", 13, 16, "error",
                    "ApplicationStart: timeout 100 s is shorter than systemctl start 120 s + "
                    "30 s margin; use at least 150")]),
    Case("a reloaded shared server is never stopped: no stop_timeout to wait for",
         appspec=[("timeout: 120", "timeout: 60")],
         config=[("stop_timeout: 90", "stop_timeout: 90\n  reload: true")]),
    Case("the check command counts in ApplicationStart",
         appspec=[("timeout: 300\n  ValidateService", "timeout: 160\n  ValidateService")],
         config=[("stop_timeout: 90", "stop_timeout: 90\n  check_command: [nginx, -t]")],
         expected=[("appspec.yml", 13, 16, "error",
                    "ApplicationStart: timeout 160 s is shorter than the check command 30 s + "
                    "systemctl start 120 s + 30 s margin; use at least 180")]),
    Case("no timeout: the agent's default is too short for a long stop",
         appspec=[("      timeout: 120\n", "")],
         config=[("stop_timeout: 90", "stop_timeout: 3590")],
         expected=[("appspec.yml", 5, 7, "error",
                    "ApplicationStop: no timeout (the agent's default, 3600 s) is shorter than "
                    "stop_timeout 3590 s + 30 s margin; use at least 3620 (more than the "
                    "3600 s an event may take")]),
    Case("hooks.timeouts hint longer than the appspec's",
         config=[("health:", "hooks: {timeouts: {ValidateService: 400}}\nhealth:")],
         expected=[("appspec.yml", 16, 16, "error",
                    "ValidateService: timeout 300 s is shorter than hooks.timeouts."
                    "ValidateService 400 s in deploy/hdhooks.yml; use at least 400")]),
    Case("no ApplicationStop hook",
         appspec=[("  ApplicationStop:\n    - location: hooks/application-stop.sh\n"
                   "      timeout: 120\n", "")],
         expected=[("appspec.yml", 3, 1, "error",
                    "no ApplicationStop hook: the running release would never be stopped")]),
    Case("ApplicationStop is a script of its own",
         scripts={"hooks/application-stop.sh": "#!/bin/sh\nsystemctl stop api\n"},
         expected=[
             ("appspec.yml", 4, 3, "error",
              "no script of ApplicationStop runs hdhooks: the running release would never "
              "be stopped"),
             ("hooks/application-stop.sh", 1, 1, "warning",
              "ApplicationStop runs this script from the previous revision"),
         ]),
    Case("a shim with logic of its own",
         scripts={"hooks/application-stop.sh":
                  "#!/bin/sh\nset -e\ncurl -fsS http://localhost/drain\n"
                  'exec "${HDHOOKS:-hdhooks}" hook --bundle "${0%/*}/.."\n'},
         expected=[("hooks/application-stop.sh", 3, 1, "warning",
                    "this hook script runs hdhooks but is not the shim "
                    "('curl -fsS http://localhost/drain')")]),
    Case("a modified shim under hooks/ that the appspec does not name",
         scripts={"hooks/extra.sh": "#!/bin/sh\necho start\nexec hdhooks hook\n"},
         expected=[("hooks/extra.sh", 2, 1, "warning", "this hook script runs hdhooks")]),
    Case("ValidateService missing while health is configured",
         appspec=[("  ValidateService:\n    - location: hooks/validate-service.sh\n"
                   "      timeout: 300\n", "")],
         expected=[("appspec.yml", 3, 1, "error",
                    "no ValidateService hook: the health check in deploy/hdhooks.yml would "
                    "never run")]),
    Case("ValidateService missing without health",
         appspec=[("  ValidateService:\n    - location: hooks/validate-service.sh\n"
                   "      timeout: 300\n", "")],
         config=[("health:\n  path: /health\n  deadline: 60\n", "")]),
    Case("runas user unknown on this machine",
         appspec=[("before-install.sh\n", "before-install.sh\n      runas: no-such-user-hd\n")],
         expected=[("appspec.yml", 9, 14, "warning",
                    "runas user 'no-such-user-hd' is not the service user and does not exist")]),
    Case("runas the service user on a non-service event",
         appspec=[("before-install.sh\n", "before-install.sh\n      runas: api\n")]),
    Case("runas on ApplicationStart with systemd",
         appspec=[("application-start.sh\n", "application-start.sh\n      runas: api\n")],
         expected=[("appspec.yml", 13, 14, "warning",
                    "ApplicationStart runs as 'api', but it controls the service through "
                    "systemctl, which needs root")]),
    Case("runas root is fine",
         appspec=[("application-stop.sh\n", "application-stop.sh\n      runas: root\n")]),
    Case("process backend: runas the service user may stop it",
         config=[("  user: api\n", "  user: api\n  backend: process\n")],
         appspec=[("application-stop.sh\n", "application-stop.sh\n      runas: api\n")]),
    Case("process backend: runas another user cannot",
         config=[("  user: api\n", "  user: api\n  backend: process\n")],
         appspec=[("application-stop.sh\n",
                   "application-stop.sh\n      runas: no-such-user-hd2\n")],
         expected=[
             ("appspec.yml", 6, 14, "warning",
              "runas user 'no-such-user-hd2' is not the service user"),
             ("appspec.yml", 6, 14, "warning",
              "ApplicationStop runs as 'no-such-user-hd2', but the service runs as 'api'"),
         ]),
    Case("files into the releases directory",
         appspec=[("os: linux\n", "os: linux\nfiles:\n  - source: /\n"
                   "    destination: /opt/api/releases/x\n")],
         expected=[("appspec.yml", 5, 18, "error",
                    "destination /opt/api/releases/x writes into /opt/api/releases, which "
                    "hdhooks manages")]),
    Case("files into current",
         appspec=[("os: linux\n", "os: linux\nfiles:\n  - source: /\n"
                   "    destination: /opt/api/current\n")],
         expected=[("appspec.yml", 5, 18, "error",
                    "destination /opt/api/current writes into /opt/api/current")]),
    Case("files into incoming is fine",
         appspec=[("os: linux\n", "os: linux\nfiles:\n  - source: /\n"
                   "    destination: /opt/api/incoming\n")]),
    Case("releases from incoming need a files entry into it",
         config=[("health:", "releases: {source: incoming}\nhealth:")],
         expected=[("appspec.yml", 1, 1, "error",
                    "releases.source is incoming, but no files entry installs into "
                    "/opt/api/incoming")]),
    Case("releases from incoming with the files entry",
         config=[("health:", "releases: {source: incoming}\nhealth:")],
         appspec=[("os: linux\n", "os: linux\nfiles:\n  - source: /\n"
                   "    destination: /opt/api/incoming\n")]),
    Case("files into the base dir itself",
         appspec=[("os: linux\n", "os: linux\nfiles:\n  - source: /\n"
                   "    destination: /opt/api/\n")],
         expected=[("appspec.yml", 5, 18, "warning",
                    "destination /opt/api/ is releases.base_dir itself")]),
    Case("file_exists_behavior RETAIN",
         appspec=[("os: linux\n", "os: linux\nfiles:\n  - source: /\n"
                   "    destination: /opt/api/incoming\nfile_exists_behavior: RETAIN\n")],
         expected=[("appspec.yml", 6, 23, "warning", "RETAIN keeps a file already")]),
    Case("file_exists_behavior without files",
         appspec=[("os: linux\n", "os: linux\nfile_exists_behavior: OVERWRITE\n")],
         expected=[("appspec.yml", 3, 23, "warning",
                    "file_exists_behavior OVERWRITE has no effect without a files section")]),
    Case("a problem in one environment only names it",
         config=[("health:", "environment_from: {tag_file: /nonexistent/hd-env}\n"
                  "environments:\n  dev: {}\n  prod:\n    service: {stop_timeout: 200}\n"
                  "health:")],
         expected=[("appspec.yml", 6, 16, "error",
                    "ApplicationStop: timeout 120 s is shorter than stop_timeout 200 s + 30 s "
                    "margin; use at least 230 (environment prod)")]),
    Case("a health check expecting a fixed build version",
         config=[("  deadline: 60\n", "  deadline: 60\n  identity:\n    path: /info\n"
                  "    json_fields:\n      build.version: \"1.4.2\"\n")],
         expected=[("deploy/hdhooks.yml", 13, 22, "error",
                    "health.identity.json_fields.build.version expects the fixed value "
                    "'1.4.2', which only one build can have")]),
    Case("body_contains is not a template",
         config=[("  deadline: 60\n", "  deadline: 60\n  body_contains: \"{{ build_id }}\"\n")],
         expected=[("deploy/hdhooks.yml", 10, 18, "error",
                    "health.body_contains is not a template: '{{ build_id }}' would be "
                    "looked for literally")]),
    Case("an empty deploy/build-id",
         config=[("  deadline: 60\n", "  deadline: 60\n  json_fields: {build_id: "
                  "\"{{ build_id }}\"}\n")],
         scripts={"deploy/build-id": "\n"},
         expected=[("deploy/build-id", 1, 1, "error",
                    "deploy/build-id is empty, but the health check compares the build id")]),
    Case("a deploy/build-id the build wrote",
         config=[("  deadline: 60\n", "  deadline: 60\n  json_fields: {build_id: "
                  "\"{{ build_id }}\"}\n")],
         scripts={"deploy/build-id": "7-3f2c1ab9e0d1\n"}),
    Case("nginx passes a body check whatever it serves",
         config=[("stop_timeout: 90", "stop_timeout: 90\n  check_command: [nginx, -t]"),
                 ("  deadline: 60\n", "  deadline: 60\n  body_contains: \"<!DOCTYPE html>\"\n")],
         expected=[("deploy/hdhooks.yml", 9, 3, "warning",
                    "nginx answers this health check whatever it serves")]),
    Case("a shim outside hooks/ cannot find the bundle",
         appspec=[("location: hooks/before-install.sh", "location: before-install.sh")],
         scripts={"before-install.sh": (TEMPLATE_ROOT / "hooks" / "before-install.sh")
                  .read_text()},
         expected=[("before-install.sh", 1, 1, "error",
                    "the shim takes the bundle to be its directory's parent")]),
]


def make_bundle(root: Path, case: Case) -> Path:
    appspec, config = APPSPEC, CONFIG
    for old, new in case.appspec:
        assert old in appspec, old
        appspec = appspec.replace(old, new, 1)
    for old, new in case.config:
        assert old in config, old
        config = config.replace(old, new, 1)
    (root / "hooks").mkdir()
    (root / "deploy").mkdir()
    (root / "appspec.yml").write_text(appspec)
    (root / "deploy" / "hdhooks.yml").write_text(config)
    for name in shim_names():
        (root / "hooks" / name).write_text((TEMPLATE_ROOT / "hooks" / name).read_text())
    for path, text in case.scripts.items():
        (root / path).write_text(text)
    for script in (root / "hooks").iterdir():
        script.chmod(0o755)
    for script in case.scripts:
        (root / script).chmod(0o755)
    return root


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cross_checks(tmp_path: Path, case: Case) -> None:
    bundle = make_bundle(tmp_path, case)
    reports = lint_bundle(bundle)
    found = [
        (os.path.relpath(r.file, bundle), p.line, p.column, p.severity, p.message)
        for r in reports for p in r.sorted()
    ]
    assert len(found) == len(case.expected), found
    for got, (file, line, column, severity, prefix) in zip(found, case.expected, strict=True):
        assert got[:4] == (file, line, column, severity), got
        assert got[4].startswith(prefix), got[4]


def test_reports_come_file_by_file(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, Case("order"))
    files = [os.path.relpath(r.file, bundle) for r in lint_bundle(bundle)]
    assert files[:2] == ["appspec.yml", "deploy/hdhooks.yml"]
    assert files[2:7] == [f"hooks/{n}" for n in (
        "application-stop.sh", "before-install.sh", "after-install.sh",
        "application-start.sh", "validate-service.sh")]
    assert sorted(files[7:]) == [f"hooks/{n}" for n in (
        "after-allow-traffic.sh", "after-block-traffic.sh", "before-allow-traffic.sh",
        "before-block-traffic.sh")]


def test_missing_config_points_at_the_bundle(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, Case("no config"))
    (bundle / "deploy" / "hdhooks.yml").unlink()
    reports = lint_bundle(bundle)
    assert reports[1].file == os.path.join(str(bundle), "")
    [problem] = reports[1].problems
    assert problem.is_error and "run 'hdhooks init'" in problem.message


def test_config_errors_skip_the_cross_checks(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, Case("bad config", appspec=[("timeout: 120", "timeout: 5")],
                                        config=[("port: 8080", "port: eighty")]))
    appspec_report, config_report = lint_bundle(bundle)[:2]
    assert appspec_report.problems == []
    assert any("skipped" in note for note in appspec_report.notes)
    assert [p.path for p in config_report.errors] == ["service.port"]


def test_an_explicit_environment_is_the_only_one_checked(tmp_path: Path) -> None:
    case = CASES[[c.name for c in CASES].index("a problem in one environment only names it")]
    bundle = make_bundle(tmp_path, case)
    assert lint_bundle(bundle, environment="dev")[0].problems == []
    [problem] = lint_bundle(bundle, environment="prod")[0].problems
    assert problem.message.endswith("use at least 230")


def test_missing_service_user_and_group_are_warnings(tmp_path: Path) -> None:
    import shutil

    bundle = tmp_path / "hello-service"
    shutil.copytree(Path(__file__).resolve().parents[3] / "examples" / "hello-service", bundle)
    config = bundle / "deploy" / "hdhooks.yml"
    config.write_text(config.read_text().replace(
        "  user: hello\n", "  user: hello-nobody-here\n  group: hello-no-group\n", 1))
    reports = lint_bundle(bundle, accounts=True)
    found = [(p.severity, p.line, p.message) for r in reports for p in r.problems]
    assert [f[:2] for f in found] == [("warning", 15), ("warning", 16)], found
    assert found[0][2].startswith("service user 'hello-nobody-here' does not exist on this "
                                  "machine"), found
    assert "lint runs off the instance" in found[1][2]
    assert lint_bundle(bundle) == lint_bundle(bundle, accounts=False)
