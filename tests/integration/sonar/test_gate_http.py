"""Token, unknown ids, redirects, TLS and host override, against local servers."""

from __future__ import annotations

import socket

import pytest

from tests.support.sonar_server import SonarScript


@pytest.mark.parametrize(
    ("token", "scheme_option", "message"),
    [
        (None, [], "HTTP 401 unauthorised: Authentication is required "
                   "(SONAR_TOKEN is not set and the server requires authentication)"),
        ("squ_wrong", [], "(SONAR_TOKEN is invalid or expired)"),
        ("squ_wrong", ["--auth", "bearer"],
         "(SONAR_TOKEN is invalid or expired; before SonarQube 10 use --auth basic)"),
    ],
)
def test_rejected_token_is_an_input_error(
    sonar, report, gate_cli, tmp_path, token, scheme_option, message
):
    server = sonar()
    report(server.base)
    env_file = tmp_path / "qg.env"

    run = gate_cli(*scheme_option, "--env-file", str(env_file), token=token)

    assert run.code == 2
    error = run.err.splitlines()[-1]
    assert error.startswith("hdhooks: error: http://127.0.0.1:")
    assert error.endswith(message)
    assert run.err.count("hdhooks: error") == 1
    assert env_file.read_text() == "QUALITY_GATE_STATUS=UNKNOWN\n"
    assert run.out == "QUALITY_GATE_STATUS=UNKNOWN\n"


def test_token_without_browse_permission(sonar, report, gate_cli):
    server = sonar(SonarScript(forbidden=True))
    report(server.base)

    run = gate_cli()

    assert run.code == 2
    assert "HTTP 403 forbidden: Insufficient privileges" in run.err
    assert "lacks the Browse permission" in run.err


def test_bearer_token(sonar, report, gate_cli):
    script = SonarScript(scheme="bearer")
    server = sonar(script)
    report(server.base)

    assert gate_cli().code == 2  # basic is refused by this server
    run = gate_cli("--auth", "bearer")

    assert run.code == 0, run.err
    assert script.requests[-1].authorization == "Bearer squ_goodtoken"


def test_unknown_task_shows_the_servers_message(sonar, report, gate_cli):
    server = sonar()
    report(server.base, task_id="AYstale")

    run = gate_cli()

    assert run.code == 2
    assert "HTTP 404: unknown task: No activity found for task 'AYstale'" in run.err


def test_unknown_analysis_shows_the_servers_message(sonar, report, gate_cli):
    server = sonar(SonarScript(task_analysis_id="AYgone"))
    report(server.base)

    run = gate_cli()

    assert run.code == 2
    assert "HTTP 404: unknown analysis: Analysis with id 'AYgone' is not found" in run.err


def test_http_to_https_redirect_on_the_same_host_keeps_the_token(
    sonar, redirector, report, gate_cli, tls, ca_pem
):
    script = SonarScript(statuses=["IN_PROGRESS", "SUCCESS"])
    https = sonar(script, tls=tls)
    http = redirector(https.base, code=301)
    report(http.base)

    run = gate_cli("--ca-bundle", ca_pem)

    assert run.code == 0, run.err
    assert len(http.requests) == 3  # two polls and the gate, each redirected
    assert [r.authorization for r in script.requests] == ["Basic c3F1X2dvb2R0b2tlbjo="] * 3


def test_redirect_to_another_host_stops_before_sending_the_token(
    sonar, redirector, report, gate_cli
):
    script = SonarScript()
    server = sonar(script)
    other = server.base.replace("127.0.0.1", "localhost")
    http = redirector(other, code=302)
    report(http.base)

    run = gate_cli()

    assert run.code == 2
    assert f"redirects to another host: {other}/api/ce/task" in run.err
    assert "pass --host" in run.err
    assert script.requests == []


def test_redirect_loop_is_cut(redirector, report, gate_cli):
    loop = redirector("http://127.0.0.1:1")
    loop.target = loop.base  # redirects to itself
    report(loop.base)

    run = gate_cli()

    assert run.code == 2
    assert "more than 5 redirects" in run.err
    assert len(loop.requests) == 6


def test_self_signed_tls_needs_the_ca_bundle(sonar, report, gate_cli, tls, ca_pem, tmp_path):
    server = sonar(tls=tls)
    report(server.base)
    env_file = tmp_path / "qg.env"

    refused = gate_cli("--env-file", str(env_file))
    with_option = gate_cli("--ca-bundle", ca_pem)
    with_env = gate_cli(env={"REQUESTS_CA_BUNDLE": ca_pem})

    assert refused.code == 2
    assert f"cannot reach SonarQube at {server.base}/api/ce/task" in refused.err
    assert "TLS certificate verification failed" in refused.err
    assert "--ca-bundle PEM" in refused.err
    assert refused.err.count("hdhooks: error") == 1
    assert env_file.read_text() == "QUALITY_GATE_STATUS=UNKNOWN\n"
    assert with_option.code == 0, with_option.err
    assert with_env.code == 0, with_env.err


def test_missing_ca_bundle_file(sonar, report, gate_cli):
    server = sonar()
    report(server.base)

    run = gate_cli("--ca-bundle", "nope.pem")

    assert run.code == 2
    assert "--ca-bundle nope.pem: file not found" in run.err


@pytest.mark.parametrize("how", ["option", "env"])
def test_host_override_reaches_the_real_server(sonar, report, gate_cli, how):
    script = SonarScript()
    server = sonar(script)
    report("http://sonar.invalid:9000")

    if how == "option":
        run = gate_cli("--host", server.base)
    else:
        run = gate_cli(env={"SONAR_HOST_URL": server.base + "/"})

    assert run.code == 0, run.err
    assert script.requests[0].path == "/api/ce/task?id=AYtask0000000000001"


def test_unresolvable_recorded_host_suggests_host(report, gate_cli):
    report("http://sonar.invalid:9000")

    run = gate_cli()

    assert run.code == 2
    assert "cannot reach SonarQube at http://sonar.invalid:9000/api/ce/task" in run.err
    assert "--host" in run.err


def test_host_override_keeps_the_context_path(sonar, report, gate_cli):
    script = SonarScript(context_path="/sonarqube")
    server = sonar(script)
    report("https://sonar.invalid/sonarqube")
    bare = server.base.removesuffix("/sonarqube")

    without_path = gate_cli("--host", bare)
    with_path = gate_cli("--host", server.base)

    assert without_path.code == 0, without_path.err
    assert with_path.code == 0, with_path.err
    assert script.requests[0].path == "/sonarqube/api/ce/task?id=AYtask0000000000001"
    assert script.requests[1].path.startswith("/sonarqube/api/qualitygates/project_status?")


def test_connection_refused(report, gate_cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report(f"http://127.0.0.1:{port}")

    run = gate_cli()

    assert run.code == 2
    assert f"cannot reach SonarQube at http://127.0.0.1:{port}/api/ce/task" in run.err
    assert "connection refused" in run.err
