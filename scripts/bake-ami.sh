#!/usr/bin/env bash
# Installs hdhooks on an Amazon Linux 2023 image while the AMI is baked.
#
# AL2023's system Python is 3.9; hdhooks needs 3.10+, so it lives in its own
# virtual environment on the distribution's python3.11 package and never in
# the system Python. The CodeDeploy shims find it through /usr/local/bin.
#
#   sudo bash scripts/bake-ami.sh [PIP-SPEC]     # default: hdhooks from the index
#   sudo bash scripts/bake-ami.sh ./dist/hdhooks-0.1.0-py3-none-any.whl
#
# Optional, for what deploy/hdhooks.yml expects on the instance:
#   HDHOOKS_ENVIRONMENT=prod        written to /etc/hdhooks/environment (the tag file)
#   HDHOOKS_SERVICE_USERS="api web" system users (no login, no home) the services run as
# Safe to run again: existing users and an existing tag file are kept.
set -euo pipefail
SPEC=${1:-hdhooks}
PREFIX=${HDHOOKS_PREFIX:-/opt/hdhooks}

if ! command -v python3.11 >/dev/null 2>&1; then
    if command -v dnf >/dev/null 2>&1; then
        dnf install -y python3.11 python3.11-pip
    else
        echo "bake-ami: python3.11 is missing and dnf is not available" >&2
        exit 2
    fi
fi
python3.11 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
"$PREFIX/venv/bin/python" -m pip install --disable-pip-version-check -q "$SPEC"
ln -sfn "$PREFIX/venv/bin/hdhooks" /usr/local/bin/hdhooks
install -d -m 0755 /var/lib/hdhooks /etc/hdhooks /var/log/hdhooks
if [ -n "${HDHOOKS_ENVIRONMENT:-}" ] && [ ! -s /etc/hdhooks/environment ]; then
    printf '%s\n' "$HDHOOKS_ENVIRONMENT" > /etc/hdhooks/environment
    chmod 0644 /etc/hdhooks/environment
fi
for user in ${HDHOOKS_SERVICE_USERS:-}; do
    if ! id -u "$user" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /sbin/nologin --user-group "$user"
    fi
done
/usr/local/bin/hdhooks --version
