"""What is reported: each metric's key, label and unit, and the summary statistics."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool = False


METRICS: tuple[Metric, ...] = (
    Metric("run_ms", "run /bin/true", "ms"),
    Metric("seccomp_cold_ms", "run + docker seccomp, cold", "ms"),
    Metric("seccomp_warm_ms", "run + docker seccomp, warm", "ms"),
    Metric("docker_run_ms", "run, docker's config.json", "ms"),
    Metric("create_ms", "create", "ms"),
    Metric("start_ms", "start", "ms"),
    Metric("delete_ms", "delete", "ms"),
    Metric("lifecycle_ms", "create+start+delete", "ms"),
    Metric("wait_ms", "start -> init exited", "ms"),
    Metric("run_cpu_ms", "run: CPU user+sys", "ms"),
    Metric("run_maxrss_mib", "run: peak RSS", "MiB"),
    # railcar only (--trace-startup; railbench/trace.py): "-" for the others
    Metric("trace_interpreter_ms", "trace: interpreter ready", "ms"),
    Metric("trace_own_ms", "trace: railcar's own work", "ms"),
    Metric("trace_own_docker_ms", "trace: own work, docker config", "ms"),
    Metric("parallel_per_s", "parallel create+start", "ctr/s", higher_is_better=True),
    Metric("memory_min_mib", "smallest memory limit for run", "MiB"),
)
BY_KEY = {m.key: m for m in METRICS}
# medians minus the interpreter floor's median (report.above_floor): issue 16's targets read so
ABOVE_FLOOR: tuple[tuple[str, str], ...] = (("run_ms", "run - floor"), ("create_ms", "create - floor"))


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median": None, "p90": None, "min": None, "max": None}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "min": min(values),
        "max": max(values),
    }


def ratio(subject: float | None, other: float | None) -> float | None:
    if subject is None or other is None or other == 0:
        return None
    return subject / other
