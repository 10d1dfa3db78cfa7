"""From a rendered buildspec to a validated deployment: the build-id handshake.

A scaffolded component's buildspec is rendered, its build-id and bundle steps
run as CodeBuild runs them (one bash, CodeBuild's variables set), with
stand-ins for the tools this machine lacks: a ``mvn`` that writes what the real
one writes (the project version set to the build id, build-info.properties,
the jar), and for Flutter a ``flutter`` that writes build/web. The bundle is
deployed with ``hdhooks local deploy``; ValidateService passes only when the
application answers the build id of that very build.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml

from tests.e2e.hookkit import HDHOOKS, REPO, free_port

SOURCE_VERSION = "3f2c1ab9e0d14c5b8a7e6d5c4b3a29180f7e6d5c"
BUILD_NUMBER = "7"
BUILD_ID = f"{BUILD_NUMBER}-{SOURCE_VERSION[:12]}"
NGINX = REPO / ".cache" / "nginx" / "usr" / "sbin" / "nginx"

# The application a Spring Boot jar would be: a Python zip application that
# answers /actuator/health and /actuator/info from its own build-info.properties.
APP = '''
import json, signal, sys, zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer
with zipfile.ZipFile(sys.argv[0]) as jar:
    props = jar.read("META-INF/build-info.properties").decode()
info = dict(line.split("=", 1) for line in props.splitlines() if "=" in line)
conf = dict(line.strip().split("=", 1) for line in open("conf/app.conf")
            if "=" in line and not line.startswith("#"))
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = {"/actuator/health": {"status": "UP"},
                "/actuator/info": {"build": {"version": info["build.version"]}}}.get(self.path)
        data = json.dumps(body).encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
HTTPServer(("127.0.0.1", int(conf["server.port"])), Handler).serve_forever()
'''

FAKE_MVN = '''#!{python}
"""mvn for a machine without a JDK: the goals the rendered buildspec runs."""
import os, re, sys, zipfile
args = [a for a in sys.argv[1:] if a not in ("-B", "-ntp")]
pom = open("pom.xml").read()
version = re.search(r"<version>([^<]*)</version>", pom).group(1)
if args == ["--version"]:
    print("Apache Maven 3.9.6 (stand-in)")
elif args and args[0].startswith("org.codehaus.mojo:versions-maven-plugin:") and \\
        args[0].endswith(":set"):
    new = next(a.split("=", 1)[1] for a in args if a.startswith("-DnewVersion="))
    open("pom.xml", "w").write(pom.replace(f"<version>{{version}}</version>",
                                           f"<version>{{new}}</version>", 1))
elif args == ["org.springframework.boot:spring-boot-maven-plugin:build-info"]:
    os.makedirs("target/classes/META-INF", exist_ok=True)
    with open("target/classes/META-INF/build-info.properties", "w") as fh:
        fh.write(f"build.artifact=orders\\nbuild.version={{version}}\\n")
elif args == ["verify"]:
    os.makedirs("target/surefire-reports", exist_ok=True)
    os.makedirs("target/site/jacoco", exist_ok=True)
    open("target/surefire-reports/TEST-orders.xml", "w").write("<testsuite/>")
    open("target/site/jacoco/jacoco.xml", "w").write("<report/>")
    with zipfile.ZipFile(f"target/orders-{{version}}.jar", "w") as jar:
        jar.writestr("__main__.py", {app!r})
        info = "target/classes/META-INF/build-info.properties"
        if os.path.exists(info):
            jar.write(info, "META-INF/build-info.properties")
else:
    sys.exit(f"fake mvn: unexpected {{args}}")
'''

FAKE_JAVA = '''#!{python}
import os, sys
if sys.argv[1:] == ["-version"]:
    print('openjdk version "17.0.9" 2023-10-17', file=sys.stderr)
    sys.exit(0)
os.execv(sys.executable, [sys.executable, sys.argv[2]])
'''

FAKE_FLUTTER = '''#!/bin/sh
case "$*" in
  "pub get") echo "Got dependencies" ;;
  "test --machine --coverage") echo '{"type":"done","success":true}' ;;
  "build web --release")
    mkdir -p build/web && echo '<!DOCTYPE html><title>shop-web</title>' > build/web/index.html &&
    echo 'console.log("main")' > build/web/main.dart.js ;;
  *) echo "fake flutter: unexpected $*" >&2; exit 1 ;;
esac
'''

FAKE_TOJUNIT = '''#!/bin/sh
mkdir -p build/reports && echo '<testsuite/>' > build/reports/TEST-flutter.xml
'''


class Builder:
    """A source tree, its rendered buildspec, and CodeBuild's phases run in one bash."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.src = tmp / "src"
        self.fakebin = tmp / "fakebin"
        self.fakebin.mkdir()
        self.state = tmp / "state"
        self.base = tmp / "opt"
        self.env = dict(os.environ, HDHOOKS_STATE_DIR=str(self.state),
                        HDHOOKS_DEBUG_LOG=str(tmp / "debug.log"),
                        HDHOOKS_METRICS_FILE=str(tmp / "metrics.log"),
                        PATH=f"{self.fakebin}{os.pathsep}{os.environ.get('PATH', '')}")
        self.env.pop("HDHOOKS", None)

    def tool(self, name: str, text: str) -> Path:
        path = self.fakebin / name
        path.write_text(text)
        path.chmod(0o755)
        return path

    def hdhooks(self, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HDHOOKS, *map(str, args)], env=self.env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def render(self, settings: str) -> dict:
        (self.tmp / "component.yml").write_text(settings)
        out = self.tmp / "buildspec.yml"
        done = self.hdhooks("buildspec", "render", self.tmp / "component.yml", "-o", out)
        assert done.returncode == 0, done.stderr
        return dict(yaml.safe_load(out.read_text()))

    def run_build(self, buildspec: dict, source_version: str = SOURCE_VERSION
                  ) -> subprocess.CompletedProcess[str]:
        """pre_build, build (then finally) and post_build, as CodeBuild runs them."""
        commands: list[str] = []
        for phase in ("pre_build", "build", "post_build"):
            body = buildspec["phases"].get(phase) or {}
            commands += body.get("commands") or []
            commands += body.get("finally") or []
        env = dict(self.env, CODEBUILD_BUILD_NUMBER=BUILD_NUMBER,
                   CODEBUILD_RESOLVED_SOURCE_VERSION=source_version,
                   CODEBUILD_BUILD_SUCCEEDING="1",
                   **{k: str(v) for k, v in buildspec["env"]["variables"].items()})
        return subprocess.run(["bash", "-e", "-c", "\n".join(commands)], cwd=self.src, env=env,
                              capture_output=True, text=True, timeout=120)

    def deploy(self, group: str, app: str) -> subprocess.CompletedProcess[str]:
        return self.hdhooks("local", "deploy", "-l", self.src / "bundle", "-d", group,
                            "-a", app, "--root", self.tmp / "root", timeout=180)

    def scripts_log(self, deploy: subprocess.CompletedProcess[str]) -> str:
        found = re.search(r"(\S+/d-[A-Z0-9]+-local)/logs/scripts\.log|Deployment d-\S+ in (\S+)",
                          deploy.stdout + deploy.stderr)
        assert found, deploy.stdout + deploy.stderr
        return (Path(found.group(1) or found.group(2)) / "logs" / "scripts.log").read_text()

    def cleanup(self) -> None:
        current = self.base / "current"
        if current.exists():
            subprocess.run([HDHOOKS, "hook", "ApplicationStop", "--bundle", str(current),
                            "--environment", "local"], env=self.env, capture_output=True,
                           timeout=60)
        for p in psutil.process_iter(["cmdline"]):
            if any(str(self.tmp) in part for part in (p.info["cmdline"] or [])):
                p.kill()


