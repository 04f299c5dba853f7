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
    import os
    import time

    import orjson

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
    ooms = cg.oom_count()
    next_stats = 0.0
    while True:
        c = Container.load(g.root, cid, lock=False)
        alive = c.alive()
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
        time.sleep(min(every, 0.2))
