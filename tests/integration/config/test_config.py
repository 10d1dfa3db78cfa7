"""Component config (deploy/hdhooks.yml): bad input as a table, defaults, overlays."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdhooks.config.load import ConfigInvalid, load_config, validate_config
from hdhooks.errors import ConfigError, ExitCode

MINIMAL = "component: api\n"


def bundle(tmp_path: Path, text: str, files: tuple[str, ...] = ()) -> Path:
    (tmp_path / "deploy").mkdir(exist_ok=True)
    (tmp_path / "deploy" / "hdhooks.yml").write_text(text)
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    return tmp_path


# (id, yaml, expected line, column, message fragment, yaml path)
BAD = [
    ("missing-component", "service:\n  port: 80\n", 1, 1,
     "missing required key 'component'", ""),
    ("unknown-top-key", "component: api\nservce:\n  port: 80\n", 2, 1,
     "unknown key 'servce' (did you mean 'service'?)", "servce"),
    ("unknown-nested-key", "component: api\nservice:\n  prot: 80\n", 3, 3,
     "unknown key 'prot' (did you mean 'port'?)", "service.prot"),
    ("unknown-no-suggestion", "component: api\nhealth:\n  path: /h\n  port: 1\n  zzz: 1\n",
     5, 3, "unknown key 'zzz'", "health.zzz"),
    ("bad-component-name", "component: My API\n", 1, 12,
     "'component' must be lower-case letters", "component"),
    ("port-type", "component: api\nservice:\n  port: http\n", 3, 9,
     "'service.port' must be an integer, not a string", "service.port"),
    ("port-range", "component: api\nservice:\n  port: 70000\n", 3, 9,
     "'service.port' must be at most 65535", "service.port"),
    ("backend-choice", "component: api\nservice:\n  backend: systemdd\n", 3, 12,
     "must be one of systemd, process, not 'systemdd' (did you mean 'systemd'?)",
     "service.backend"),
    ("command-string", "component: api\nservice:\n  command: java -jar app.jar\n", 3, 12,
     "'service.command' must be a list of words", "service.command"),
    ("process-needs-command", "component: api\nservice:\n  backend: process\n", 3, 3,
     "'service.command' is required with backend: process", "service"),
    ("keep-too-small", "component: api\nreleases:\n  keep: 1\n", 3, 9,
     "'releases.keep' must be at least 2", "releases.keep"),
    ("base-dir-relative", "component: api\nreleases:\n  base_dir: opt/api\n", 3, 13,
     "must be an absolute path", "releases.base_dir"),
    ("health-needs-url-or-path", "component: api\nhealth:\n  deadline: 10\n", 3, 3,
     "'health' needs 'url' or 'path'", "health"),
    ("health-url-and-path", "component: api\nhealth:\n  url: http://x/h\n  path: /h\n", 4, 3,
     "'health.path' cannot be used with 'health.url'", "health.path"),
    ("health-port-missing", "component: api\nhealth:\n  path: /h\n", 3, 3,
     "'health.port' is needed when 'service.port' is not set", "health"),
    ("health-status-range",
     "component: api\nhealth:\n  url: http://x/\n  expect_status: [200, 99]\n", 4, 24,
     "must be at least 100", "health.expect_status[1]"),
    ("template-missing-key", "component: api\ntemplates:\n  - template: a.j2\n", 3, 5,
     "missing required key 'destination'", "templates[0]"),
    ("template-escapes-bundle", "component: api\ntemplates:\n  - template: ../x\n"
     "    destination: y\n", 3, 15, "must be a path inside the bundle", "templates[0].template"),
    ("template-not-in-bundle", "component: api\ntemplates:\n  - template: nope.j2\n"
     "    destination: y\n", 3, 15, "template 'nope.j2' is not in the bundle",
     "templates[0].template"),
    ("template-bad-mode", "component: api\ntemplates:\n  - template: a.j2\n"
     "    destination: y\n    mode: 0999\n", 5, 11, "must be an octal mode like 0640",
     "templates[0].mode"),
    ("template-duplicate-destination", "component: api\ntemplates:\n  - template: a.j2\n"
     "    destination: y\n  - template: a.j2\n    destination: y\n", 5, 5,
     "destination 'y' is also written by templates[0]", "templates[1]"),
    ("secret-name", "component: api\nsecrets:\n  db-password: x\n", 3, 3,
     "key 'db-password' must be a template name", "secrets.db-password"),
    ("secret-ref-unknown", "component: api\nsecrets:\n  db: {id: x, kee: y}\n", 3, 15,
     "unknown key 'kee' (did you mean 'key'?)", "secrets.db.kee"),
    ("ssm-path", "component: api\nssm:\n  paths: [api/prod]\n", 3, 11,
     "must start with '/'", "ssm.paths[0]"),
    ("traffic-mode", "component: api\ntraffic:\n  mode: alb\n", 3, 9,
     "'traffic.mode' must be one of auto, hdhooks, codedeploy, off", "traffic.mode"),
    ("traffic-standby", "component: api\ntraffic:\n  standby: sometimes\n", 3, 12,
     "must be one of auto, true, false", "traffic.standby"),
    ("traffic-tg", "component: api\ntraffic:\n  target_groups: ['bad name!']\n", 3, 19,
     "must be a target group ARN or name", "traffic.target_groups[0]"),
    ("traffic-dereg-timeout", "component: api\ntraffic:\n  deregistration:\n"
     "    timeout: soon\n", 4, 14, "must be an integer", "traffic.deregistration.timeout"),
    ("hook-timeout-event", "component: api\nhooks:\n  timeouts:\n    ValidateServic: 60\n",
     4, 5, "did you mean 'ValidateService'?", "hooks.timeouts.ValidateServic"),
    ("overlay-not-allowed", "component: api\nenvironments:\n  dev:\n    component: x\n", 4, 5,
     "'component' cannot be set per environment", "environments.dev.component"),
    ("overlay-bad-value", "component: api\nenvironments:\n  dev:\n    service:\n"
     "      port: x\n", 5, 13, "'environments.dev.service.port' must be an integer",
     "environments.dev.service.port"),
    ("env-map-bad", "component: api\nenvironment_from:\n  deployment_groups:\n"
     "    api-dev: Dev Env\n", 4, 14, "is not an environment name",
     "environment_from.deployment_groups.api-dev"),
    ("yaml-syntax", "component: api\nservice: [\n", 3, 1, "YAML syntax error", ""),
    ("not-a-mapping", "- component\n", 1, 1, "must be a mapping", ""),
    ("version", "version: 2\ncomponent: api\n", 1, 10, "'version' must be at most 1",
     "version"),
]


@pytest.mark.parametrize(("text", "line", "col", "message", "path"),
                         [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_is_reported_with_position(
    tmp_path: Path, text: str, line: int, col: int, message: str, path: str
) -> None:
    root = bundle(tmp_path, text, files=("a.j2",))
    report = validate_config(root)
    matching = [p for p in report.errors if message in p.message]
    assert matching, report.text_lines()
    problem = matching[0]
    assert (problem.line, problem.column, problem.path) == (line, col, path)
    expected_prefix = f"{root}/deploy/hdhooks.yml:{line}:{col}: error: "
    assert any(text_line.startswith(expected_prefix) for text_line in report.text_lines())


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    root = bundle(tmp_path, "component: api\nservice:\n  port: x\n  prot: 1\n"
                  "releases:\n  keep: 0\n")
    assert len(validate_config(root).errors) == 3
    with pytest.raises(ConfigInvalid) as info:
        load_config(root)
    assert info.value.exit_code == ExitCode.USAGE
    assert "and 2 more problem(s)" in info.value.one_line()
    assert len(info.value.details()) == 2


def test_defaults_are_applied(tmp_path: Path) -> None:
    config = load_config(bundle(tmp_path, MINIMAL))
    assert config.component == "api"
    assert config.environment is None
    assert config.service.name == "api"
    assert config.service.backend == "systemd"
    assert config.service.systemctl == ("systemctl",)
    assert config.service.stop_timeout == 30
    assert config.releases.base_dir == "/opt/api"
    assert config.releases.keep == 5
    assert config.releases.incoming_dir == "/opt/api/incoming"
    assert config.health is None
    assert config.preflight.min_free_disk_mb == 100
    assert config.preflight.disk_path == "/opt/api"
    assert config.traffic.mode == "auto"
    assert config.traffic.standby is None
    assert config.traffic.deregistration_wait is True
    assert config.traffic.deregistration_timeout is None
    assert config.templates == ()


def test_full_config_values(tmp_path: Path) -> None:
    text = """\
