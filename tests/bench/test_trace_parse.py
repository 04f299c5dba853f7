"""bench/railbench/trace.py: railcar's --trace-startup output into phases and the own-work sum."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from railbench import trace  # noqa: E402

DOCKER_TRACE = """railcar startup trace (ms since the launcher started; +ms for the phase):
     0.000  +  0.000  launcher started
     5.886  +  5.886  interpreter ready
     6.155  +  0.269  argv parsed
     9.946  +  3.790  config loaded and validated
    10.626  +  0.680  seccomp: start
    11.122  +  0.496  seccomp: compiled (or cache hit)
    13.733  +  2.611  cgroup created
    14.751  +  1.018  launch plan built
    15.813  +  1.062  child: cloned
    16.366  +  0.031  child: devices
    16.440  +  0.074  child: rootfs ready (hooks pause)
    28.273  + 11.833  child: pivot_root
    28.462  +  0.025  child: exec the helper
    29.071  +  0.368  container ready (blocked before its program)
    31.209  +  2.138  started
    31.300  +  0.091  helper: start received
    32.192  +  0.892  container exited
    33.343  +  1.151  exit
"""


def test_phases_from_named_marks() -> None:
    got = trace.phases(DOCKER_TRACE)
    expect = {
        "interpreter": 5.886, "argv": 0.269, "config": 3.791, "seccomp": 0.496, "cgroup": 3.787 - 0.496,
        "plan": 1.018, "bookkeeping": 2.138, "teardown": 1.151, "hooks": 11.833, "total": 33.343,
    }  # fmt: skip
    for key, ms in expect.items():
        assert got[key] == pytest.approx(ms, abs=1e-6), key
    own = sum(expect[k] for k in ("argv", "config", "seccomp", "cgroup", "plan", "bookkeeping", "teardown"))
    assert got["own"] == pytest.approx(own, abs=1e-6)


def test_default_spec_has_no_seccomp_or_hooks() -> None:
    text = "\n".join(line for line in DOCKER_TRACE.splitlines() if "seccomp" not in line and "hooks pause" not in line)
    got = trace.phases(text)
    assert "seccomp" not in got and "hooks" not in got
    assert got["cgroup"] == pytest.approx(13.733 - 9.946, abs=1e-6)


def test_missing_mark() -> None:
    with pytest.raises(trace.TraceError, match="container exited"):
        trace.phases(DOCKER_TRACE.replace("container exited", "something else"))
