"""railcar create: the container waits, blocked before its program, for `start`."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    from railcar import container
    from railcar.cli import preserve

    container.create(g, args["<id>"], args["--bundle"], pid_file=args["--pid-file"],
                     console_socket=args["--console-socket"], no_pivot=args["--no-pivot"],
                     preserve_fds=preserve(args), init=not (args["--no-init"] or g.no_init))
    return 0
