#!/bin/sh
# Install the build and test dependencies (Debian packages and a private .venv) and build.
set -eu
cd "$(dirname "$0")/.."
PKGS="busybox-static python3-dev python3-venv libpython3.11-dev libexpat1-dev zlib1g-dev libseccomp-dev
      musl-tools gcc make runc crun iproute2 procps file uidmap"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
./build.sh
# the CRI client of tests/clients/test_cri.py, also in a .venv made before it needed them
.venv/bin/python -c 'import grpc, grpc_tools, google.protobuf' 2>/dev/null \
    || .venv/bin/pip install -q -r requirements-dev.txt
