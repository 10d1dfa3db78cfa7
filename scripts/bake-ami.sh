#!/usr/bin/env bash
# Installs hdhooks into an Amazon Linux 2023 image while the AMI is baked, offline.
#
#   sudo bash scripts/bake-ami.sh --wheelhouse DIR [options]
#   sudo bash wheelhouse-cp311-x86_64/bake-ami.sh [options]   # from the unpacked archive
#
#   --wheelhouse DIR      a wheelhouse from `make wheelhouse` (its SHA256SUMS is
#                         checked first); default: this script's directory when
#                         it is one (the unpacked archive), else
#                         ../dist/wheelhouse-cp311-$(uname -m)
#   --python CMD          the interpreter of the venv (default python3.11; 3.10+)
#   --environment ENV     written to /etc/hdhooks/environment (kept if present);
#                         also names the log groups (default: that file, else "default")
#   --component NAME      a component whose service log is shipped (repeatable)
#   --log-group-prefix P  log groups are P/ENV/... (default /hdhooks)
#   --service-user NAME   a system user (no login, no home) to create (repeatable)
#   --prefix DIR          where the venv goes (default ROOT/opt/hdhooks)
#   --root DIR            install under DIR instead of / (tests, chroots)
#
# What it does: checks the wheelhouse against SHA256SUMS; makes PREFIX/venv on
# python3.11 (AL2023's python3 is 3.9) and installs hdhooks into it with
# pip's network off (--no-index); links ROOT/usr/local/bin/hdhooks; creates
# /etc/hdhooks, /var/lib/hdhooks and /var/log/hdhooks (root, 0755, whatever
# the umask); installs and enables the reconcile service and timer; writes the
# CloudWatch agent fragment that ships /var/log/hdhooks/metrics.log (EMF), the
# CodeDeploy agent's logs, scripts.log and the services' logs; ends with
# `hdhooks doctor --bake`. Running it again changes nothing that is in place.
# Exit 2 for bad usage or a bad environment, 1 when a step or the doctor fails.
set -euo pipefail
umask 022
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "bake-ami: error: $*" >&2; exit 2; }
note() { echo "bake-ami: $*"; }
NAME_RE='^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'

ROOT=/ PREFIX= WHEELHOUSE= PY=python3.11 ENVIRONMENT=${HDHOOKS_ENVIRONMENT:-}
LOG_PREFIX=/hdhooks COMPONENTS=() USERS=(${HDHOOKS_SERVICE_USERS:-})
while [ $# -gt 0 ]; do
    case $1 in
        --wheelhouse|--python|--environment|--component|--log-group-prefix|--service-user|--prefix|--root)
            [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)" ;;&
        --wheelhouse) WHEELHOUSE=$2; shift 2 ;;
        --python) PY=$2; shift 2 ;;
        --environment) ENVIRONMENT=$2; shift 2 ;;
        --component) COMPONENTS+=("$2"); shift 2 ;;
        --log-group-prefix) LOG_PREFIX=$2; shift 2 ;;
        --service-user) USERS+=("$2"); shift 2 ;;
        --prefix) PREFIX=$2; shift 2 ;;
        --root) ROOT=$2; shift 2 ;;
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

