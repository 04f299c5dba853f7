"""OOM events as they happen, for `railcar events`: an fd the kernel makes readable when the
container's memory cgroup meets the OOM killer, instead of polling the counters.

v1: an eventfd registered on memory.oom_control through cgroup.event_control (the kernel's
notification API for v1 memory cgroups). v2: inotify on memory.events, which the kernel marks
modified on every event it counts. The counters (Manager.oom_count) still say how many."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups.manager import Manager


def watch(cg: Manager) -> int:
    """An fd that turns readable on an OOM event of the container's memory cgroup, or -1 when
    it has none (no memory controller) or the kernel refuses (then the caller polls)."""
    d, ver = cg.where("memory")
    if not d:
        return -1
    try:
        if ver == 2:
            from railcar import _core

            return int(_core.inotify_modified(f"{d}/memory.events".encode()))
        return _v1_eventfd(d)
    except OSError:
        return -1


def _v1_eventfd(d: str) -> int:
    efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
    ctl = -1
    try:
        ctl = os.open(f"{d}/memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        with open(f"{d}/cgroup.event_control", "w") as f:
            f.write(f"{efd} {ctl}")
    except OSError:
        os.close(efd)
        raise
    finally:
        if ctl >= 0:
            os.close(ctl)  # the kernel holds its own reference once registered
    return efd


def drain(fd: int) -> None:
    """Consume what made the fd readable (an eventfd count or inotify records)."""
    try:
        os.read(fd, 4096)
    except BlockingIOError:
        pass
