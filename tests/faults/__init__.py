"""Fault suite (issue 20): SIGKILLs at random points, races, full disks, forged state, hooks that
hang, escape attempts; after every case the host is checked for what the case left behind.

Run it:
    .venv/bin/python -m pytest tests/faults          # small N, railcar only (what CI runs)
    ./tools/faults.sh                                 # full: N=100, railcar and runc, summary table
    python -m tests.faults --help

Settings (environment): RAILCAR_FAULT_SEED (the seed, printed on every run), RAILCAR_FAULT_N
(kills per verb; default 16 under pytest, 100 in the runner), RAILCAR_FAULT_RUNC=1 (pytest also
runs every case against runc), RAILCAR_FAULT_BINARY (the railcar under test).

Layout: harness.py (one case's runtime, calls, leak scans, cleanup; the summary table), cases.py
(the cases, runtime-agnostic), test_faults.py (pytest wrappers), __main__.py (the runner).
"""
