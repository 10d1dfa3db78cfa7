"""The buildspec validator on a table of buildspecs: outcome, message, line."""

from __future__ import annotations

import textwrap

import pytest

from hdhooks.build.buildspec.validate import validate_text

OK = "ok"
ERR = "error"
WARN = "warning"

GOOD = """\
version: 0.2
phases:
  build:
    commands:
      - mvn -B verify
"""

GATED = """\
version: 0.2
phases:
  build:
    commands:
      - mvn -B verify sonar:sonar
      - hdhooks sonar gate
artifacts:
  base-directory: bundle
  files:
    - appspec.yml
    - 'hooks/**/*'
"""

# (id, buildspec, outcome, message fragment, line)
CASES: list[tuple[str, str, str, str, int]] = [
    ("minimal", GOOD, OK, "", 0),
    ("gated bundle", GATED, OK, "", 0),
    ("empty file", "", ERR, "the buildspec is empty", 0),
    ("comments only", "# nothing\n", ERR, "the buildspec is empty", 0),
    ("root is a list", "- a\n- b\n", ERR, "must be a mapping", 1),
    ("yaml syntax", "version: 0.2\nphases: [\n", ERR, "YAML syntax error", 3),
    ("tab indentation", "version: 0.2\nphases:\n\tbuild: {}\n", ERR, "tab character", 3),
    ("missing version", "phases:\n  build:\n    commands: [ls]\n", ERR, "needs 'version'", 1),
    ("missing phases", "version: 0.2\n", ERR, "needs 'phases'", 1),
    ("version 0.3", GOOD.replace("0.2", "0.3"), ERR, "version must be 0.2", 1),
    ("version 0.1", GOOD.replace("0.2", "0.1"), WARN, "fresh shell", 1),
    ("unknown top key", GOOD + "artifact:\n  files: [a]\n", ERR, "did you mean 'artifacts'", 6),
    ("unknown phase", GOOD + "  prebuild:\n    commands: [ls]\n", ERR,
     "did you mean 'pre_build'", 6),
    ("empty phase", "version: 0.2\nphases:\n  build:\n", ERR, "phase build is empty", 3),
    ("commands missing", "version: 0.2\nphases:\n  build:\n    finally: [ls]\n", ERR,
     "phase build needs 'commands'", 4),
    ("commands not a list", "version: 0.2\nphases:\n  build:\n    commands: mvn verify\n",
     ERR, "must be a list of commands", 4),
    ("command with colon", GOOD + "      - echo Build: done\n", ERR,
     "contains ': ' so YAML read it as a mapping", 6),
    ("command quoted colon", GOOD + "      - 'echo Build: done'\n", OK, "", 0),
    ("command is yes", GOOD + "      - yes\n", WARN, "read as the boolean true", 6),
    ("command null", GOOD + "      -\n", ERR, "a command must be a string", 6),
    ("unknown phase key", GOOD + "    on-fail: CONTINUE\n", ERR, "did you mean 'on-failure'", 6),
    ("on-failure bad", GOOD + "    on-failure: IGNORE\n", ERR, "on-failure must be ABORT", 6),
    ("on-failure boolean", GOOD + "    on-failure: no\n", ERR, "on-failure must be ABORT", 6),
    ("on-failure retry count", GOOD + "    on-failure: RETRY-101\n", ERR, "0..100", 6),
    ("on-failure retry regex", GOOD + "    on-failure: RETRY-3-timeout.*\n", OK, "", 0),
    ("runtime 3.10 unquoted", GOOD + "  install:\n    runtime-versions:\n      python: 3.10\n",
     ERR, "read as the number 3.1", 8),
    ("runtime 3.11 unquoted", GOOD + "  install:\n    runtime-versions:\n      python: 3.11\n",
     OK, "", 0),
    ("runtime java bad", GOOD + "  install:\n    runtime-versions:\n      java: openjdk17\n",
     ERR, "corretto17", 8),
    ("runtime java int", GOOD + "  install:\n    runtime-versions:\n      java: 17\n",
     ERR, "must be corretto8", 8),
    ("runtime empty", GOOD + "  install:\n    runtime-versions: {}\n", ERR,
     "runtime-versions is empty", 7),
    ("runtime outside install", GOOD + "    runtime-versions:\n      java: corretto17\n", ERR,
     "only in the install phase", 6),
    ("android and java",
     GOOD + "  install:\n    runtime-versions:\n      java: corretto17\n      android: 29\n",
     ERR, "android and java", 9),
    ("finally alone", "version: 0.2\nphases:\n  install:\n    finally: [ls]\n", ERR,
     "'finally' needs 'commands'", 4),
    ("env not map", GOOD + "env: [a]\n", ERR, "env must be a mapping", 6),
    ("env shell bad", GOOD + "env:\n  shell: zsh\n", ERR, "env.shell must be one of", 7),
    ("env CODEBUILD_ var", GOOD + "env:\n  variables:\n    CODEBUILD_X: a\n", ERR,
     "CODEBUILD_ are reserved", 8),
    ("env variable yes", GOOD + "env:\n  variables:\n    FEATURE: yes\n", WARN,
     "quote it ('yes')", 8),
    ("env variable number", GOOD + "env:\n  variables:\n    PORT: 8080\n", OK, "", 0),
    ("env variable empty", GOOD + "env:\n  variables:\n    TOKEN:\n", ERR, "has no value", 8),
    ("exported AWS_", GOOD + "env:\n  exported-variables:\n    - AWS_REGION\n", ERR,
     "AWS_ cannot be exported", 8),
    ("git helper bad", GOOD + "env:\n  git-credential-helper: maybe\n", ERR,
     "must be yes or no", 7),
    ("proxy bad", GOOD + "proxy:\n  logs: sometimes\n", ERR, "proxy.logs must be yes or no", 7),
    ("reports no files", GOOD + "reports:\n  unit:\n    file-format: JUNITXML\n", ERR,
     "needs 'files'", 8),
    ("reports lcov", GOOD + "reports:\n  cov:\n    files: [lcov.info]\n    file-format: LCOV\n",
     ERR, "CodeBuild has no LCOV", 9),
    ("reports format case", GOOD + "reports:\n  cov:\n    files: [a.xml]\n"
     "    file-format: jacocoxml\n", OK, "", 0),
    ("six report groups", GOOD + "reports:\n" + "".join(
        f"  g{i}:\n    files: [a.xml]\n" for i in range(6)), ERR, "at most 5 report groups", 17),
    ("glob unquoted", GOOD + "artifacts:\n  files:\n    - *.jar\n", ERR,
     "quote globs that start with *: '*.jar'", 8),
    ("glob doublestar unquoted", GOOD + "artifacts:\n  files:\n    - **/*\n", ERR,
     "quote globs that start with *", 8),
    ("artifacts no files", GOOD + "artifacts:\n  name: x\n", ERR, "artifacts needs 'files'", 7),
    ("artifacts files scalar", GOOD + "artifacts:\n  files: app.jar\n", ERR,
     "files must be a list", 7),
    ("artifacts discard bad", GOOD + "artifacts:\n  files: [a]\n  discard-paths: sure\n", ERR,
     "must be yes or no", 8),
    ("secondary no files", GOOD + "artifacts:\n  files: [a]\n  secondary-artifacts:\n"
     "    web:\n      name: web\n", ERR, "secondary artifact 'web' needs 'files'", 10),
    ("cache no paths", GOOD + "cache:\n  key: k\n", ERR, "cache needs 'paths'", 7),
    ("cache fallback without key", GOOD + "cache:\n  paths: [a]\n  fallback-keys: [b]\n", ERR,
     "needs cache.key", 8),
    ("cache six fallbacks", GOOD + "cache:\n  paths: [a]\n  key: k\n  fallback-keys: "
     "[a, b, c, d, e, f]\n", ERR, "at most 5 keys", 9),
    ("cache action bad", GOOD + "cache:\n  paths: [a]\n  action: both\n", ERR,
     "restore or save", 8),
    ("batch two kinds", GOOD + "batch:\n  build-list:\n    - identifier: a\n  build-graph:\n"
     "    - identifier: b\n", ERR, "give exactly one", 9),
    ("batch none", GOOD + "batch:\n  fast-fail: yes\n", ERR, "batch needs one of", 7),
    ("batch unknown dependency", GOOD + "batch:\n  build-graph:\n    - identifier: a\n"
     "    - identifier: b\n      depend-on:\n        - c\n", ERR, "names no build", 11),
    ("batch self dependency", GOOD + "batch:\n  build-graph:\n    - identifier: a\n"
     "      depend-on: [a]\n", ERR, "closes a cycle (a -> a)", 9),
    ("batch cycle", GOOD + "batch:\n  build-graph:\n    - identifier: a\n      depend-on: [c]\n"
     "    - identifier: b\n      depend-on: [a]\n    - identifier: c\n      depend-on: [b]\n",
     ERR, "closes a cycle (a -> c -> b -> a)", 11),
    ("batch diamond", GOOD + "batch:\n  build-graph:\n    - identifier: a\n"
     "    - identifier: b\n      depend-on: [a]\n    - identifier: c\n      depend-on: [a]\n"
     "    - identifier: d\n      depend-on: [b, c]\n", OK, "", 0),
    ("batch duplicate id", GOOD + "batch:\n  build-list:\n    - identifier: a\n"
     "    - identifier: a\n", ERR, "already used at line 8", 9),
    ("batch id chars", GOOD + "batch:\n  build-list:\n    - identifier: web-app\n", ERR,
     "only letters, digits and _", 8),
    ("duplicate key", GOOD + "version: 0.2\n", WARN, "duplicate key 'version'", 6),
    ("appspec not at root", GOOD + "artifacts:\n  files:\n    - deploy/appspec.yml\n"
     "    - 'hooks/**/*'\n", ERR, "CodeDeploy needs it at the root; set base-directory: "
     "deploy", 8),
    ("appspec under base twice", GOOD + "artifacts:\n  base-directory: bundle\n  files:\n"
     "    - bundle/appspec.yml\n", ERR, "relative to base-directory 'bundle'", 9),
    ("appspec discard flattens hooks", GOOD + "artifacts:\n  discard-paths: yes\n  files:\n"
     "    - appspec.yml\n    - 'hooks/**/*'\n", ERR, "flattens folders", 7),
    ("discard without bundle", GOOD + "artifacts:\n  discard-paths: yes\n  files:\n"
     "    - 'target/*.jar'\n", OK, "", 0),
    ("appspec in secondary", GOOD + "artifacts:\n  files: [a]\n  secondary-artifacts:\n"
     "    deploy:\n      files:\n        - x/appspec.yml\n", ERR, "secondary artifact 'deploy'",
     11),
    ("sonar without gate", GOOD + "      - mvn sonar:sonar\n", ERR,
     "no quality gate follows it", 6),
    ("scanner without gate", GOOD + "      - /opt/sonar-scanner/bin/sonar-scanner -X\n", ERR,
     "no quality gate follows it", 6),
    ("scanner install only", GOOD + "      - mv /opt/sonar-scanner-5 /opt/sonar-scanner\n", OK,
     "", 0),
    ("gate before analysis", "version: 0.2\nphases:\n  build:\n    commands:\n"
     "      - hdhooks sonar gate\n      - mvn sonar:sonar\n", ERR, "no quality gate follows", 6),
    ("gate or true", GATED.replace("hdhooks sonar gate", "hdhooks sonar gate || true"), ERR,
     "'|| true' turns a failed gate into success", 6),
    ("gate or colon", GATED.replace("hdhooks sonar gate", "'hdhooks sonar gate || :'"), ERR,
     "turns a failed gate into success", 6),
    ("gate then true", GATED.replace("hdhooks sonar gate", "hdhooks sonar gate; true"), ERR,
     "a later command in the same step", 6),
    ("gate or exit 1", GATED.replace("hdhooks sonar gate",
                                     "'hdhooks sonar gate || { echo failed; exit 1; }'"),
     OK, "", 0),
    ("gate piped", GATED.replace("hdhooks sonar gate", "hdhooks sonar gate | tee gate.log"),
     ERR, "add 'set -o pipefail'", 6),
    ("gate piped pipefail", GATED.replace("hdhooks sonar gate",
                                          "set -o pipefail && hdhooks sonar gate | tee g.log"),
     OK, "", 0),
    ("gate in finally", "version: 0.2\nphases:\n  build:\n    commands:\n"
     "      - mvn sonar:sonar\n    finally:\n      - hdhooks sonar gate\n", WARN,
     "runs in phases.build.finally, so it also runs after a failed analysis", 7),
    ("gate on-failure continue", GATED.replace("  build:\n", "  build:\n    on-failure: "
                                               "CONTINUE\n"), WARN,
     "a failed gate still fails the build", 7),
    ("gate via venv path", GATED.replace("hdhooks sonar gate",
                                         "/tmp/hdhooks/bin/hdhooks sonar gate --timeout 60"),
     OK, "", 0),
    ("gate via variable", GATED.replace("hdhooks sonar gate", "'\"$HDHOOKS\" sonar gate'"), OK,
     "", 0),
    ("gate or colon unquoted", GATED.replace("hdhooks sonar gate", "hdhooks sonar gate || :"),
     ERR, "the command 'hdhooks sonar gate ||:' contains ': '", 6),
    ("scanner waits itself", GOOD + "      - sonar-scanner -Dsonar.qualitygate.wait=true\n", OK,
     "", 0),
    ("gate in post_build", GOOD + "      - mvn sonar:sonar\n  post_build:\n    commands:\n"
     "      - hdhooks sonar gate\n", OK, "", 0),
    # The one-line form docs/sonar.md recommends: the saved status is handed back.
    ("gate one-line env file", GATED.replace(
        "hdhooks sonar gate", "hdhooks sonar gate --env-file /tmp/q.env; rc=$?; . /tmp/q.env; "
        "export QUALITY_GATE_STATUS; (exit $rc)"), OK, "", 0),
    ("gate status saved then exit", GATED.replace(
        "hdhooks sonar gate", "hdhooks sonar gate; rc=$?; echo \"gate $rc\"; exit \"$rc\""),
     OK, "", 0),
    ("gate exit status", GATED.replace("hdhooks sonar gate", "hdhooks sonar gate; exit $?"),
     OK, "", 0),
    ("gate status saved, other exit", GATED.replace(
        "hdhooks sonar gate", "hdhooks sonar gate; rc=$?; exit $other"), ERR,
     "a later command in the same step", 6),
    ("gate exit status too late", GATED.replace(
        "hdhooks sonar gate", "hdhooks sonar gate; echo done; exit $?"), ERR,
     "a later command in the same step", 6),
    ("gate inside export", GATED.replace(
        "hdhooks sonar gate", "export QUALITY_GATE_STATUS=$($HDHOOKS sonar gate)"), ERR,
     "whose status is export's (always 0)", 6),
    ("gate in bare assignment", GATED.replace(
        "hdhooks sonar gate", "STATUS=$(hdhooks sonar gate)"), OK, "", 0),
    ("maven plugin full goal", GOOD + "      - mvn org.sonarsource.scanner.maven:"
     "sonar-maven-plugin:5.0.0.4389:sonar\n", ERR, "no quality gate follows it", 6),
    ("env variable 3.10", GOOD + "env:\n  variables:\n    PY: 3.10\n", WARN,
     "the build sees '3.1'; quote it: \"3.10\"", 8),
    ("env variable octal", GOOD + "env:\n  variables:\n    MODE: 0755\n", WARN,
     "read as the number 493", 8),
    ("env variable 1.5", GOOD + "env:\n  variables:\n    RATIO: 1.5\n", OK, "", 0),
    ("secret plain", GOOD + "env:\n  secrets-manager:\n    T: ci/sonar:token\n", OK, "", 0),
    ("secret arn with key", GOOD + "env:\n  secrets-manager:\n    T: arn:aws:secretsmanager:"
     "eu-west-1:123456789012:secret:ci/sonar-AbCdEf:token:AWSCURRENT\n", OK, "", 0),
    ("secret stage only", GOOD + "env:\n  secrets-manager:\n    T: ci/sonar::AWSPREVIOUS\n",
     OK, "", 0),
    ("secret id only", GOOD + "env:\n  secrets-manager:\n    T: ci/sonar:::0a1b-2c3d\n",
     OK, "", 0),
    ("secret empty id", GOOD + "env:\n  secrets-manager:\n    T: ':token'\n", ERR,
     "the secret id is empty", 8),
    ("secret too many parts", GOOD + "env:\n  secrets-manager:\n    T: a:b:c:d:e\n", ERR,
     "has 5 ':'-separated parts", 8),
    ("secret stage and id", GOOD + "env:\n  secrets-manager:\n    T: a:key:AWSCURRENT:0a1b\n",
     ERR, "not both", 8),
    ("secret other arn", GOOD + "env:\n  secrets-manager:\n    T: arn:aws:ssm:eu-west-1:1:x\n",
     ERR, "not a Secrets Manager secret ARN", 8),
    ("runtime flutter", GOOD + "  install:\n    runtime-versions:\n      flutter: '3.24'\n",
     ERR, "no managed flutter runtime", 8),
    ("runtime unknown", GOOD + "  install:\n    runtime-versions:\n      rust: '1.80'\n",
     ERR, "unknown runtime 'rust'", 8),
    ("runtime nodejs", GOOD + "  install:\n    runtime-versions:\n      nodejs: 20\n", OK,
     "", 0),
    # the step that installs hdhooks: PyPI has none
    ("hdhooks from pypi", "version: 0.2\nphases:\n  install:\n    commands:\n"
     "      - pip install hdhooks==0.1.0\n", WARN, "from PyPI, which has no hdhooks", 5),
    ("hdhooks from pypi through a variable",
     "version: 0.2\nenv:\n  variables:\n    HDHOOKS_INSTALL: \"hdhooks==0.1.0\"\nphases:\n"
     "  install:\n    commands:\n      - python3 -m venv /tmp/h\n"
     "      - /tmp/h/bin/pip install --quiet \"$HDHOOKS_INSTALL\"\n", WARN,
     "installs 'hdhooks==0.1.0' from PyPI", 9),
    ("hdhooks from a private index", "version: 0.2\nphases:\n  install:\n    commands:\n"
     "      - pip install --index-url https://pypi.example/simple hdhooks==0.1.0\n", OK, "",
     0),
    ("hdhooks after codeartifact login", "version: 0.2\nphases:\n  install:\n    commands:\n"
     "      - aws codeartifact login --tool pip --domain d --domain-owner 111122223333 "
     "--repository r\n      - python3 -m pip install hdhooks==0.1.0\n", OK, "", 0),
    ("hdhooks with PIP_INDEX_URL", "version: 0.2\nenv:\n  variables:\n"
     "    PIP_INDEX_URL: https://pypi.example/simple\nphases:\n  install:\n    commands:\n"
     "      - pip install hdhooks\n", OK, "", 0),
    ("hdhooks wheel from the source", "version: 0.2\nphases:\n  install:\n    commands:\n"
     "      - pip install ./.hdhooks/hdhooks-0.1.0-py3-none-any.whl\n", OK, "", 0),
    ("pip cannot read s3", "version: 0.2\nphases:\n  install:\n    commands:\n"
     "      - pip install s3://b/hdhooks-0.1.0-py3-none-any.whl\n", WARN,
     "pip cannot read 's3://b/hdhooks-0.1.0-py3-none-any.whl'", 5),
]


