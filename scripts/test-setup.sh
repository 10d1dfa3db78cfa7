#!/usr/bin/env bash
# Installs what the test suite needs beyond Python packages. Each concern has
# its own script in scripts/test-setup.d/; they are idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
for s in scripts/test-setup.d/*.sh; do
    [ -e "$s" ] || continue
    bash "$s"
done
