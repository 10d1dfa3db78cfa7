"""Table of appspec files: the outcome the CodeDeploy agent gives, as hdhooks reports it.

Each case: an appspec text, and every error expected (code, line, message
fragment); expected warnings must be present too. A case without expected
errors must be valid. Cases marked ``custom`` are parsed the way
``appspec validate`` does (unknown event names are errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from hdhooks.appspec.read import parse
from hdhooks.yamlsrc.problems import Report

HEAD = "version: 0.0\nos: linux\n"


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    errors: list[tuple[str, int, str]] = field(default_factory=list)
    warnings: list[tuple[str, int, str]] = field(default_factory=list)


def hooks(body: str) -> str:
    return HEAD + "hooks:\n" + body


def perm(body: str) -> str:
    return HEAD + "permissions:\n  - object: /opt/app\n" + body


CASES = [
    # --- the document --------------------------------------------------------
    Case("minimal", HEAD),
    Case("version-zero-int", "version: 0\nos: linux\n"),
    Case("empty", "", [("empty", 0, "is empty")]),
    Case("blank", "  \n\n", [("empty", 0, "is empty")]),
    Case("only-comments", "# nothing\n", [("empty", 0, "is empty")]),
    Case("version-quoted", 'version: "0.0"\nos: linux\n',
         [("version", 1, "invalid version value (0.0) (quoted")]),
    Case("version-0.1", "version: 0.1\nos: linux\n",
         [("version", 1, "invalid version value (0.1)")]),
    Case("version-1.0", "version: 1.0\nos: linux\n", [("version", 1, "accepts only 0.0")]),
    Case("version-missing", "os: linux\n", [("version", 1, "version is missing")]),
    Case("version-list", "version: [0.0]\nos: linux\n", [("version", 1, "(a list)")]),
    Case("os-capital", "version: 0.0\nos: Linux\n",
         [("os", 2, "(Linux); write 'os: linux' (lower")]),
    Case("os-windows", "version: 0.0\nos: windows\n",
         [("os", 2, "unsupported operating system (windows)")]),
    Case("os-missing", "version: 0.0\n", [("os", 1, "os is missing")]),
    Case("os-quoted-ok", "version: 0.0\nos: 'linux'\n"),
    Case("root-scalar", "linux\n", [("root-type", 1, "a string, not a mapping")]),
    Case("root-list", "- version: 0.0\n", [("root-type", 1, "a list, not a mapping")]),
    Case("yaml-syntax", "version: 0.0\nos: [linux\n", [("yaml-syntax", 3, "YAML syntax error")]),
    Case("yaml-tab", "version: 0.0\nhooks:\n\tBeforeInstall: []\n", [("yaml-tab", 3, "tab")]),
    Case("alias", HEAD + "hooks:\n  BeforeInstall: &s\n    - location: a.sh\n"
         "  AfterInstall: *s\n", [("yaml-alias", 6, "aliases")]),
    Case("date", HEAD + "hooks:\n  BeforeInstall:\n    - location: 2024-01-01\n",
         [("yaml-date", 5, "unquoted date '2024-01-01'")]),
    # Ruby 3's YAML.load permits symbols: ':root' loads (as a symbol), so only a warning.
    Case("symbol", HEAD + "hooks:\n  BeforeInstall:\n    - location: a.sh\n      runas: :root\n",
         warnings=[("yaml-symbol", 6, "Ruby symbol, not as text")]),
    Case("symbol-os", "version: 0.0\nos: :linux\n", [("os", 2, "(:linux)")],
         [("yaml-symbol", 2, "put it in quotes")]),
    Case("duplicate-key", HEAD + "os: linux\n",
         warnings=[("yaml-duplicate-key", 3, "later value")]),
    Case("multi-document", HEAD + "---\nversion: 1\n",
         warnings=[("yaml-multi-document", 3, "only the first")]),
    Case("unknown-top-key", HEAD + "hook:\n  BeforeInstall: []\n",
         warnings=[("unknown-key", 3, "unknown key 'hook'")]),
    Case("feb-upper", HEAD + "file_exists_behavior: OVERWRITE\n"),
    Case("feb-lower", HEAD + "file_exists_behavior: overwrite\n",
         [("file-exists-behavior", 3, "write 'OVERWRITE'")]),
    Case("feb-bad", HEAD + "file_exists_behavior: KEEP\n",
         [("file-exists-behavior", 3, "invalid file_exists_behavior value (KEEP)")]),
    # --- files -----------------------------------------------------------------
    Case("files-ok", HEAD + "files:\n  - source: /\n    destination: /opt/app\n"),
    Case("files-no-destination", HEAD + "files:\n  - source: app.jar\n",
         [("files-destination", 4, "specifies only a source (app.jar)")]),
    Case("files-no-source", HEAD + "files:\n  - destination: /opt/app\n",
         [("files-source", 4, "destination but no source")]),
    Case("files-mapping", HEAD + "files:\n  source: /\n  destination: /opt\n",
         [("files", 4, "must be a list")]),
    Case("files-relative-dest", HEAD + "files:\n  - source: /\n    destination: opt/app\n",
         warnings=[("files-destination", 5, "is relative")]),
    # --- hooks -----------------------------------------------------------------
    Case("hooks-ok", hooks("  BeforeInstall:\n    - location: scripts/a.sh\n      timeout: 300\n"
                           "      runas: root\n")),
    Case("hooks-empty-list", HEAD + "hooks: []\n", [("hooks", 3, "must be a mapping")]),
    Case("hooks-list-of-events", HEAD + "hooks:\n  - BeforeInstall\n",
         [("hooks", 4, "must be a mapping")]),
    Case("event-null", hooks("  BeforeInstall:\n  AfterInstall:\n    - location: b.sh\n")),
    Case("event-empty-list", hooks("  BeforeInstall: []\n")),
    Case("event-mapping", hooks("  BeforeInstall:\n    location: a.sh\n"),
         [("hook-event", 5, "must be a list of scripts")]),
    Case("event-string", hooks("  BeforeInstall: a.sh\n"),
         [("hook-event", 4, "not a string")]),
    Case("entry-string", hooks("  BeforeInstall:\n    - scripts/a.sh\n"),
         [("hook-entry", 5, "write '- location: scripts/a.sh'")]),
    Case("entry-null", hooks("  BeforeInstall:\n    -\n"), [("hook-entry", 5, "not null")]),
    Case("location-missing", hooks("  BeforeInstall:\n    - timeout: 30\n"),
         [("hook-location", 5, "no location value")]),
    Case("location-blank", hooks("  BeforeInstall:\n    - location: '  '\n"),
         [("hook-location", 5, "no location value")]),
    Case("location-null", hooks("  BeforeInstall:\n    - location:\n"),
         [("hook-location", 5, "no location value")]),
    Case("location-space", hooks("  BeforeInstall:\n    - location: scripts/a.sh --fast\n"),
         [("hook-location", 5, "contains white space")]),
    Case("location-leading-slash", hooks("  BeforeInstall:\n    - location: /scripts/a.sh\n")),
    Case("timeout-text", hooks("  BeforeInstall:\n    - location: a.sh\n      timeout: 30s\n"),
         warnings=[("hook-timeout", 6, "read by the agent as 30 s")]),
    Case("timeout-float", hooks("  BeforeInstall:\n    - location: a.sh\n      timeout: 1.9\n"),
         warnings=[("hook-timeout", 6, "as 1 s")]),
    Case("timeout-zero", hooks("  BeforeInstall:\n    - location: a.sh\n      timeout: 0\n"),
         [("hook-timeout", 6, "invalid timeout value (0)")]),
    Case("timeout-negative", hooks("  BeforeInstall:\n    - location: a.sh\n      timeout: -5\n"),
         [("hook-timeout", 6, "invalid timeout value (-5)")]),
    Case("timeout-absurd", hooks("  BeforeInstall:\n    - location: a.sh\n"
                                 "      timeout: 99999999999999999999999\n"),
         [("hook-timeout", 6, "longer than a year")]),
    Case("timeout-word", hooks("  BeforeInstall:\n    - location: a.sh\n      timeout: soon\n"),
         [("hook-timeout", 6, "greater than 0")]),
    Case("timeout-true", hooks("  BeforeInstall:\n    - location: a.sh\n      timeout: true\n"),
         [("hook-timeout", 6, "invalid timeout value (true)")]),
    Case("timeout-long", hooks("  BeforeInstall:\n    - location: a.sh\n      timeout: 3601\n"),
         warnings=[("hook-timeout-long", 6, "over 3600 s")]),
    Case("event-total-long", hooks("  BeforeInstall:\n    - location: a.sh\n      timeout: 2000\n"
                                   "    - location: b.sh\n      timeout: 2000\n"),
         warnings=[("hook-event-timeout", 5, "add up to 4000 s")]),
    Case("hook-install", hooks("  Install:\n    - location: a.sh\n"),
         warnings=[("hook-never-run", 4, "never run")]),
    Case("hook-downloadbundle", hooks("  DownloadBundle:\n    - location: a.sh\n"),
         warnings=[("hook-never-run", 4, "never run")]),
    Case("sudo", hooks("  BeforeInstall:\n    - location: a.sh\n      sudo: true\n"),
         warnings=[("hook-sudo", 6, "not documented")]),
    Case("script-unknown-key", hooks("  BeforeInstall:\n    - location: a.sh\n      runAs: x\n"),
         warnings=[("unknown-key", 6, "unknown key 'runAs'")]),
    Case("custom-event", hooks("  BlockTraffic:\n    - location: a.sh\n"),
         [("hook-unknown-event", 4, 'unknown lifecycle events: ["BlockTraffic"]')]),
    Case("custom-event-typo", hooks("  BeforeInstal:\n    - location: a.sh\n"),
         [("hook-unknown-event", 4, "did you mean BeforeInstall?")]),
    # --- permissions -----------------------------------------------------------
    Case("perm-ok", perm("    pattern: '*.sh'\n    except: [x.sh]\n    owner: app\n"
                         "    group: app\n    mode: 755\n    type: [file]\n")),
    Case("perm-no-object", HEAD + "permissions:\n  - owner: app\n",
         [("permission-object", 4, "has no object value")]),
    Case("perm-blank-object", HEAD + "permissions:\n  - object: ' '\n",
         [("permission-object", 4, "has no object value")]),
    Case("perm-mapping", HEAD + "permissions:\n  object: /opt\n",
         [("permissions", 4, "must be a list")]),
    Case("perm-type-bad", perm("    type: [link]\n"),
         [("permission-type", 5, "not supported for permissions (link)")]),
    Case("perm-type-string", perm("    type: file\n"), [("permission-type", 5, "must be a list")]),
    Case("mode-octal-755", perm("    mode: 0755\n"), [("mode-octal", 5, "invalid character (9)")]),
    Case("mode-octal-600", perm("    mode: 0600\n"), [("mode-octal", 5, "decimal 384")]),
    Case("mode-octal-644", perm("    mode: 0644\n"),
         warnings=[("mode-octal", 5, "silently applies mode 420, not 644")]),
    Case("mode-quoted", perm("    mode: '0644'\n")),
    Case("mode-short", perm("    mode: 7\n")),
    Case("mode-long", perm("    mode: 12345\n"), [("mode", 5, "one to four characters")]),
    Case("mode-bad-char", perm("    mode: u+x\n"), [("mode", 5, "invalid character (u)")]),
    Case("acl-ok", perm("    acls: ['u:bob:rw', 'g:staff:5', 'd:u:bob:rwx', 'm::rw', 'bob:r']\n")),
    Case("acl-base", perm("    acls: ['u::7']\n"),
         [("acl", 5, "use mode to set the base acl entry")]),
    Case("acl-other", perm("    acls: ['o:7']\n"),
         [("acl", 5, "use mode to set the base acl entry")]),
    Case("acl-mask-name", perm("    acls: ['m:bob:rw']\n"),
         [("acl", 5, "invalid acl entry (m:bob:rw)")]),
    Case("acl-parts", perm("    acls: ['rw']\n"), [("acl", 5, "invalid acl entry (rw)")]),
    Case("acl-perm-char", perm("    acls: ['u:bob:rwz']\n"), [("acl", 5, "invalid character (z)")]),
    Case("acl-string", perm("    acls: u:bob:rw\n"), [("acl", 5, "must be a list")]),
    Case("context-ok", perm("    context:\n      name: system_u\n      type: httpd_sys_content_t\n"
                            "      range: s0-s1:c0.c5,c9\n")),
    Case("context-no-type", perm("    context:\n      name: system_u\n"),
         [("context", 6, "invalid context type")]),
    Case("range-dup", perm("    context:\n      type: t\n      range: s0:c1,c0.c2\n"),
         [("context-range", 7, "duplicate categories")]),
    Case("range-high-low", perm("    context:\n      type: t\n      range: s2-s1\n"),
         [("context-range", 7, "lower than the low one")]),
    Case("range-category-max", perm("    context:\n      type: t\n      range: s0:c1024\n"),
         [("context-range", 7, "invalid category 'c1024'")]),
    Case("range-syntax", perm("    context:\n      type: t\n      range: 's0:'\n"),
         [("context-range", 7, "invalid range part")]),
    Case("context-user-key", perm("    context: {user: x, type: t}\n"),
         warnings=[("context", 5, "reads the SELinux user from 'name'")]),
    Case("perm-entry-string", HEAD + "permissions:\n  - /opt\n",
         [("permissions", 4, "must be a mapping with an 'object' key")]),
    Case("files-entry-string", HEAD + "files:\n  - app.jar\n",
         [("files", 4, "must be a mapping with source and destination")]),
    Case("files-source-int", HEAD + "files:\n  - source: 1\n    destination: /opt\n",
         [("files-source", 4, "not an integer; quote it")]),
    Case("location-list", hooks("  AfterInstall:\n    - location: [a.sh]\n"),
         [("hook-location", 5, "not a list")]),
    Case("runas-empty", hooks("  AfterInstall:\n    - location: a.sh\n      runas: ''\n"),
         warnings=[("hook-runas", 6, "runs as root")]),
    Case("date-key", HEAD + "2020-01-01: x\n", [("yaml-date", 3, "unquoted date")]),
    Case("os-yes", "version: 0.0\nos: yes\n", [("os", 2, "(true)")]),
    # --- nasty input: never a crash, one line per problem ------------------------
    Case("key-int", HEAD + "1: x\n", warnings=[("unknown-key", 3, "unknown key '1'")]),
    Case("key-list", HEAD + "? [a]\n: x\n", warnings=[("unknown-key", 3, "unknown key '[a]'")]),
    Case("key-list-python-tag", HEAD + "? [!!python/object:x y]\n: x\n",
         warnings=[("unknown-key", 3, "unknown key '[y]'")]),
    Case("key-nested-mapping", HEAD + "? {? {a: b}: c}\n: d\n",
         warnings=[("unknown-key", 3, "'{{a: b}: c}'")]),
    Case("event-key-list", hooks("  ? [BeforeInstall]\n  : - location: a.sh\n"),
         [("hook-unknown-event", 4, '["[BeforeInstall]"]; did you mean BeforeInstall?')]),
    Case("merge-inline", hooks("  BeforeInstall:\n    - <<: {location: a.sh}\n      timeout: 3\n")),
    Case("merge-list", hooks("  BeforeInstall:\n    - <<: [{location: a.sh}, {location: b.sh}]\n")),
    Case("merge-alias", HEAD + "base: &b {location: a.sh}\nhooks:\n  BeforeInstall:\n"
         "    - <<: *b\n      timeout: 3\n", [("yaml-alias", 6, "instead of '<<: *name'")]),
    Case("merge-scalar", hooks("  BeforeInstall:\n    - location: a.sh\n      <<: x\n"),
         warnings=[("unknown-key", 6, "unknown key '<<'")]),
    Case("tag-python-object", "version: 0.0\nos: !!python/object:os.system linux\n",
         warnings=[("yaml-tag", 2, "read 'linux' as if it were untagged")]),
    Case("tag-python-apply", HEAD + "x: !!python/object/apply:os.system [id]\n",
         warnings=[("yaml-tag", 3, "is not a standard one")]),
    Case("tag-ruby-object", HEAD + "x: !ruby/object:Foo {a: 1}\n",
         [("yaml-tag", 3, "Tried to load unspecified class")]),
    Case("tag-ruby-regexp", HEAD + "x: !ruby/regexp /a/\n", [("yaml-tag", 3, "refuses")]),
    Case("tag-ruby-object-scalar", HEAD + "x: !ruby/object:X a\n",
         warnings=[("yaml-tag", 3, "read 'a' as if it were untagged")]),
    Case("tag-binary-bad", HEAD + "x: !!binary ETAIN\n",
         warnings=[("yaml-tag", 3, "not base64")]),
    Case("tag-str-version", "version: !!str 0.0\nos: !!str linux\n",
         [("version", 1, "(0.0) (a string, not a number)")]),
    Case("tag-float-bad", hooks("  BeforeInstall:\n    - location: a.sh\n"
                                "      timeout: !!float x\n"),
         [("yaml-value", 6, "cannot read 'x' as !!float"), ("hook-timeout", 6, "(x)")]),
    Case("tag-int-mismatch", hooks("  BeforeInstall:\n    - location: a.sh\n"
                                   "      timeout: !!int 30s\n"),
         warnings=[("yaml-tag", 6, "does not fit '30s'"), ("hook-timeout", 6, "as 30 s")]),
    Case("end-marker", HEAD + "...\n"),
    Case("end-marker-then-text", HEAD + "...\nversion: 1\n  ]]\n",
         warnings=[("yaml-multi-document", 3, "everything from here on is ignored")]),
    Case("second-document-bad", HEAD + "---\n[\n",
         warnings=[("yaml-multi-document", 3, "only the first is read")]),
    Case("nul-character", "version: 0.0\nos: linux\x00\n", [("yaml-syntax", 2, "#x0000")]),
    Case("null-root", "~\n", [("root-type", 1, "holds null, not a mapping")]),
    Case("tab-separator", "version: 0.0\nos:\tlinux\n"),
    Case("crlf-appspec", "version: 0.0\r\nos: linux\r\nhooks:\r\n  BeforeInstall:\r\n"
         "    - location: a b.sh\r\n", [("hook-location", 5, "contains white space")]),
    Case("timeout-exponent", hooks("  ApplicationStop: [{location: a.sh, timeout: 1e3}]\n"),
         warnings=[("hook-timeout", 4, "read by the agent as 1 s")]),
    Case("timeout-quoted-text", hooks('  ApplicationStop: [{location: a.sh, timeout: "30s"}]\n'),
         warnings=[("hook-timeout", 4, "read by the agent as 30 s")]),
    Case("timeout-infinite", hooks("  ApplicationStop: [{location: a.sh, timeout: .inf}]\n"),
         [("hook-timeout", 4, "invalid timeout value (.inf)")]),
    Case("runas-number", hooks("  ApplicationStop: [{location: a.sh, runas: 123}]\n")),
    Case("mode-list", perm("    mode: [644]\n"), [("mode", 5, "not a list")]),
    Case("permissions-string", HEAD + "permissions: /opt\n", [("permissions", 3, "not a string")]),
    Case("version-three-parts", "version: 0.0.0\nos: linux\n",
         [("version", 1, "(0.0.0) (a string, not a number)")]),
    Case("os-list", "version: 0.0\nos: [linux]\n", [("os", 2, "(a list)")]),
    Case("event-total-defaults", hooks("  BeforeInstall:\n    - location: a.sh\n"
                                       "      timeout: 300\n    - location: b.sh\n"),
         warnings=[("hook-event-timeout", 5, "1 without 'timeout' count 3600 s each")]),
    Case("pattern-slash", perm("    pattern: 'conf/*.yml'\n"),
         warnings=[("permission-pattern", 5, "never matches")]),
]


def run_case(case: Case) -> Report:
    _, report = parse(case.text, "appspec.yml", allow_custom_events=False)
    return report


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    report = run_case(case)
    errors = [(p.code, p.line, p.message) for p in report.errors]
    expected = [(c, n) for c, n, _ in case.errors]
    assert [(c, n) for c, n, _ in errors] == expected, report.text_lines()
    for (_, _, message), (_, _, fragment) in zip(errors, case.errors, strict=True):
        assert fragment in message
    warnings = [(p.code, p.line, p.message) for p in report.warnings]
    for code, line, fragment in case.warnings:
        assert any(c == code and n == line and fragment in m for c, n, m in warnings), warnings


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 50


def test_every_error_has_a_line_except_the_empty_file() -> None:
    for case in CASES:
        for problem in run_case(case).problems:
            assert problem.line or problem.code == "empty", (case.id, problem)


def test_every_message_is_one_line() -> None:
    for case in CASES:
        for problem in run_case(case).problems:
            assert "\n" not in problem.message, (case.id, problem)


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    text = "\n".join([*lines, "version: 0.0", "os: linux", ""])
    _, report = parse(text, "bomb.yml")
    assert [p.code for p in report.errors] == ["yaml-alias-bomb"]
    assert report.errors[0].line == 2
