#!/bin/sh
# Make an example bundle (a busybox rootfs from the host's busybox-static and
# the default spec from `railcar spec`), then run a container from it.
#   tools/example.sh [DIR]   (default: ./example)
set -eu
cd "$(dirname "$0")/.."
./tools/setup.sh
DIR=${1:-example}
RAILCAR=${RAILCAR:-$PWD/bin/railcar}
rm -rf "$DIR"
mkdir -p "$DIR/rootfs/bin" "$DIR/rootfs/proc" "$DIR/rootfs/sys" "$DIR/rootfs/dev" "$DIR/rootfs/tmp" "$DIR/rootfs/etc"
cp /bin/busybox "$DIR/rootfs/bin/busybox"
for a in $("$DIR/rootfs/bin/busybox" --list); do
    [ "$a" = busybox ] || ln -s busybox "$DIR/rootfs/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$DIR/rootfs/etc/passwd"
printf 'root:x:0:\n' > "$DIR/rootfs/etc/group"
(cd "$DIR" && "$RAILCAR" spec)
# not a terminal, and a greeting instead of a shell
.venv/bin/python - "$DIR/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", 'echo "Hello from a railcar container: $(hostname), pid $$, $(id -un)"']
json.dump(c, open(p, "w"), indent=2)
PY
cd "$DIR" && exec "$RAILCAR" --root "${RAILCAR_ROOT:-/run/railcar}" run "example-$$"
