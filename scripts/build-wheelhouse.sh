#!/usr/bin/env bash
# Builds the offline wheelhouse an image installs hdhooks from (scripts/bake-ami.sh).
#
#   scripts/build-wheelhouse.sh [--python PY] [--out DIR] [--arch x86_64|aarch64]... [WHEEL]
#
# For each architecture, DIR/wheelhouse-cp311-ARCH/ holds the hdhooks wheel
# (WHEEL, or one built from this source tree), every runtime dependency as a
# CPython 3.11 manylinux wheel for that architecture (PyYAML, MarkupSafe and
# psutil have C code, so Graviton needs its own), bake-ami.sh with the
# reconcile units (so one archive is the whole bake kit), and SHA256SUMS of
# all of them, which the bake checks before it installs anything. DIR/...-ARCH.tar.gz is the same,
# for an S3 bucket. Needs the network (an index); the bake does not.
set -euo pipefail
umask 022
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(dirname "$HERE")
PY=${PYTHON:-python3}
OUT=dist
ARCHES=()
WHEEL=
die() { echo "build-wheelhouse: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --python) PY=${2:?--python needs a command}; shift 2 ;;
        --out) OUT=${2:?--out needs a directory}; shift 2 ;;
        --arch) ARCHES+=("${2:?--arch needs x86_64 or aarch64}"); shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) WHEEL=$1; shift ;;
    esac
done
[ ${#ARCHES[@]} -gt 0 ] || ARCHES=(x86_64 aarch64)
for arch in "${ARCHES[@]}"; do
    case $arch in x86_64|aarch64) ;; *) die "architecture $arch is not x86_64 or aarch64" ;; esac
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PIP=("$PY" -m pip --disable-pip-version-check -q)

if [ -z "$WHEEL" ]; then
    build=$(mktemp -d)
    trap 'rm -rf "$build"' EXIT
    "${PIP[@]}" wheel --no-deps -w "$build" "$SRC"
    WHEEL=$(ls "$build"/hdhooks-*.whl)
fi
[ -f "$WHEEL" ] || die "no wheel at $WHEEL"
case $(basename "$WHEEL") in hdhooks-*-py3-none-any.whl) ;; *) die "$WHEEL is not an hdhooks wheel" ;; esac

for arch in "${ARCHES[@]}"; do
    name=wheelhouse-cp311-$arch
    dir=$OUT/$name
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$WHEEL" "$dir/"
    # The hdhooks wheel is pure Python, so pip resolves its dependencies for
    # the target platform, not for the machine that builds.
    "${PIP[@]}" download -d "$dir" --only-binary=:all: --implementation cp \
        --python-version 3.11 --platform "manylinux2014_$arch" \
        --platform "manylinux_2_28_$arch" "$dir/$(basename "$WHEEL")"
    for kit in bake-ami.sh hdhooks-reconcile.service hdhooks-reconcile.timer; do
        [ ! -f "$HERE/$kit" ] || cp "$HERE/$kit" "$dir/"
    done
    (cd "$dir" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | LC_ALL=C sort |
        xargs sha256sum -- > SHA256SUMS)
    tar -czf "$OUT/$name.tar.gz" -C "$OUT" "$name"
    echo "build-wheelhouse: $dir ($(ls "$dir"/*.whl | wc -l) wheels, SHA256SUMS)"
done
