"""Fuzzing the provisioning manifest reader: no input makes it crash.

The small manifest of tests/unit/provision has its text damaged (snippets of
YAML, types swapped, odd characters) and goes through parse_manifest; when it
still parses, it is rendered too. The answer is a report or an HdhooksError,
never another exception. Deterministic and bounded.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hdhooks.errors import HdhooksError
from hdhooks.provision.manifest import parse_manifest
from hdhooks.provision.render import render_manifest
from tests.unit.provision.test_manifest_cases import manifest

SNIPPETS = st.sampled_from([
    "{", "}", "[", "]", ": ", "- ", "\n", "  ", "!!binary x", "&a ", "*a", "~", "null", "yes",
    "1e3", "0777", "\"", "'", "%", "*", "/..", "\t", "\u00e9", "\u202e", "999999999999999999999",
])
BASE = manifest(top="parameters: {max_size: 3, alarms: {target_5xx: 5}}\n",
                component="    provision:\n      port: 8081\n      environments:\n"
                          "        prod: {deployment_config: \"25%\"}\n")


@st.composite
def damaged(draw: st.DrawFn) -> str:
    text = BASE
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 6))
        text = text[:at] + draw(st.one_of(SNIPPETS, st.text(max_size=3))) + text[at + cut:]
    return text


@settings(max_examples=60, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(damaged())
def test_damaged_manifests_give_a_report_or_a_clean_error(text: str) -> None:
    try:
        found, report = parse_manifest(text, "m.yml")
        if found is not None and not report.errors:
            render_manifest(found)
    except HdhooksError:
        pass
