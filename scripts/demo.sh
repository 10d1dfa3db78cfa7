#!/usr/bin/env bash
# The demo: a real local deployment of the example component.
set -euo pipefail
cd "$(dirname "$0")/.."
HDHOOKS=.venv/bin/hdhooks
"$HDHOOKS" --version
"$HDHOOKS" appspec validate examples/hello-service
