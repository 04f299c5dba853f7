"""`run` with a terminal and no --console-socket: railcar receives the pty
master itself and joins it to the caller's terminal (raw mode, window size)."""

from __future__ import annotations

from railcar import posixos as os


class LocalConsole:
    def __init__(self) -> None:
        import _socket

        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self.sock = a
        self.child_end = b.detach()
        self.master = -1
        self.saved: list | None = None

    def receive_master(self) -> None:
        import array

        fds = array.array("i")
        _msg, anc, _flags, _addr = self.sock.recvmsg(64, 64)
        for level, typ, data in anc:
            if level == 1 and typ == 1:  # SOL_SOCKET, SCM_RIGHTS
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        if not fds:
            from railcar.errors import RailcarError

            raise RailcarError("the container's process did not send its terminal")
        self.master = fds[0]
        for extra in fds[1:]:
            os.close(extra)
        if self.child_end >= 0:  # exec hands its end to the launch plan, which closes it
            os.close(self.child_end)
            self.child_end = -1

    def _winsize(self) -> None:
        import fcntl
        import termios

        try:
            ws = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, ws)
        except OSError:
            pass

    def proxy_until_exit(self, pid: int) -> None:
        """Copy stdin → master and master → stdout until the master hangs up."""
        import _signal
        import select
        import termios
        import tty

        interactive = os.isatty(0)
        if interactive:
            self.saved = termios.tcgetattr(0)
            tty.setraw(0)
            self._winsize()
            _signal.signal(28, lambda s, f: self._winsize())  # SIGWINCH
        try:
            stdin_open = True
            while True:
                rl = [self.master] + ([0] if stdin_open else [])
                try:
                    r, _, _ = select.select(rl, [], [])
                except InterruptedError:
                    continue
                if self.master in r:
                    try:
                        data = os.read(self.master, 65536)
                    except OSError:  # EIO: every slave fd closed
                        data = b""
                    if not data:
                        break
                    os.write(1, data)
                if 0 in r:
                    data = os.read(0, 65536)
                    if not data:
                        stdin_open = False
                        os.write(self.master, b"\x04")
                    else:
                        os.write(self.master, data)
        finally:
            if self.saved is not None:
                termios.tcsetattr(0, termios.TCSADRAIN, self.saved)

    def close(self) -> None:
        for fd in (self.master, self.child_end):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.sock.close()
