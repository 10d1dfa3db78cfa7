#!/usr/bin/env bash
# setfacl/getfacl (Debian package "acl") for the local deploy tests of the
# appspec "acls" permission. Installed only when running as root and missing;
# otherwise the ACL tests are skipped with a reason. Idempotent.
set -euo pipefail
if command -v setfacl >/dev/null && command -v getfacl >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "acl.sh: setfacl not installed and cannot install it; ACL tests will be skipped" >&2
    exit 0
fi
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q acl >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q acl >/dev/null
fi
command -v setfacl >/dev/null
echo "acl.sh: installed setfacl (package acl)"
