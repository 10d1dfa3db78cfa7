"""The process-wide redaction of secret values."""

from __future__ import annotations

import json
import logging
import shlex
import urllib.parse

import pytest

from hdhooks import redact


def test_registered_values_are_masked() -> None:
    redact.register("hunter2-secret-value")
    redact.register("-----BEGIN KEY-----\nAAAAsecretline\n-----END KEY-----")
    text = "password=hunter2-secret-value; key line AAAAsecretline"
    assert redact.redact(text) == "password=****; key line ****"
    assert redact.is_secret("hunter2-secret-value")


def test_longest_secret_wins() -> None:
    redact.register("abcd-long-and-longer")
    redact.register("abcd-long")
    assert redact.redact("x abcd-long-and-longer y abcd-long") == "x **** y ****"


def test_logging_filter_hides_arguments_and_exceptions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redact.register("tok-9f8e7d6c")
    logger = logging.getLogger("hdhooks.test.redact")
    caplog.handler.addFilter(redact.RedactingFilter())
    try:
        logger.warning("token is %s", "tok-9f8e7d6c")
        try:
            raise ValueError("bad tok-9f8e7d6c")
        except ValueError:
            logger.exception("failed")
    finally:
        caplog.handler.filters.clear()
    assert "tok-9f8e7d6c" not in caplog.text
    assert "token is ****" in caplog.text
    assert "ValueError: bad ****" in caplog.text


ODD = "a\\b\tc'd\"e\nf-é✓"
ODD_FORMS = {
    "plain": ODD,
    "repr": repr(ODD),
    "json": json.dumps(ODD),
    "json-unicode": json.dumps(ODD, ensure_ascii=False),
    "shell": shlex.quote(ODD),
    "url": urllib.parse.quote(ODD, safe=""),
    "url-path": urllib.parse.quote(ODD),
    "url-plus": urllib.parse.quote_plus(ODD),
}


@pytest.mark.parametrize("form", sorted(ODD_FORMS))
def test_every_encoding_of_an_odd_secret_is_masked(form: str) -> None:
    redact.register(ODD)
    shown = redact.redact(f"error: value {ODD_FORMS[form]} is invalid")
    assert "****" in shown
    for piece in ("a\\b", "c'd", "e-é", "f-é✓", "a\\\\b", "%5C"):
        assert piece not in shown, shown


def test_each_line_of_an_odd_multiline_secret_is_masked() -> None:
    redact.register(ODD)
    assert redact.redact("line: f-é✓") == "line: ****"