@pytest.fixture
def builder(tmp_path: Path) -> Iterator[Builder]:
    b = Builder(tmp_path)
    yield b
    b.cleanup()


JVM_OVERLAY = """
environment_from:
  deployment_groups: {{orders-local: local}}
environments:
  local:                          # this machine: no systemd, no service user
    service:
      backend: process
      command: [{java}, -jar, app.jar]
      user: null
      stop_timeout: 5
    releases: {{base_dir: {base}}}
    preflight: {{min_free_disk_mb: 10}}
    health: {{deadline: 8, interval: 0.2}}
"""


def test_a_maven_build_is_deployed_and_its_build_id_verified(builder: Builder) -> None:
    made = builder.hdhooks("init", builder.src, "--kind", "jvm", "--name", "orders",
                           "--port", str(builder.port))
    assert made.returncode == 0, made.stderr
    java = builder.tool("java", FAKE_JAVA.format(python=sys.executable))
    builder.tool("mvn", FAKE_MVN.format(python=sys.executable, app=APP))
    (builder.src / "pom.xml").write_text(
        "<project><artifactId>orders</artifactId><version>1.0.0-SNAPSHOT</version></project>\n")
    with open(builder.src / "deploy" / "hdhooks.yml", "a", encoding="utf-8") as fh:
        fh.write(JVM_OVERLAY.format(java=java, base=builder.base))
    buildspec = builder.render("name: orders\nkind: maven\nartifact: app.jar\n")

    built = builder.run_build(buildspec)
    assert built.returncode == 0, built.stdout + built.stderr
    bundle = builder.src / "bundle"
    assert (bundle / "deploy" / "build-id").read_text() == f"{BUILD_ID}\n"
    assert sorted(p.name for p in bundle.iterdir()) == ["app.jar", "appspec.yml", "deploy",
                                                         "hooks"]
    lint = builder.hdhooks("lint", "--strict", bundle)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    first = builder.deploy("orders-local", "orders")
    assert first.returncode == 0, first.stdout + first.stderr
    log = builder.scripts_log(first)
    assert f"healthy http://127.0.0.1:{builder.port}/actuator/health" in log
    assert "OK ValidateService orders in" in log

    # A bundle whose build id is not the one the jar was built with never passes.
    (bundle / "deploy" / "build-id").write_text("8-0123456789ab\n")
    stale = builder.deploy("orders-local", "orders")
    assert stale.returncode != 0
    log = builder.scripts_log(stale)
    assert ("FAILED ValidateService orders in" in log and
            f"http://127.0.0.1:{builder.port}/actuator/info: build.version is "
            f"'{BUILD_ID}', expected '8-0123456789ab'" in log), log


