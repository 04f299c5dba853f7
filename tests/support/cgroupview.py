"""The cgroup view a test run sees: the host's own layout, or a cgroup v2-only view.

A host with v1 controllers (hybrid or pure v1) can still show a v2-only layout to one process
tree: in a private mount namespace, /sys/fs/cgroup is unmounted and the cgroup2 filesystem
mounted in its place. That hierarchy holds only the controllers no v1 mount holds (here: hugetlb),
but the core v2 files all work (cgroup.procs, cgroup.freeze, cgroup.kill, cgroup.events, eBPF
device filters), so railcar's v2 paths run for real. The host's mounts are never touched: every
mount in the new namespace is made private before anything is unmounted, and the namespace dies
with the last process in it.

RAILCAR_CGROUP_VIEW=v2 asks for that view: tests/conftest.py calls `enter_from_env()` in
pytest_configure, before any test module is imported, so module constants (IS_V2) and every
engine the client suite starts see the v2 layout:

    RAILCAR_CGROUP_VIEW=v2 .venv/bin/python -m pytest tests/integration/test_cgroups_v2.py

`run_pytest_in_v2` runs test modules that way from a normal run (test_cgroup_views.py,
tests/clients/test_cgroup_v2_view.py), so ./tools/test.sh covers both layouts. By hand, in a shell:
`unshare -m sh -c 'umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec sh'`
(unshare(1) makes every mount private first).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ENV = "RAILCAR_CGROUP_VIEW"
CG = Path("/sys/fs/cgroup")
CLONE_NEWNS = 0x00020000
MS_REC, MS_PRIVATE = 0x4000, 0x40000
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def current() -> str:
    """The layout at /sys/fs/cgroup: "v2" (cgroup2 there), "hybrid" (v1 controllers plus a cgroup2
    mount, e.g. /sys/fs/cgroup/unified), "v1" or "" (no cgroups)."""
    if (CG / "cgroup.controllers").exists():
        return "v2"
    types = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        post = line.partition(" - ")[2].split()
        if post and post[0] in ("cgroup", "cgroup2"):
            types.add(post[0])
    if types == {"cgroup", "cgroup2"}:
        return "hybrid"
    return "v1" if "cgroup" in types else ""


def v2_controllers() -> set[str]:
    """The controllers of the cgroup2 hierarchy at /sys/fs/cgroup (empty when not v2)."""
    try:
        return set((CG / "cgroup.controllers").read_text().split())
    except OSError:
        return set()


def wanted() -> str:
    """The view RAILCAR_CGROUP_VIEW asks for: "v2", or "" (the host's own)."""
    want = os.environ.get(ENV, "")
    if want not in ("", "host", "v2"):
        raise ValueError(f"{ENV} must be v2 or host, not {want!r}")
    return "v2" if want == "v2" else ""


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cgroup v2 view: {what}: {os.strerror(err)}")


def enter_v2() -> bool:
    """Move this (single-threaded) process into a private mount namespace whose /sys/fs/cgroup is
    the cgroup2 hierarchy. Every process started afterwards inherits the view. False when the host
    is v2 already (nothing to do). Needs root; raises OSError when a step fails."""
    if current() == "v2":
        return False
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS) (a multi-threaded process cannot)")
    # never let the umount below reach the host's namespace: no mount here may stay shared
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / rprivate")
    _check(_libc.umount2(str(CG).encode(), MNT_DETACH), f"umount {CG}")
    _check(_libc.mount(b"none", str(CG).encode(), b"cgroup2", 0, None), f"mount cgroup2 on {CG}")
    if current() != "v2":
        raise OSError(0, f"cgroup v2 view: {CG} is not cgroup2 after mounting it")
    return True


def enter_from_env() -> str:
    """Enter the view RAILCAR_CGROUP_VIEW asks for; returns a line for the report header."""
    if wanted() != "v2":
        return ""
    entered = enter_v2()
    how = "a private mount namespace with cgroup2 on /sys/fs/cgroup" if entered else "the host's own"
    return f"cgroup view: v2-only ({how}; controllers: {' '.join(sorted(v2_controllers())) or 'none'})"


def why_not_v2_view() -> str:
    """Why a run in a v2-only view would add nothing or cannot be made here ("" when it can)."""
    if wanted() == "v2":
        return "this run is in the v2-only view already (RAILCAR_CGROUP_VIEW=v2)"
    if current() == "v2":
        return "the host is cgroup v2 itself: the suite runs the v2 paths directly"
    if os.geteuid() != 0:
        return "a v2-only view needs root (a private mount namespace and a cgroup2 mount)"
    return ""


def run_pytest_in_v2(args: Sequence[str], timeout: float) -> tuple[int, str]:
    """`python -m pytest args` (from the repository root) in a v2-only view; (exit code, output).
    The runtime under test and everything else come from our environment."""
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, **{ENV: "v2"})
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEsxX", *args]
    try:
        proc = subprocess.run(argv, cwd=repo, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        return -1, f"{out}\n(timed out after {timeout}s)"
    return proc.returncode, proc.stdout.decode(errors="replace")


def summary(output: str) -> str:
    """The short test summary and the counts line of a pytest run's output."""
    lines = output.splitlines()
    start = next((i for i, ln in enumerate(lines) if "short test summary info" in ln), len(lines) - 1)
    return "\n".join(lines[start:])