# --- check everything before the first change ---------------------------------
[ -d "$ROOT" ] || die "--root $ROOT is not a directory"
ROOT=$(cd "$ROOT" && pwd -P)
at() { if [ "$ROOT" = / ]; then echo "$1"; else echo "$ROOT$1"; fi; }
PREFIX=${PREFIX:-$(at /opt/hdhooks)}
case $PREFIX in /*) ;; *) die "--prefix must be an absolute path, not $PREFIX" ;; esac
VENV=$PREFIX/venv

if [ -z "$WHEELHOUSE" ] && [ -f "$HERE/SHA256SUMS" ]; then
    WHEELHOUSE=$HERE
elif [ -z "$WHEELHOUSE" ]; then
    WHEELHOUSE=$(dirname "$HERE")/dist/wheelhouse-cp311-$(uname -m)
    [ -d "$WHEELHOUSE" ] || die "no wheelhouse: pass --wheelhouse DIR (make wheelhouse builds one)"
fi
[ -f "$WHEELHOUSE/SHA256SUMS" ] || die "$WHEELHOUSE has no SHA256SUMS: not a wheelhouse from make wheelhouse"
WHEELHOUSE=$(cd "$WHEELHOUSE" && pwd -P)

if ! command -v "$PY" >/dev/null 2>&1 && [ "$PY" = python3.11 ] && [ "$ROOT" = / ] &&
    command -v dnf >/dev/null 2>&1; then
    dnf install -y -q python3.11 python3.11-pip >&2 || die "dnf could not install python3.11"
fi
command -v "$PY" >/dev/null 2>&1 || die "$PY not found: install it (dnf install -y python3.11 python3.11-pip) or pass --python"
PYVER=$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])') || die "$PY does not run"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "$PY is Python $PYVER; hdhooks needs 3.10 or newer (AL2023: dnf install -y python3.11, then --python python3.11)"

for name in ${ENVIRONMENT:+"$ENVIRONMENT"} ${COMPONENTS[@]+"${COMPONENTS[@]}"} ${USERS[@]+"${USERS[@]}"}; do
    [[ $name =~ $NAME_RE ]] || die "'$name' is not a usable name (letters, digits, . _ -, at most 64)"
done
[[ $LOG_PREFIX =~ ^/[A-Za-z0-9_./-]{1,200}$ ]] || die "--log-group-prefix must look like /hdhooks"
if [ ${#USERS[@]} -gt 0 ] && [ "$ROOT" != / ]; then
    die "--service-user creates users on this machine; it cannot be combined with --root"
fi

# Every wheel must be listed, and every listed file must match its digest.
listed=$(awk '$2 ~ /\.whl$/ {print $2}' "$WHEELHOUSE/SHA256SUMS" | LC_ALL=C sort)
present=$(cd "$WHEELHOUSE" && shopt -s nullglob && for f in *.whl; do echo "$f"; done | LC_ALL=C sort)
[ "$listed" = "$present" ] || die "$WHEELHOUSE: the wheels do not match SHA256SUMS (added or missing files)"
WHEEL=$(cd "$WHEELHOUSE" && shopt -s nullglob && for f in hdhooks-*-py3-none-any.whl; do echo "$f"; done | head -n 1)
[ -n "$WHEEL" ] || die "$WHEELHOUSE holds no hdhooks wheel"
if ! checked=$(cd "$WHEELHOUSE" && sha256sum --strict -c SHA256SUMS 2>&1); then
    bad=$(printf '%s\n' "$checked" | grep -v ': OK$' | head -n 1)
    die "$WHEELHOUSE: a file does not match its SHA-256 in SHA256SUMS (${bad:-unreadable})"
fi

refuse_link() { [ ! -L "$1" ] || die "$1 is a symbolic link; refusing to follow it"; }
for p in "$PREFIX" "$VENV" "$(at /etc/hdhooks)" "$(at /var/lib/hdhooks)" "$(at /var/log/hdhooks)"; do
    refuse_link "$p"
done

# --- the venv and hdhooks ----------------------------------------------------
if [ ! -x "$VENV/bin/python" ] || [ "$("$VENV/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)" != "$PYVER" ]; then
    install -d -m 0755 "$PREFIX"
    "$PY" -m venv --clear "$VENV"
    note "created $VENV (Python $PYVER)"
fi
# Only the wheelhouse: no index, no find-links or constraints from this
# machine's pip configuration.
for var in $(compgen -e | grep '^PIP_' || true); do unset "$var"; done
PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 "$VENV/bin/python" -m pip install -q \
    --disable-pip-version-check --no-index --no-cache-dir --find-links "$WHEELHOUSE" \
    "$WHEELHOUSE/$WHEEL"
HDHOOKS=$VENV/bin/hdhooks
install -d -m 0755 "$(at /usr/local/bin)"
ln -sfn "$HDHOOKS" "$(at /usr/local/bin)/hdhooks"
note "$("$HDHOOKS" --version) in $VENV, linked from /usr/local/bin/hdhooks"

# --- state directories -------------------------------------------------------
for dir in /etc/hdhooks /var/lib/hdhooks /var/log/hdhooks; do
    install -d -m 0755 "$(at "$dir")"
    chmod 0755 "$(at "$dir")"
    [ "$(id -u)" != 0 ] || chown root:root "$(at "$dir")"
done
tag=$(at /etc/hdhooks/environment)
if [ -n "$ENVIRONMENT" ] && [ ! -s "$tag" ]; then
    refuse_link "$tag"
    printf '%s\n' "$ENVIRONMENT" > "$tag.tmp"
    chmod 0644 "$tag.tmp"
    mv -f "$tag.tmp" "$tag"
fi
[ -n "$ENVIRONMENT" ] || { [ ! -s "$tag" ] || ENVIRONMENT=$(head -n 1 "$tag"); }
[[ ${ENVIRONMENT:-default} =~ $NAME_RE ]] || die "$tag holds an unusable environment name"
for user in ${USERS[@]+"${USERS[@]}"}; do
    id -u "$user" >/dev/null 2>&1 ||
        useradd --system --no-create-home --shell /sbin/nologin --user-group "$user"
done

# --- the reconcile units -----------------------------------------------------
units=$(at /etc/systemd/system)
install -d -m 0755 "$units" "$units/timers.target.wants"
for unit in hdhooks-reconcile.service hdhooks-reconcile.timer; do
    if [ -f "$HERE/$unit" ]; then
        install -m 0644 "$HERE/$unit" "$units/$unit"
    else
        note "$unit is not shipped next to this script; not installed"
    fi
done
if [ -f "$units/hdhooks-reconcile.timer" ]; then
    # What `systemctl enable` does, without needing a running systemd.
    ln -sfn /etc/systemd/system/hdhooks-reconcile.timer "$units/timers.target.wants/hdhooks-reconcile.timer"
fi

# --- the CloudWatch agent fragment --------------------------------------------
cwdir=$(at /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d)
install -d -m 0755 "$cwdir"
"$VENV/bin/python" - "$cwdir/hdhooks.json" "$LOG_PREFIX/${ENVIRONMENT:-default}" \
    ${COMPONENTS[@]+"${COMPONENTS[@]}"} <<'PY'
import json, os, sys

path, group, components = sys.argv[1], sys.argv[2], sys.argv[3:]
deployment_root = "/opt/codedeploy-agent/deployment-root"


def entry(file_path, name):
    return {"file_path": file_path, "log_group_name": f"{group}/{name}",
            "log_stream_name": "{instance_id}", "retention_in_days": 30}


collect = [
    # Pure EMF JSON lines: CloudWatch Logs turns each into metrics.
    entry("/var/log/hdhooks/metrics.log", "metrics"),
    entry("/var/log/aws/codedeploy-agent/codedeploy-agent.log", "codedeploy-agent"),
    entry(f"{deployment_root}/deployment-logs/codedeploy-agent-deployments.log",
          "codedeploy-deployments"),
    entry(f"{deployment_root}/*/*/logs/scripts.log", "scripts"),
    *(entry(f"/var/log/hdhooks/{name}.log", name) for name in components),
]
doc = {"logs": {"metrics_collected": {"emf": {}},
                "logs_collected": {"files": {"collect_list": collect}}}}
text = json.dumps(doc, indent=2) + "\n"
try:
    with open(path, encoding="utf-8") as fh:
        same = fh.read() == text
except OSError:
    same = False
if not same:
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)
PY
note "CloudWatch agent fragment: $cwdir/hdhooks.json (log groups $LOG_PREFIX/${ENVIRONMENT:-default}/...)"

# --- the verdict -------------------------------------------------------------
"$HDHOOKS" doctor --bake --root "$ROOT"