component: api
service:
  backend: process
  command: ["/usr/bin/python3", "-m", "http.server", "8080"]
  user: www-data
  env: {JAVA_OPTS: -Xmx1g, DEBUG: no, WORKERS: 4}
  port: 8080
  systemctl: systemctl --root /tmp/root
health:
  path: /health
  expect_status: 204
  json_fields: {build.id: "{{ build_id }}", ready: true}
preflight:
  commands: [java, {name: python3, min_version: "3.10"}, {name: go, version_args: [version]}]
templates:
  - template: config/app.yml.j2
    destination: conf/app.yml
    mode: "0600"
    owner: root
traffic:
  target_groups: [api-tg, "arn:aws:elasticloadbalancing:eu-west-1:123:targetgroup/api/abc"]
  standby: false
  deregistration: {timeout: 120}
hooks:
  timeouts: {ValidateService: 300}
"""
    config = load_config(bundle(tmp_path, text, files=("config/app.yml.j2",)))
    assert config.service.command[0] == "/usr/bin/python3"
    assert dict(config.service.env) == {"JAVA_OPTS": "-Xmx1g", "DEBUG": "no", "WORKERS": "4"}
    assert config.service.systemctl == ("systemctl", "--root", "/tmp/root")
    assert config.health is not None
    assert config.health.url == "http://127.0.0.1:8080/health"
    assert config.health.expect_status == (204,)
    assert dict(config.health.json_fields) == {"build.id": "{{ build_id }}", "ready": True}
    assert [c.name for c in config.preflight.commands] == ["java", "python3", "go"]
    assert config.preflight.commands[1].min_version == "3.10"
    # not given: the command's usual flag (-version for java), chosen by the preflight
    assert [c.version_args for c in config.preflight.commands] == [None, None, ("version",)]
    assert config.preflight.ports == (8080,)
    assert config.templates[0].mode == 0o600
    assert config.templates[0].owner == "root"
    assert config.traffic.standby is False
    assert config.traffic.deregistration_timeout == 120
    assert config.traffic.port == 8080
    assert len(config.traffic.target_groups) == 2
    assert dict(config.hooks.timeouts) == {"ValidateService": 300}


def test_file_modes_written_three_ways(tmp_path: Path) -> None:
    text = "component: api\ntemplates:\n" + "".join(
        f"  - {{template: a.j2, destination: f{i}, mode: {m}}}\n"
        for i, m in enumerate(["0640", "'0640'", "640"])
    )
    config = load_config(bundle(tmp_path, text, files=("a.j2",)))
    assert {t.mode for t in config.templates} == {0o640}


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path)


def test_the_documented_example_is_valid(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[3] / "docs" / "config.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    root = bundle(tmp_path, example, files=("config/app.yml.j2", "deploy/api.service.j2"))
    assert validate_config(root).text_lines() == []
    assert load_config(root).environment == "prod"


@pytest.mark.parametrize(("text", "code", "line", "col"), [
    ("component: api\nservice: &s {backend: process, command: [*s]}\n",
     "yaml-alias-cycle", 2, 42),
    ("component: api\nx: " + "{a: " * 500 + "1" + "}" * 500 + "\n", "yaml-depth", 2, 400),
], ids=["alias-cycle", "500-flow-mappings"])
def test_cycles_and_depth_are_one_positioned_error(
        tmp_path: Path, text: str, code: str, line: int, col: int) -> None:
    root = bundle(tmp_path, text)
    report = validate_config(root)
    assert [(p.code, p.line, p.column) for p in report.problems] == [(code, line, col)]
    with pytest.raises(ConfigInvalid) as caught:
        load_config(root)
    assert f"hdhooks.yml:{line}:{col}: error:" in str(caught.value)


def test_health_identity_is_asked_where_health_is(tmp_path: Path) -> None:
    text = """\
component: api
service: {command: [/bin/true], port: 8080}
health:
  path: /actuator/health
  json_fields: {status: UP}
  identity:
    path: /actuator/info
    json_fields: {build.version: "{{ build_id }}"}
"""
    config = load_config(bundle(tmp_path, text))
    assert config.health is not None and config.health.identity is not None
    assert config.health.identity.url == "http://127.0.0.1:8080/actuator/info"
    assert dict(config.health.identity.json_fields) == {"build.version": "{{ build_id }}"}


@pytest.mark.parametrize(("identity", "message"), [
    ("{json_fields: {v: x}}", "'health.identity' needs either 'url' or 'path'"),
    ("{path: /info}", "'health.identity' needs 'json_fields' or 'body_contains'"),
])
def test_health_identity_says_what_it_lacks(tmp_path: Path, identity: str, message: str
                                            ) -> None:
    text = ("component: api\nservice: {command: [/bin/true], port: 8080}\n"
            f"health:\n  path: /h\n  identity: {identity}\n")
    with pytest.raises(ConfigError) as info:
        load_config(bundle(tmp_path, text))
    assert message in "\n".join([info.value.one_line(), *info.value.details()])
