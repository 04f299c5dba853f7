#!/bin/sh
# The whole test suite, as root: unit tests and real containers.
set -eu
cd "$(dirname "$0")/.."
./tools/setup.sh
# a CRIU that works on this kernel for the checkpoint/restore round trips (they skip without one)
./tools/criu.sh || echo "criu: no working CRIU; the checkpoint/restore round trips will skip"
[ -x build/criu/criu ] && PATH="$PWD/build/criu:$PATH" && export PATH
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
