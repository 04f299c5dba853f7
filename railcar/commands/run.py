"""railcar run: create + start, and unless --detach wait, forward signals,
delete, and exit with the container's status."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:

    from railcar import container, trace
    from railcar.cli import preserve

    detach = args["--detach"]
    cid = args["<id>"]
    preserve_fds = preserve(args)  # its error comes before the config's, as in create
    # read once: whether run owns the terminal decides what create is handed
    cfg = container.load_config(args["--bundle"])
    tty = None
    console_fd = -1
    if not detach and not args["--console-socket"] and cfg["process"].get("terminal"):
        from railcar import console

        tty = console.LocalConsole()
        console_fd = tty.child_end
    try:
        c = container.create(g, cid, args["--bundle"], pid_file=args["--pid-file"],
                             console_socket=args["--console-socket"], console_fd=console_fd,
                             no_pivot=args["--no-pivot"], preserve_fds=preserve_fds,
                             init=not (args["--no-init"] or g.no_init), detach=detach, cfg=cfg)
    except BaseException:
        if tty is not None:
            tty.close()
        raise
    if tty is not None:
        tty.receive_master()
    pid = c.pid
    c.unlock()
    try:
        container.start(c)
    except BaseException:
        _cleanup(c)
        raise
    trace.mark("started")
    _helper_trace(c)
    if detach:
        return 0
    status = _wait(pid, tty)
    trace.mark("container exited")
    if not args["--keep"]:
        from railcar.state import Container

        try:
            c = Container.load(g.root, cid)
            container.destroy(c)
        except Exception:
            pass
    if tty is not None:
        tty.close()
    return status


def _helper_trace(c: object) -> None:
    """--trace-startup: the helper's stages from start to the program's exec."""
    fd = c.trace_fd  # type: ignore[attr-defined]
    if fd < 0:
        return
    from railcar import _core, trace
    from railcar import posixos as os

    try:
        for name, ns in _core.drain_trace(fd, 2000):
            trace.add(name, ns)
    finally:
        os.close(fd)


def _cleanup(c: object) -> None:
    from railcar import container

    try:
        container.kill_wait(c)  # type: ignore[arg-type]
        container.destroy(c)  # type: ignore[arg-type]
    except Exception:
        pass


def _wait(pid: int, tty: object) -> int:
    """Wait for the init, forwarding the signals a shell would send us."""
    import _signal

    from railcar import posixos as os

    def forward(sig: int, frame: object) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    for sig in (1, 2, 3, 10, 12, 15, 28):  # HUP INT QUIT USR1 USR2 TERM WINCH
        _signal.signal(sig, forward)
    if tty is not None:
        tty.proxy_until_exit(pid)  # type: ignore[attr-defined]
    while True:
        try:
            _, st = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            return 0
    if os.WIFSIGNALED(st):
        return 128 + os.WTERMSIG(st)
    return os.WEXITSTATUS(st)
