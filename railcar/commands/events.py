"""railcar events [--stats] [--interval D] ID: statistics, and oom events as they happen."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def _interval(s: str) -> float:
    from railcar.errors import RailcarError

    units = (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0))
    for u, mul in units:
        if s.endswith(u) and s[: -len(u)].replace(".", "", 1).isdigit():
            v = float(s[: -len(u)]) * mul
            if v > 0:
                return v
    raise RailcarError(f"--interval: invalid duration {s!r} (e.g. 5s, 500ms)")


def main(args: dict, g: Globals) -> int:
    import gc
    import os
    import select
    import time

    gc.enable()  # the launcher starts with the collector off; this command may run for days

    import orjson

    from railcar.cgroups import oomwatch
    from railcar.commands.resume import running_cgroup
    from railcar.state import Container

    cid = args["<id>"]
    cg = running_cgroup(g, cid)

    def emit(obj: dict) -> None:
        os.write(1, orjson.dumps(obj) + b"\n")

    if args["--stats"]:
        emit({"type": "stats", "id": cid, "data": cg.stats()})
        return 0
    every = _interval(args["--interval"])
    # woken by the kernel: an OOM event of the memory cgroup, the init's exit, or the next stats
    oom_fd = oomwatch.watch(cg)
    ooms = cg.oom_count()
    c = Container.load(g.root, cid, lock=False)
    poller = select.poll()
    if oom_fd >= 0:
        poller.register(oom_fd, select.POLLIN)
    try:
        exit_fd = os.pidfd_open(c.pid) if c.alive() else -1
    except OSError:
        exit_fd = -1
    if exit_fd >= 0:
        poller.register(exit_fd, select.POLLIN)
    # without one of the two fds, what it would tell is looked at every 0.2 s instead
    fallback = 0.2 if oom_fd < 0 or exit_fd < 0 else None
    next_stats = 0.0
    while True:
        alive = Container.load(g.root, cid, lock=False).alive() if exit_fd < 0 else _running(exit_fd)
        # counted before leaving: an OOM kill of the container's own process is the one a
        # user most wants to hear about
        n = cg.oom_count()
        if n > ooms:
            emit({"type": "oom", "id": cid})
            ooms = n
        if not alive:
            return 0
        now = time.monotonic()
        if now >= next_stats:
            emit({"type": "stats", "id": cid, "data": cg.stats()})
            next_stats = now + every
        wait = next_stats - time.monotonic()
        if fallback is not None:
            wait = min(wait, fallback)
        for fd, _ in poller.poll(max(0, int(wait * 1000))):
            if fd == oom_fd:
                oomwatch.drain(oom_fd)


def _running(pidfd: int) -> bool:
    """The init has not exited (its pidfd is not readable yet)."""
    import select

    return not select.select([pidfd], [], [], 0)[0]
