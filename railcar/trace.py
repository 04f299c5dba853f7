"""--trace-startup: where the milliseconds go (phases on CLOCK_MONOTONIC)."""

from __future__ import annotations

import time

_marks: list[tuple[str, int]] = []
enabled = False


def mark(name: str) -> None:
    if enabled:
        _marks.append((name, time.perf_counter_ns()))


def add(name: str, ns: int) -> None:
    """A phase timed elsewhere (the launcher, the container child)."""
    if enabled:
        _marks.append((name, ns))


def report(write: object) -> None:
    import sys

    t0 = getattr(sys, "_railcar_t0", 0) or (_marks[0][1] if _marks else 0)
    marks = sorted(_marks, key=lambda m: m[1])
    if t0 and marks and marks[0][1] > t0:
        marks.insert(0, ("launcher started", t0))
    prev = t0
    lines = ["railcar startup trace (ms since the launcher started; +ms for the phase):"]
    for name, t in marks:
        lines.append(f"  {(t - t0) / 1e6:8.3f}  +{(t - prev) / 1e6:7.3f}  {name}")
        prev = t
    write("\n".join(lines) + "\n")  # type: ignore[operator]
