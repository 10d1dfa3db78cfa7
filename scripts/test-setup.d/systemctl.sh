#!/usr/bin/env bash
# Debian's daemonless systemctl (package "systemctl"), unpacked into
# .cache/systemctl/ for the service tests. It is never installed: the package
# conflicts with systemd. The tests run it with --root on a temporary tree.
# Idempotent: does nothing when the binary is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=.cache/systemctl
bin=$dest/usr/bin/systemctl
if [ -x "$bin" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
    echo "systemctl.sh: apt-get/dpkg not found; the systemd backend tests will be skipped" >&2
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get download -q systemctl >/dev/null 2>&1); then
    # The package lists may be missing or stale on a fresh machine.
    apt-get update -q >/dev/null
    (cd "$work" && apt-get download -q systemctl)
fi
mkdir -p "$dest"
dpkg -x "$work"/systemctl_*.deb "$dest"
test -x "$bin"
echo "systemctl.sh: daemonless systemctl unpacked into $dest"
