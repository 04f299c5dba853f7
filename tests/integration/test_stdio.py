"""stdio, inherited fds (--preserve-fds), and the console socket."""

from __future__ import annotations

import array
import os
import select
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BundleFactory, Runtime, describe
from tests.support.bundle import sh


@pytest.fixture
def marker_fds(runtime: Runtime) -> Iterator[list[int]]:
    """Two open, readable files (non-CLOEXEC in the child), holding 'first' and 'second'."""
    fds = []
    for name in ("first", "second"):
        p = runtime.workdir / f"{name}.txt"
        p.write_text(name)
        fds.append(os.open(p, os.O_RDONLY))
    yield fds
    for fd in fds:
        os.close(fd)


def test_stdio_are_the_callers_pipes(runtime: Runtime, make_bundle: BundleFactory) -> None:
    res = runtime.run_container(
        make_bundle(sh("cat; for i in 0 1 2; do readlink /proc/self/fd/$i >&2; done; echo out")), input="in\n"
    )
    assert res.returncode == 0, describe(res)
    assert res.stdout == "in\nout\n"
    assert [line.split(":")[0] for line in res.stderr.splitlines()] == ["pipe", "pipe", "pipe"]


@pytest.mark.parametrize("count", [1, 2])
def test_preserve_fds(runtime: Runtime, make_bundle: BundleFactory, marker_fds: list[int], count: int) -> None:
    script = "cat <&3; echo; cat <&4 2>/dev/null; echo"
    fds = {3 + i: fd for i, fd in enumerate(marker_fds)}
    res = runtime.run_container(make_bundle(sh(script)), "--preserve-fds", str(count), fds=fds)
    assert res.returncode == 0, describe(res)
    assert res.stdout.splitlines() == (["first", "second"] if count == 2 else ["first", ""])


def test_leaked_fds_are_closed(runtime: Runtime, make_bundle: BundleFactory, marker_fds: list[int]) -> None:
    # fds 3 and 4 are inherited by the runtime (like containerd's leaked socket); without
    # --preserve-fds the program must not see them. ls's own directory fd is 3.
    script = "ls /proc/self/fd | tr '\\n' ' '; echo; (cat <&3) 2>/dev/null || echo CLOSED"
    res = runtime.run_container(make_bundle(sh(script)), fds={3: marker_fds[0], 4: marker_fds[1]})
    assert res.returncode == 0, describe(res)
    assert res.stdout.splitlines() == ["0 1 2 3 ", "CLOSED"]


def test_terminal_needs_console_socket(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = runtime.new_id()
    res = runtime.create(make_bundle(["true"], process={"terminal": True}), cid, check=False)
    assert res.returncode == 1
    assert "console" in res.stderr.lower() and "socket" in res.stderr.lower(), res.stderr
    assert runtime.container_dirs() == []


class ConsoleReceiver:
    """Listens on a unix socket and receives one pty master over SCM_RIGHTS."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.master: int | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(20)
                fds = array.array("i")
                _, anc, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
                self.master = fds[0] if fds else None
        except BaseException as e:  # reported by wait()
            self.error = e

    def wait(self) -> int:
        self.thread.join(20)
        if self.error:
            raise self.error
        assert self.master is not None, "no fd received on the console socket"
        return self.master

    def close(self) -> None:
        self.sock.close()
        if self.master is not None:
            os.close(self.master)


def read_until(fd: int, needle: bytes, timeout: float = 10.0) -> bytes:
    buf = b""
    while needle not in buf:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise AssertionError(f"{needle!r} not seen on the console; got {buf!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side is gone
            break
        if not chunk:
            break
        buf += chunk
    return buf


def test_console_socket_receives_pty_master(runtime: Runtime, make_bundle: BundleFactory) -> None:
    recv = ConsoleReceiver(runtime.workdir / "console.sock")
    try:
        cid = runtime.new_id()
        b = make_bundle(["sh"], process={"terminal": True})
        runtime.create(b, cid, "--console-socket", str(recv.path))
        master = recv.wait()
        runtime.start(cid)
        os.write(master, b"tty; test -t 0 && test -t 1 && echo both-ttys; echo ok-$((6*7)); exit 7\n")
        out = read_until(master, b"ok-42\r\n").decode(errors="replace")
        assert "/dev/pts/0" in out and "both-ttys" in out, out
        assert runtime.wait_exit(runtime.init_pid(cid)) in (None, 7)
        runtime.wait_status(cid, "stopped")
    finally:
        recv.close()


def test_console_is_controlling_terminal(runtime: Runtime, make_bundle: BundleFactory) -> None:
    recv = ConsoleReceiver(runtime.workdir / "console.sock")
    try:
        cid = runtime.new_id()
        # /dev/tty opens only with a controlling terminal; /dev/console is the pty (major 136)
        script = "(: </dev/tty) && echo CTTY-OK; echo CONSOLE=$(stat -c %t /dev/console); sleep 0.2"
        b = make_bundle(sh(script), process={"terminal": True})
        runtime.create(b, cid, "--console-socket", str(recv.path))
        master = recv.wait()
        runtime.start(cid)
        out = read_until(master, b"CONSOLE=88").decode(errors="replace")
        assert "CTTY-OK" in out and "CONSOLE=88" in out, out
    finally:
        recv.close()
