#!/bin/sh
# Build railcar in place: the extension next to its sources and the launcher at bin/railcar.
#   ./build.sh            ordinary build (-O2 -g)
#   ./build.sh --release  optimized build
#   TARGET=x86_64-unknown-linux-musl ./build.sh [--release]   one static binary (see README)
# Uses $PYTHON, default /usr/bin/python3 (Debian's: fastest start), with a private
# virtualenv in .venv for the libraries.
set -eu
cd "$(dirname "$0")"
for a in "$@"; do
    case "$a" in
        --release) export RAILCAR_RELEASE=1 ;;
        *) echo "usage: $0 [--release]" >&2; exit 2 ;;
    esac
done
if [ -n "${TARGET:-}" ] && [ "${TARGET}" != "x86_64-unknown-linux-gnu" ]; then
    exec ./build-static.sh "$@"
fi
PYTHON=${PYTHON:-/usr/bin/python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c 'import Cython, docopt, orjson, pyseccomp, setuptools' 2>/dev/null; then
    .venv/bin/pip install -q -r requirements-dev.txt
fi
PYVER=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
RAILCAR_LAUNCHER_OUT="$PWD/bin/railcar" \
RAILCAR_PKGPATHS="..:../.venv/lib/python$PYVER/site-packages" \
    .venv/bin/python setup.py -q build_ext --inplace
echo "built: bin/railcar ($(bin/railcar --version | head -1))"
