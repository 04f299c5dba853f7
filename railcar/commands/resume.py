"""railcar resume ID: thaw a paused container."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups import Cgroup
    from railcar.cli import Globals


def running_cgroup(g: Globals, cid: str, statuses: tuple[str, ...] = ("created", "running", "paused"),
                   refusal: str = "container not running") -> Cgroup:
    """The cgroup of a container whose status is one of `statuses`, else `refusal` (runc's rules:
    pause a running or created container, resume a paused one)."""
    from railcar.cgroups import Cgroup
    from railcar.errors import RailcarError
    from railcar.state import Container

    c = Container.load(g.root, cid)
    if c.status() not in statuses:
        raise RailcarError(refusal)
    if not c.data.get("cgroup"):
        raise RailcarError("container has no cgroup")
    return Cgroup.from_state(c.data["cgroup"])


def main(args: dict, g: Globals) -> int:
    running_cgroup(g, args["<id>"], ("paused",), "container not paused").thaw()
    return 0
