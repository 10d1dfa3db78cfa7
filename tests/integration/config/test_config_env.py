"""Environment selection and per-environment overlays of the component config."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdhooks.config.load import load_config, validate_config
from hdhooks.errors import ConfigError


def bundle(tmp_path: Path, text: str) -> Path:
    (tmp_path / "deploy").mkdir(exist_ok=True)
    (tmp_path / "deploy" / "hdhooks.yml").write_text(text)
    return tmp_path


def overlaid(tmp_path: Path) -> Path:
    tag = tmp_path / "environment"
    return bundle(tmp_path, f"""\
component: api
environment_from:
  tag_file: {tag}
  deployment_groups: {{api-dev: dev, api-staging: staging, api-prod: prod}}
service:
  command: [/bin/app, --serve]
  port: 8080
  env: {{LOG: info, MODE: base}}
values:
  db: {{host: db.internal, pool: 5}}
  feature: false
releases:
  keep: 5
environments:
  dev:
    service: {{env: {{LOG: debug}}}}
    values: {{db: {{host: localhost}}}}
  staging: {{}}
  prod:
    service:
      command: [/bin/app, --serve, --prod]
    values: {{feature: true}}
    releases: {{keep: 10}}
""")


def test_overlay_merges_mappings_and_replaces_lists(tmp_path: Path) -> None:
    root = overlaid(tmp_path)
    dev = load_config(root, environment="dev")
    assert dict(dev.service.env) == {"LOG": "debug", "MODE": "base"}
    assert dev.values["db"] == {"host": "localhost", "pool": 5}
    assert dev.service.command == ("/bin/app", "--serve")
    prod = load_config(root, environment="prod")
    assert prod.service.command == ("/bin/app", "--serve", "--prod")
    assert prod.values["feature"] is True
    assert prod.releases.keep == 10
    staging = load_config(root, environment="staging")
    assert staging.values["db"] == {"host": "db.internal", "pool": 5}
    assert staging.environment_source == "the command line"


def test_environment_from_deployment_group(tmp_path: Path) -> None:
    config = load_config(overlaid(tmp_path), deployment_group="api-prod")
    assert config.environment == "prod"
    assert config.environment_source == "deployment group 'api-prod'"


def test_environment_from_tag_file(tmp_path: Path) -> None:
    root = overlaid(tmp_path)
    (tmp_path / "environment").write_text("staging\n")
    config = load_config(root)
    assert config.environment == "staging"
    assert "tag file" in config.environment_source


def test_tag_file_and_group_must_agree(tmp_path: Path) -> None:
    root = overlaid(tmp_path)
    (tmp_path / "environment").write_text("staging\n")
    assert load_config(root, deployment_group="api-staging").environment == "staging"
    with pytest.raises(ConfigError, match=r"environment conflict: .* 'staging' .* 'prod'"):
        load_config(root, deployment_group="api-prod")


def test_explicit_environment_wins(tmp_path: Path) -> None:
    root = overlaid(tmp_path)
    (tmp_path / "environment").write_text("staging\n")
    assert load_config(root, environment="dev", deployment_group="api-prod").environment == "dev"


def test_unknown_environment_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'qa' .* has no entry under 'environments'"):
        load_config(overlaid(tmp_path), environment="qa")


def test_no_environment_found_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot tell the environment"):
        load_config(overlaid(tmp_path), deployment_group="other-group")


def test_configured_environment(tmp_path: Path) -> None:
    root = bundle(tmp_path, "component: api\nenvironment: prod\n"
                  "environments: {prod: {releases: {keep: 3}}}\n")
    config = load_config(root)
    assert (config.environment, config.releases.keep) == ("prod", 3)


def test_no_overlays_no_environment_needed(tmp_path: Path) -> None:
    assert load_config(bundle(tmp_path, "component: api\n")).environment is None


def test_problem_in_one_overlay_names_it(tmp_path: Path) -> None:
    root = bundle(tmp_path, """\
component: api
environments:
  dev: {}
  prod:
    service:
      backend: process
""")
    report = validate_config(root)
    lines = report.text_lines()
    assert len(lines) == 1, lines
    assert "'service.command' is required with backend: process (environment prod)" in lines[0]
    assert lines[0].startswith(f"{root}/deploy/hdhooks.yml:6:7: error:")
    # dev alone is fine
    assert load_config(root, environment="dev").environment == "dev"
    with pytest.raises(ConfigError):
        load_config(root, environment="prod")


def test_base_problem_is_reported_once(tmp_path: Path) -> None:
    root = bundle(tmp_path, "component: api\nservice: {port: x}\n"
                  "environments: {dev: {}, prod: {}}\n")
    lines = validate_config(root).text_lines()
    assert len(lines) == 1
    assert "(environment" not in lines[0]
