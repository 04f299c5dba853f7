"""The machine, the mount namespace every runtime runs in, and process-tree setup."""

from __future__ import annotations

import ctypes
import datetime
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

from railbench import cgroups

PR_SET_CHILD_SUBREAPER = 36
REEXEC_MARK = "RAILBENCH_PRIVATE_MOUNTNS"
UMOUNT_SCRIPT = f'umount {cgroups.UNIFIED} || exit 125; exec "$@"'


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    debian = Path("/etc/debian_version")
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "model_name": model,
        "kernel": platform.release(),
        "debian": debian.read_text().strip() if debian.exists() else None,
        "python": f"{platform.python_version()} ({sys.executable})",
    }


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def ensure_private_mountns() -> str:
    """Re-exec under `unshare -m` with the cgroup2 "unified" mount removed, when there is one.

    crun refuses the hybrid layout; every runtime runs in this same namespace so all see one layout.
    Returns a sentence saying what was done (the re-exec'd process reports it).
    """
    mounts = cgroups.cgroup_mounts()
    if os.environ.get(REEXEC_MARK):
        if cgroups.UNIFIED in mounts:
            raise SystemExit(f"still mounted after unshare: {cgroups.UNIFIED}")
        return (
            f"private mount namespace (unshare -m): {cgroups.UNIFIED} unmounted; "
            f"every runtime sees the same cgroup layout ({cgroups.layout(mounts)})"
        )
    if cgroups.UNIFIED not in mounts:
        return f"host mount namespace: cgroup layout {cgroups.layout(mounts)}, nothing to unmount"
    unshare = shutil.which("unshare")
    if unshare is None:
        raise SystemExit("unshare(1) not found (util-linux): needed to unmount the hybrid cgroup2 mount")
    os.environ[REEXEC_MARK] = "1"
    argv = [unshare, "-m", "--propagation", "private", "sh", "-c", UMOUNT_SCRIPT, "sh"]
    os.execv(unshare, [*argv, sys.executable, *sys.argv])


def become_subreaper() -> None:
    """Like containerd-shim and conmon: detached container inits get reparented to us."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap_strays() -> int:
    """Reap every exited child (only call when no other thread is waiting on a child)."""
    reaped = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped += 1


def live_children() -> list[int]:
    """Pids of our children that are still running (zombies excluded)."""
    me = os.getpid()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == me and state != "Z":
            found.append(int(entry.name))
    return found
