#!/usr/bin/env bash
# Debian's nginx (package "nginx"), unpacked into .cache/nginx/ for the tests
# that serve a Flutter web bundle. It is never installed: installing would
# start a system nginx on port 80. The tests run the binary with their own
# prefix, config and a free high port. Idempotent; when it cannot be fetched
# or does not run here, the nginx tests are skipped with the reason.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=.cache/nginx
bin=$dest/usr/sbin/nginx
if [ -x "$bin" ] && "$bin" -v >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
    echo "nginx.sh: apt-get/dpkg not found; the nginx tests will be skipped" >&2
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get download -q nginx >/dev/null 2>&1); then
    apt-get update -q >/dev/null || true
    if ! (cd "$work" && apt-get download -q nginx >/dev/null 2>&1); then
        echo "nginx.sh: could not download Debian's nginx; the nginx tests will be skipped" >&2
        exit 0
    fi
fi
mkdir -p "$dest"
dpkg -x "$work"/nginx_*.deb "$dest"
if ! "$bin" -v >/dev/null 2>&1; then
    echo "nginx.sh: $bin does not run on this machine (missing libraries?); the nginx tests" \
         "will be skipped" >&2
    exit 0
fi
echo "nginx.sh: Debian's nginx unpacked into $dest"
