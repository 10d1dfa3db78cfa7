"""The EMF line is valid JSON that CloudWatch reads as metrics."""

from __future__ import annotations

import json

import pytest

from hdhooks.metrics import emf_line, to_json


@pytest.mark.parametrize(
    "value",
    [
        {"a": 'quote " backslash \\ newline \n tab \t bell \x07 é \u2028'},
        [1, 2.5, -3, True, False, None, "x"],
        {"nested": {"list": [{"k": "v"}], "empty": {}}},
        "",
        1e20,
    ],
)
def test_to_json_round_trips_through_the_json_module(value: object) -> None:
    assert json.loads(to_json(value)) == value


def test_non_finite_numbers_become_null() -> None:
    assert json.loads(to_json([float("nan"), float("inf")])) == [None, None]


def test_emf_document_names_its_metrics_and_dimensions() -> None:
    doc = json.loads(emf_line(component="api", event="ValidateService", duration_s=1.25,
                              result="Failed", environment="prod", deployment_id="d-1",
                              now=1700000000.0))
    spec = doc["_aws"]["CloudWatchMetrics"][0]
    assert doc["_aws"]["Timestamp"] == 1700000000000
    assert {m["Name"] for m in spec["Metrics"]} == {"Duration", "Failed"}
    for dimensions in spec["Dimensions"]:
        assert all(name in doc for name in dimensions)
    assert (doc["Duration"], doc["Failed"], doc["Environment"]) == (1250.0, 1, "prod")


def test_the_metrics_file_is_chosen_by_variable_then_log_dir() -> None:
    from hdhooks.metrics import ROOT_METRICS_FILE, metrics_file

    assert metrics_file(None, {}) == ROOT_METRICS_FILE == "/var/log/hdhooks/metrics.log"
    assert metrics_file("/srv/state/log", {}) == "/srv/state/log/metrics.log"
    assert metrics_file(None, {"HDHOOKS_METRICS_FILE": "/tmp/m.log"}) == "/tmp/m.log"
    assert metrics_file("/srv/state/log", {"HDHOOKS_METRICS_FILE": "off"}) == ""
