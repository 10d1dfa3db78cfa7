#!/usr/bin/env bash
# The demo: real local deployments of the example component, hello-service.
#
#   v1  deployed, started, healthy
#   v2  deployed: v1 stopped gracefully, v2 started and validated
#   v3  a broken build (its health endpoint answers 500): ValidateService fails
#   rollback to v2, restarted and validated
#
# Everything lives under /tmp/hdhooks-demo-<uid> (the example's `demo`
# environment says /tmp/hdhooks-demo; the demo's "build" stamps each bundle with
# its build id and this user's directory); the service runs as a plain process
# on port 18080 and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD
DEMO=${HDHOOKS_DEMO_DIR:-/tmp/hdhooks-demo-$(id -u)}
export HDHOOKS="$ROOT_DIR/.venv/bin/hdhooks"       # what the shims run
export HDHOOKS_STATE_DIR="$DEMO/state"
PY="$ROOT_DIR/.venv/bin/python"

banner() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ask() {  # what the running service answers, as a user would see it
    "$PY" - <<'PYEOF'
import json, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:18080/health", timeout=2) as r:
        print("   service answers:", r.status, json.loads(r.read()))
except Exception as exc:  # the demo only reports what it sees
    print("   service answers:", exc)
PYEOF
}
stop_leftovers() {
    if [ -L "$DEMO/hello-service/current" ]; then
        "$HDHOOKS" hook ApplicationStop --bundle "$DEMO/hello-service/current" \
            --environment demo >/dev/null 2>&1 || true
    fi
}

stop_leftovers
rm -rf "$DEMO"
mkdir -p "$DEMO/bundles"

banner "hdhooks $("$HDHOOKS" --version | cut -d' ' -f2): checking the example bundle"
"$HDHOOKS" appspec validate examples/hello-service

# Three builds of the component, as CodeBuild would make them: the bundle
# plus deploy/build-id. v3 is broken: its health endpoint answers 500.
for v in 1 2 3; do
    b="$DEMO/bundles/v$v"
    cp -r examples/hello-service "$b"
    echo "hello-1.$((v - 1)).0" > "$b/deploy/build-id"
    sed -i "s|base_dir: /tmp/hdhooks-demo/hello-service|base_dir: $DEMO/hello-service|" \
        "$b/deploy/hdhooks.yml"
done
sed -i 's/HELLO_BOOT_DELAY: "1"/HELLO_BOOT_DELAY: "1"\n        HELLO_UNHEALTHY: "1"/; s/deadline: 60/deadline: 5/' \
    "$DEMO/bundles/v3/deploy/hdhooks.yml"

deploy() {
    "$HDHOOKS" local deploy --bundle-location "$DEMO/bundles/$1" \
        --deployment-group-name hello-demo --application-name hello-service \
        --root "$DEMO/deployment-root"
}

banner "v1: first deployment"
deploy v1
ask

banner "v2: v1 is stopped gracefully, v2 started and validated"
deploy v2
ask

banner "v3: a broken build: ValidateService must fail, with the reason"
if deploy v3; then
    echo "v3 should have failed" >&2
    exit 1
fi
ask

banner "rollback: back to the previous release (v2)"
"$HDHOOKS" rollback hello-service
ask

banner "releases on this machine"
ls -l "$DEMO/hello-service/releases" | tail -n +2
echo "current -> $(readlink "$DEMO/hello-service/current")"

banner "stopping the demo service"
stop_leftovers
echo "logs: $DEMO/deployment-root/deployment-logs, $HDHOOKS_STATE_DIR/log"