@pytest.mark.parametrize(
    ("text", "outcome", "fragment", "line"),
    [pytest.param(text, outcome, fragment, line, id=name)
     for name, text, outcome, fragment, line in CASES],
)
def test_case(text: str, outcome: str, fragment: str, line: int) -> None:
    report = validate_text(text, "buildspec.yml")
    shown = "\n".join(report.text_lines())
    if outcome == OK:
        assert report.problems == [], shown
        return
    matching = [p for p in report.problems if p.severity == outcome and fragment in p.message]
    assert matching, f"no {outcome} containing {fragment!r} in:\n{shown}"
    assert matching[0].line == line, shown
    assert report.valid() is (outcome == WARN)


def test_cases_are_many() -> None:
    assert len(CASES) >= 40


def test_every_error_has_a_line_except_an_empty_file() -> None:
    for name, text, _, _, _ in CASES:
        report = validate_text(text)
        for problem in report.problems:
            if problem.line == 0:
                assert name in ("empty file", "comments only"), (name, problem)


def test_all_problems_reported_at_once() -> None:
    text = textwrap.dedent("""\
        version: 0.2
        env:
          shell: zsh
        phases:
          build:
            commands:
              - echo a: b
        cache:
          key: k
        """)
    report = validate_text(text)
    assert [p.line for p in report.errors] == [3, 7, 9]


def test_path_of_problem() -> None:
    report = validate_text(GOOD + "  install:\n    runtime-versions:\n      python: 3.10\n")
    assert report.errors[0].path == "phases.install.runtime-versions.python"


def _alias_bomb() -> str:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\nversion: 0.2\nphases:\n  build:\n    commands: *i\n"


def test_alias_bomb_is_refused_not_expanded() -> None:
    # Nine levels of nine aliases stand for 387 million strings: expanding them would
    # hang the validator (and the build that runs it); it answers at once instead.
    report = validate_text(_alias_bomb(), "bomb.yml")
    assert [(p.line, p.code) for p in report.problems] == [(2, "yaml-alias-bomb")]
    assert "alias bomb" in report.problems[0].message
    # A few ordinary aliases are still read (and reported as aliases).
    small = validate_text("x: &x [a]\nversion: 0.2\nphases:\n  build:\n    commands: *x\n")
    assert [p.code for p in small.problems if p.code.startswith("yaml-alias")] == ["yaml-alias"]
