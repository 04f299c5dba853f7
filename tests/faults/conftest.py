"""pytest wiring for the fault suite: one Suite per runtime under test.

railcar (tests/conftest.py's runtime: bin/railcar or $RAILCAR_TEST_RUNTIME) always; runc too with
RAILCAR_FAULT_RUNC=1. N = $RAILCAR_FAULT_N (default 16, to stay within CI's budget); the seed is
$RAILCAR_FAULT_SEED or a fresh one, printed in the summary and in every failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import RUNTIME
from tests.faults.harness import Suite, default_seed, env_int, problem_report, summary_table

SEED = default_seed()
N = env_int("RAILCAR_FAULT_N", 16)
SUITES: dict[str, Suite] = {}


def runtimes() -> list[tuple[str, str]]:
    found = [(Path(RUNTIME).name, RUNTIME)]
    if os.environ.get("RAILCAR_FAULT_RUNC") == "1" and found[0][0] != "runc":
        found.append(("runc", shutil.which("runc") or "/usr/sbin/runc"))
    return found


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: the fault suite (tests/faults)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session", params=runtimes(), ids=lambda r: r[0])
def fault_suite(request: pytest.FixtureRequest, base_rootfs: Path, session_dir: Path) -> Suite:
    label, binary = request.param
    if os.geteuid() != 0:
        pytest.skip("the fault suite runs containers: it needs root")
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{label}: {binary} is not executable")
    if label not in SUITES:
        SUITES[label] = Suite(label, binary, base_rootfs, session_dir, SEED, N)
    return SUITES[label]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    outcomes = [o for s in SUITES.values() for o in s.outcomes]
    if not outcomes:
        return
    tr = terminalreporter
    tr.section("fault suite")
    tr.write_line(f"seed {SEED} (RAILCAR_FAULT_SEED={SEED} repeats it), N {N} (RAILCAR_FAULT_N)")
    tr.write_line(summary_table(outcomes, list(SUITES)))
    report = problem_report(outcomes, per_group=2)
    if report:
        tr.write_line("")
        tr.write_line(report)
