"""railcar's `--trace-startup` output: its phases, and the sum of railcar's own Python work.

The trace (railcar/trace.py) prints one line per mark, `<ms since the launcher started> +<ms> <name>`,
sorted by time; marks from the container's child and helper interleave with the parent's. So a
phase is measured between two named parent marks (absolute times), never from the `+ms` column.
"""

from __future__ import annotations

import re

LINE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+\+\s*\d+(?:\.\d+)?\s+(.+?)\s*$")

INTERPRETER = "interpreter ready"
# railcar's own work: (phase, from mark, to mark). From argv parsing to the launch plan, then
# after the clone the parent's bookkeeping up to `start` (state saved, pid file, exec fifo
# written), then from the container's exit to railcar's own exit (delete: cgroup, state, mounts).
OWN_PHASES: tuple[tuple[str, str, str], ...] = (
    ("argv", INTERPRETER, "argv parsed"),
    ("config", "argv parsed", "config loaded and validated"),
    ("cgroup", "config loaded and validated", "cgroup created"),
    ("plan", "cgroup created", "launch plan built"),
    ("bookkeeping", "container ready (blocked before its program)", "started"),
    ("teardown", "container exited", "exit"),
)
# inside "cgroup" when the config has linux.seccomp: reported apart, subtracted from "cgroup"
SECCOMP = ("seccomp", "seccomp: start", "seccomp: compiled (or cache hit)")
# the config's prestart/createRuntime/createContainer hooks, while the child waits: from this mark to
# the child's next one. Not in the sum: mostly the hooks' own programs (docker's re-executes dockerd)
HOOKS = ("hooks", "child: rootfs ready (hooks pause)")


class TraceError(ValueError):
    pass


def marks(text: str) -> dict[str, float]:
    """{mark name: ms since the launcher started} (the first of a repeated name)."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            found.setdefault(m.group(2), float(m.group(1)))
    return found


def _after(at: dict[str, float], name: str) -> float | None:
    """The time of the first mark after `name`'s."""
    later = [t for t in at.values() if t > at[name]]
    return min(later) if later else None


def phases(text: str) -> dict[str, float]:
    """{phase: ms} for `interpreter` (the launcher's start to railcar's first line), each of
    OWN_PHASES (and seccomp, hooks when the config has them), `own`: the sum of OWN_PHASES and
    seccomp, and `total` (to railcar's exit). Raises TraceError when a mark is missing."""
    at = marks(text)

    def span(start: str, end: str) -> float:
        if start not in at or end not in at:
            missing = [m for m in (start, end) if m not in at]
            raise TraceError(f"--trace-startup output lacks {missing}")
        return at[end] - at[start]

    if INTERPRETER not in at:
        raise TraceError(f"--trace-startup output lacks {INTERPRETER!r}")
    out = {"interpreter": at[INTERPRETER]}
    for name, start, end in OWN_PHASES:
        out[name] = span(start, end)
    name, start, end = SECCOMP
    if start in at and end in at:
        out[name] = span(start, end)
        out["cgroup"] -= out[name]
    out["own"] = sum(out[name] for name in OWN_NAMES if name in out)
    name, start = HOOKS
    end_ms = _after(at, start) if start in at else None
    if end_ms is not None:
        out[name] = end_ms - at[start]
    out["total"] = at["exit"]
    return out


OWN_NAMES = (*(p[0] for p in OWN_PHASES), SECCOMP[0])
