"""railcar start: release a created container."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    from railcar import container
    from railcar.state import Container

    c = Container.load(g.root, args["<id>"])
    container.start(c)
    return 0
