"""railcar create: the container waits, blocked before its program, for `start`."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def preserve(args: dict) -> int:
    from railcar.errors import RailcarError

    v = args.get("--preserve-fds") or "0"
    if not v.isdigit():
        raise RailcarError(f"--preserve-fds: not a number: {v!r}")
    n = int(v)
    if n:
        check_caller_fds(n)
    return n


def check_caller_fds(n: int) -> None:
    """Every preserved fd must be the caller's: a gap in 3..3+n-1 would be taken by an fd the
    runtime opens (a cgroup file, a socket) and handed to the container. The launcher counts
    the caller's fds before it opens anything; without it (railcar run as a module) they are
    checked here, which cannot tell the caller's from the interpreter's."""
    import os
    import sys

    from railcar.errors import RailcarError

    have = getattr(sys, "_railcar_caller_fds", None)
    for i in range(n):
        fd = 3 + i
        if have is not None:
            ok = fd < 3 + have
        else:
            try:
                os.fstat(fd)
                ok = True
            except OSError:
                ok = False
        if not ok:
            raise RailcarError(f"unable to stat preserved-fd {i} (of {n}): fd {fd} is not open "
                               "in the caller (--preserve-fds passes fds 3..3+N-1)")


def main(args: dict, g: Globals) -> int:
    from railcar import container

    container.create(g, args["<id>"], args["--bundle"], pid_file=args["--pid-file"],
                     console_socket=args["--console-socket"], no_pivot=args["--no-pivot"],
                     preserve_fds=preserve(args), init=not (args["--no-init"] or g.no_init))
    return 0
