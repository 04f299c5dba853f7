"""The fault suite under pytest: one test per unit (tests/faults/cases.py) and runtime.

A test fails when any of its cases leaked (a process, mount, cgroup dir, state entry or `list`
entry left after the case's last step), crashed (exit code outside the command's contract, a
signal, a traceback or "internal error"), or behaved wrongly (a wrong exit code, an unclear
error, a hurt bystander); the message lists every such case with the seed that repeats it.
"""

from __future__ import annotations

import re

import pytest

from tests.faults.cases import UNITS, Unit
from tests.faults.harness import Suite, problem_report


def _test_id(u: Unit) -> str:
    return re.sub(r"[^A-Za-z0-9_.=/-]+", "_", f"{u.group}:{u.name}").strip("_")[:90]


@pytest.mark.parametrize("unit", UNITS, ids=[_test_id(u) for u in UNITS])
def test_fault(fault_suite: Suite, unit: Unit) -> None:
    first = len(fault_suite.outcomes)
    unit.run(fault_suite)
    outcomes = fault_suite.outcomes[first:]
    assert outcomes, f"{unit.id} ran no case"
    if all(o.skipped for o in outcomes):
        pytest.skip("; ".join(sorted({str(o.skipped) for o in outcomes})))
    bad = [o for o in outcomes if not o.clean]
    if bad:
        head = (
            f"{len(bad)} of {len(outcomes)} cases of {unit.id!r} on {fault_suite.label} had problems "
            f"(RAILCAR_FAULT_SEED={fault_suite.seed} RAILCAR_FAULT_N={fault_suite.n} repeats this run)"
        )
        pytest.fail(head + "\n" + problem_report(bad, per_group=len(bad)), pytrace=False)