NGINX_CONF = """
user root;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr;
events {{ worker_connections 64; }}
http {{
    types {{ text/html html; application/javascript js; application/json json; }}
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/conf.d/*.conf;
}}
"""

WEB_OVERLAY = """
environment_from:
  deployment_groups: {{web-local: local}}
environments:
  local:                          # nginx under a test prefix, run as a plain process
    service:
      backend: process
      reload: false
      command: [{nginx}, -p, {prefix}, -e, stderr, -c, {prefix}/nginx.conf, -g, "daemon off;"]
      check_command: [{nginx}, -t, -q, -p, {prefix}, -e, stderr, -c, {prefix}/nginx.conf]
      stop_timeout: 5
    releases: {{base_dir: {base}}}
    preflight: {{min_free_disk_mb: 10}}
    health: {{deadline: 8, interval: 0.2}}
    templates:
      - template: deploy/nginx-site.conf.j2
        destination: {prefix}/conf.d/shop-web.conf
        mode: 0644
"""


def nginx_runs() -> None:
    if not os.access(NGINX, os.X_OK):
        pytest.skip(f"Debian's nginx is not unpacked at {NGINX} (scripts/test-setup.d/nginx.sh)")
    probe = subprocess.run([str(NGINX), "-v"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        pytest.skip(f"{NGINX} does not run here: {probe.stderr.decode(errors='replace')}")


def test_a_flutter_web_build_is_served_by_nginx_and_its_build_id_verified(
        builder: Builder) -> None:
    nginx_runs()
    made = builder.hdhooks("init", builder.src, "--kind", "flutter-web", "--name", "shop-web",
                           "--port", str(builder.port))
    assert made.returncode == 0, made.stderr
    builder.tool("flutter", FAKE_FLUTTER)
    builder.tool("tojunit", FAKE_TOJUNIT)
    prefix = builder.tmp / "nginx"
    for sub in ("conf.d", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir(parents=True)
    (prefix / "nginx.conf").write_text(NGINX_CONF.format(prefix=prefix))
    with open(builder.src / "deploy" / "hdhooks.yml", "a", encoding="utf-8") as fh:
        fh.write(WEB_OVERLAY.format(nginx=NGINX, prefix=prefix, base=builder.base))
    buildspec = builder.render('name: shop-web\nkind: flutter\nflutter_version: "3.24.3"\n')

    built = builder.run_build(buildspec)
    assert built.returncode == 0, built.stdout + built.stderr
    web = builder.src / "bundle" / "build" / "web"
    assert json.loads((web / "build-id.json").read_text()) == {"build_id": BUILD_ID}
    assert (builder.src / "bundle" / "deploy" / "build-id").read_text() == f"{BUILD_ID}\n"

    deployed = builder.deploy("web-local", "shop-web")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    log = builder.scripts_log(deployed)
    assert f"healthy http://127.0.0.1:{builder.port}/build-id.json" in log
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{builder.port}/build-id.json",
                                timeout=5) as answer:
        assert json.loads(answer.read()) == {"build_id": BUILD_ID}
        assert answer.headers["Cache-Control"] == "no-store"
    with urllib.request.urlopen(f"http://127.0.0.1:{builder.port}/some/route",
                                timeout=5) as page:  # the SPA fallback
        assert b"<title>shop-web</title>" in page.read()
