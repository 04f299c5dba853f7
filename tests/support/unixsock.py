"""Unix-socket peers for the runtime: a console-socket receiver and a seccomp agent, plus pty I/O."""

from __future__ import annotations

import array
import fcntl
import os
import select
import socket
import struct
import termios
import threading
import time
from pathlib import Path

ACCEPT_TIMEOUT = 20.0


class FdReceiver:
    """Listens on a unix stream socket and, in a thread, accepts connections and collects every fd
    (SCM_RIGHTS) and byte sent on them until each peer closes. `wait()` returns the first fd."""

    def __init__(self, path: Path, connections: int = 1) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(connections)
        self.sock.settimeout(ACCEPT_TIMEOUT)
        self.connections = connections
        self.fds: list[int] = []
        self.data = b""
        self.error: BaseException | None = None
        self._got_fd = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            for _ in range(self.connections):
                conn, _ = self.sock.accept()
                with conn:
                    conn.settimeout(ACCEPT_TIMEOUT)
                    while True:
                        fds = array.array("i")
                        msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(16 * fds.itemsize))
                        for level, kind, payload in anc:
                            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                        self.fds.extend(fds)
                        if fds:
                            self._got_fd.set()
                        if not msg and not anc:
                            break
                        self.data += msg
        except BaseException as e:  # reported by wait()
            self.error = e
        finally:
            self._got_fd.set()

    def wait(self, timeout: float = ACCEPT_TIMEOUT) -> int:
        """The first fd received."""
        self._got_fd.wait(timeout)
        if self.error and not self.fds:
            raise self.error
        assert self.fds, f"no fd received on {self.path} within {timeout}s"
        return self.fds[0]

    def join(self, timeout: float = ACCEPT_TIMEOUT) -> None:
        """Wait until every expected peer has connected and closed."""
        self.thread.join(timeout)
        if self.error:
            raise self.error
        assert not self.thread.is_alive(), f"{self.path}: peer still connected after {timeout}s"

    def close(self) -> None:
        self.sock.close()
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []


def read_until(fd: int, needle: bytes, timeout: float = 10.0, buf: bytes = b"") -> bytes:
    """Read a pty master until `needle` shows up (or EOF/EIO); AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, left))
        if not ready:
            raise AssertionError(f"{needle!r} not seen on the console within {timeout}s; got {buf!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        buf += chunk
    return buf


def read_to_eof(fd: int, timeout: float = 10.0) -> bytes:
    """Everything a pty master delivers until the slave side is closed (EIO)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"console not closed within {timeout}s; got {buf!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return buf
        if not chunk:
            return buf
        buf += chunk


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
