"""Drive the samples: a first (warm-up) sample per runtime, then interleaved round-robin rounds."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from railbench import env, scenarios
from railbench.proc import CommandFailed
from railbench.runtime import Runtime
from railbench.scenarios import Context, SampleFn

KEEP_ERRORS = 3  # error texts kept per runtime and scenario
T = TypeVar("T")


@dataclass
class RuntimeResult:
    runtime: Runtime
    samples: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    disabled: dict[str, str] = field(default_factory=dict)  # scenario -> why its first sample failed
    parallel: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.runtime.name

    def first_sample(self, ctx: Context, scenario: str, fn: SampleFn) -> None:
        """Warm-up sample, not recorded; a failure disables the scenario for this runtime."""
        try:
            fn(ctx, self.runtime)
        except CommandFailed as exc:
            self.disabled[scenario] = str(exc)

    def sample(self, ctx: Context, scenario: str, fn: SampleFn) -> None:
        if scenario in self.disabled:
            return
        try:
            values = fn(ctx, self.runtime)
        except CommandFailed as exc:
            self.failures[scenario] = self.failures.get(scenario, 0) + 1
            kept = self.errors.setdefault(scenario, [])
            if len(kept) < KEEP_ERRORS:
                kept.append(str(exc))
            return
        for key, value in values.items():
            self.samples.setdefault(key, []).append(value)


def rotated(items: Sequence[T], shift: int) -> list[T]:
    """Round-robin order that changes each round, so no runtime always goes first."""
    shift %= max(1, len(items))
    return [*items[shift:], *items[:shift]]


def _progress(text: str) -> None:
    end = "\r" if sys.stderr.isatty() else "\n"
    print(f"  {text:<60}", end=end, file=sys.stderr, flush=True)


def warm_up(ctx: Context, results: Sequence[RuntimeResult]) -> dict[str, str]:
    """First sample of every scenario; runtimes whose first `run` fails -> {name: reason}."""
    excluded: dict[str, str] = {}
    for res in results:
        for scenario, fn in scenarios.SAMPLED:
            res.first_sample(ctx, scenario, fn)
            if scenario == "run" and "run" in res.disabled:
                excluded[res.name] = f"first sample failed: {res.disabled['run']}"
                break
    return excluded


Step = Callable[[RuntimeResult], None]


def _rounds(label: str, count: int, steps: Sequence[Step], active: Sequence[RuntimeResult]) -> None:
    """`count` rounds; in each, every step runs for every runtime (in a rotating order)."""
    for i in range(count):
        _progress(f"{label} {i + 1}/{count}")
        for step in steps:
            for res in rotated(active, i):
                step(res)
        env.reap_strays()


def _sampler(ctx: Context, scenario: str, fn: SampleFn) -> Callable[[RuntimeResult], None]:
    return lambda res: res.sample(ctx, scenario, fn)


def measure(ctx: Context, active: Sequence[RuntimeResult], rounds: int, parallel_reps: int) -> list[float]:
    """Every scenario for every runtime; returns the interpreter floor's samples (scenarios.sample_floor)."""
    floor: list[float] = []

    def sample_floor(res: RuntimeResult) -> None:
        if res is active[0]:  # once a round, among the runtimes
            value = scenarios.sample_floor()
            if value is not None:
                floor.append(value)

    def parallel(res: RuntimeResult) -> None:
        res.parallel.append(scenarios.parallel(ctx, res.runtime))

    def memory(res: RuntimeResult) -> None:
        res.memory = scenarios.memory_min(ctx, res.runtime)

    steps = [_sampler(ctx, name, fn) for name, fn in scenarios.SAMPLED]
    _rounds("round", rounds, [steps[0], sample_floor, *steps[1:]], active)
    _rounds("parallel", parallel_reps, [parallel], active)
    _rounds("memory bisection", 1, [memory], active)
    _progress("done")
    return floor
