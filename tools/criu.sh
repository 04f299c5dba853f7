#!/bin/sh
# A CRIU that works on this kernel, for the checkpoint/restore tests. Debian 12's criu 3.17 fails
# `criu check` on recent kernels (vdso layout); when it does, build a pinned CRIU 4.1.1 (the
# upstream tarball of Debian trixie's source package, from the Debian archive this machine's apt
# uses, checksum verified) into build/criu/criu. tools/test.sh puts it first on PATH.
# Never fatal: without a working CRIU the round-trip tests skip, printing CRIU's reason.
set -u
cd "$(dirname "$0")/.."
VERSION=4.1.1
SHA256=f80a66cb3726bb2116266d4759ce3bcbfab7abdb6b6d430bf20dd41911717afe
TARBALL=criu_$VERSION.orig.tar.xz
OUT=build/criu
if command -v criu >/dev/null 2>&1 && criu check >/dev/null 2>&1; then
    echo "criu: $(command -v criu) works here"; exit 0
fi
if [ -x "$OUT/criu" ] && "$OUT/criu" check >/dev/null 2>&1; then
    echo "criu: $OUT/criu ($VERSION) works here"; exit 0
fi
set -e
PKGS="build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev protobuf-compiler
      python3-protobuf libnl-3-dev libnet1-dev libcap-dev libaio-dev libbsd-dev libgnutls28-dev uuid-dev
      libnftables-dev curl xz-utils"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
src=build/criu-src
mkdir -p "$src" "$OUT"
if [ ! -f "$src/$TARBALL" ]; then
    # the Debian archive apt is configured with (deb822 "URIs:" or a one-line "deb" entry)
    mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}')
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    [ -n "$mirror" ] || { echo "criu: no Debian archive in apt's sources"; exit 1; }
    curl -fsS -o "$src/$TARBALL.part" "${mirror%/}/pool/main/c/criu/$TARBALL"
    mv "$src/$TARBALL.part" "$src/$TARBALL"
fi
echo "$SHA256  $src/$TARBALL" | sha256sum -c --quiet
rm -rf "$src/criu-$VERSION"
tar -C "$src" -xf "$src/$TARBALL"
make -s -C "$src/criu-$VERSION" -j"$(nproc)" criu >"$src/build.log" 2>&1 || { tail -20 "$src/build.log"; exit 1; }
install -m 0755 "$src/criu-$VERSION/criu/criu" "$OUT/criu"
if "$OUT/criu" check >/dev/null 2>&1; then
    echo "criu: built $OUT/criu ($VERSION); criu check passes"
else
    echo "criu: built $OUT/criu ($VERSION), but criu check fails here:"; "$OUT/criu" check 2>&1 | tail -3
fi
