"""railcar resume ID: thaw a paused container."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups import Cgroup
    from railcar.cli import Globals


def running_cgroup(g: Globals, cid: str) -> Cgroup:
    from railcar.cgroups import Cgroup
    from railcar.errors import RailcarError
    from railcar.state import Container

    c = Container.load(g.root, cid)
    if not c.alive():
        raise RailcarError("container not running")
    if not c.data.get("cgroup"):
        raise RailcarError("container has no cgroup")
    return Cgroup.from_state(c.data["cgroup"])


def main(args: dict, g: Globals) -> int:
    running_cgroup(g, args["<id>"]).thaw()
    return 0
