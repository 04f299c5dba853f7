"""railcar resume ID: thaw a paused container."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups import Manager
    from railcar.cli import Globals


def running_cgroup(g: Globals, cid: str, statuses: tuple[str, ...] = ("created", "running", "paused"),
                   refusal: str = "container not running", freezer: str = "") -> Manager:
    """The cgroup of a container whose status is one of `statuses`, else `refusal` (runc's rules:
    pause a running or created container, resume a paused one)."""
    from railcar.errors import RailcarError
    from railcar.state import Container

    c = Container.load(g.root, cid)
    if c.status() not in statuses:
        raise RailcarError(refusal)
    cg = c.cgroup()
    if cg is None:
        raise RailcarError("container has no cgroup")
    from railcar.container import rootless_cgroups

    cg.rootless = rootless_cgroups(g)
    if cg.rootless and freezer and not cg.freezer_file()[0]:
        # runc: "cannot toggle freezer: cgroups not configured for container"
        raise RailcarError(f"cannot {freezer} a rootless container without a delegated freezer: "
                           "cannot toggle freezer: cgroups not configured for container")
    return cg


def main(args: dict, g: Globals) -> int:
    running_cgroup(g, args["<id>"], ("paused",), "container not paused", "resume").thaw()
    return 0
