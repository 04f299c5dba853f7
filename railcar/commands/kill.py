"""railcar kill ID [SIGNAL]: signal the init (or, with --all, every process)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    from railcar import posixos as os
    from railcar import signals
    from railcar.errors import RailcarError
    from railcar.state import Container

    sig = signals.parse(args["<signal>"])
    c = Container.load(g.root, args["<id>"], lock=False)
    cg = c.cgroup() if args["--all"] else None
    if cg is not None:
        if cg.dirs():
            pids = cg.pids()
        else:  # rootless without a delegated cgroup
            from railcar.rootless import pids_without_cgroup

            pids = sorted(pids_without_cgroup(c.pid)) if c.alive() else []
        if not pids and not c.alive():
            return 0  # nothing left to signal (containerd sends --all after the init exited)
        frozen = cg.frozen()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if frozen and sig == 9:  # a frozen task cannot die until thawed
            cg.thaw()
        return 0
    if not c.alive():
        raise RailcarError("container not running")
    try:
        os.kill(c.pid, sig)
    except ProcessLookupError:
        raise RailcarError("container not running") from None
    if sig == 9 and c.frozen():  # a frozen task cannot die until thawed (runc thaws too)
        cg = c.cgroup()
        if cg is not None:
            cg.thaw()
    return 0
