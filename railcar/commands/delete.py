"""railcar delete [--force] ID"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    from railcar import container
    from railcar.errors import RailcarError
    from railcar.state import Container

    force = args["--force"]
    try:
        # --force takes what it can trust of a corrupt state (its pid, its cgroup directories)
        c = Container.load(g.root, args["<id>"], salvage=force)
    except RailcarError as e:
        if force and e.msg == "container does not exist":
            c = Container(g.root, args["<id>"])  # a create killed before its first save
            container.kill_leftover_hook(c)
            c.remove()
            return 0
        raise
    status = c.status()
    if status in ("created",) or (status != "stopped" and force):
        container.kill_wait(c)
    elif status != "stopped":
        raise RailcarError(f"cannot delete container {c.id} that is not stopped: {status}")
    container.destroy(c, force)
    return 0
