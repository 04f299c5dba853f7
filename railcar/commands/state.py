"""railcar state: the runtime-spec state JSON."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    from railcar import posixos as os
    from railcar.jsonfast import dumps
    from railcar.state import Container

    c = Container.load(g.root, args["<id>"], lock=False)
    os.write(1, (dumps(c.oci_state(), indent=2) + "\n").encode())
    return 0
