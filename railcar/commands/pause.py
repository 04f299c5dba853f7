"""railcar pause ID: freeze every process of the container."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    from railcar.commands.resume import running_cgroup

    running_cgroup(g, args["<id>"], ("running", "created"), "container not running",
                   "pause").freeze()
    return 0
