#!/bin/sh
# Install the build and test dependencies (Debian packages and a private .venv) and build.
set -eu
cd "$(dirname "$0")/.."
PKGS="busybox-static python3-dev python3-venv libpython3.11-dev libexpat1-dev zlib1g-dev libseccomp-dev
      musl-tools gcc make runc crun iproute2 procps file"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
./build.sh
