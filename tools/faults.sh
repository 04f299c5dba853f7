#!/bin/sh
# The fault suite (issue 20), full version, as root: every case against railcar and then runc,
# N=100 SIGKILLs per verb, a summary table (cases, leaks, crashes, failures per runtime) and every
# problem found. Arguments go to `python -m tests.faults` (--help); environment: RAILCAR_FAULT_SEED,
# RAILCAR_FAULT_N, RAILCAR_FAULT_RUNTIMES (e.g. railcar), RAILCAR_FAULT_BINARY.
# The small version runs with the test suite: .venv/bin/python -m pytest tests/faults
set -eu
cd "$(dirname "$0")/.."
if [ ! -x bin/railcar ] || [ ! -x .venv/bin/python ]; then
    echo "faults.sh: build first (./tools/setup.sh or ./build.sh)" >&2
    exit 2
fi
exec .venv/bin/python -m tests.faults "$@"
