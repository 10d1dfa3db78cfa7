#!/bin/sh
h=${HDHOOKS:-$(command -v hdhooks || echo /opt/hdhooks/venv/bin/hdhooks)}; [ -f "$h" ] && [ -x "$h" ] || { printf 'hdhooks: cannot run %s (looked at $HDHOOKS, PATH, /opt/hdhooks/venv/bin/hdhooks): install it there with scripts/bake-ami.sh, or set HDHOOKS to its path\n' "$h" >&2; exit 127; }
exec "$h" hook --bundle "${0%/*}/.."
# hdhooks shim: all logic lives in the installed hdhooks package (see README).
# Line 2 finds it: $HDHOOKS, else the hdhooks on PATH, else the AMI's venv.
