"""pytest fixtures: moto's server over real HTTP, and an environment that points at it.

Use from the root conftest: ``pytest_plugins = ["tests.support.moto_server"]``.

* ``moto_server`` (session): a ``ThreadedMotoServer`` on 127.0.0.1, a free
  port; yields its URL. Its state is shared across the session, so tests use
  unique names (e.g. include the test name) or reset it with
  ``reset_moto(url)``.
* ``aws_env`` (function): sets ``AWS_ENDPOINT_URL``, dummy credentials and
  ``AWS_DEFAULT_REGION=eu-west-1`` for this test process and returns the same
  variables as a dict to merge into a child process's environment.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

REGION = "eu-west-1"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def reset_moto(url: str) -> None:
    """Forget every resource moto holds (its documented reset endpoint)."""
    import urllib.request

    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
