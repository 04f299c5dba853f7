"""railcar delete [--force] ID"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    from railcar import container
    from railcar.errors import RailcarError
    from railcar.state import Container

    try:
        c = Container.load(g.root, args["<id>"])
    except RailcarError as e:
        if args["--force"] and e.msg == "container does not exist":
            Container(g.root, args["<id>"]).remove()  # a create killed before its first save
            return 0
        raise
    status = c.status()
    if status in ("created",) or (status != "stopped" and args["--force"]):
        container.kill_wait(c)
    elif status != "stopped":
        raise RailcarError(f"cannot delete container {c.id} that is not stopped: {status}")
    container.destroy(c)
    return 0
