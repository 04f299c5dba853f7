#!/bin/sh
# The whole test suite, as root: unit tests and real containers.
set -eu
cd "$(dirname "$0")/.."
./tools/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
