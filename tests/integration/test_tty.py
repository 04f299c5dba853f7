"""Terminals: console socket sessions for create and exec, resize, consoleSize, pty owner, no lost output."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import BundleFactory, Runtime, describe
from tests.support.bundle import sh
from tests.support.unixsock import FdReceiver, read_to_eof, read_until, set_winsize


@pytest.fixture
def console(runtime: Runtime) -> Iterator[FdReceiver]:
    recv = FdReceiver(runtime.workdir / "console.sock")
    yield recv
    recv.close()


def tty_container(runtime: Runtime, make_bundle: BundleFactory, console: FdReceiver, args: list[str],
                  **process: object) -> tuple[str, int]:
    """Create a terminal container with the console socket; returns (id, pty master)."""
    cid = runtime.new_id()
    runtime.create(make_bundle(args, process={"terminal": True, **process}), cid,
                   "--console-socket", str(console.path))
    return cid, console.wait()


def test_interactive_session_and_resize(runtime: Runtime, make_bundle: BundleFactory, console: FdReceiver) -> None:
    cid, master = tty_container(runtime, make_bundle, console, ["sh"])
    runtime.start(cid)
    set_winsize(master, 30, 100)
    os.write(master, b"stty size; echo mark-$((1+1))\n")
    out = read_until(master, b"mark-2\r\n")
    assert b"30 100\r\n" in out, out
    set_winsize(master, 12, 34)
    os.write(master, b"stty size; echo mark-$((2+1))\n")
    out = read_until(master, b"mark-3\r\n")
    assert b"12 34\r\n" in out, out
    os.write(master, b"exit 6\n")
    assert runtime.wait_exit(runtime.init_pid(cid)) in (None, 6)
    runtime.wait_status(cid, "stopped")


def test_console_size_applied(runtime: Runtime, make_bundle: BundleFactory, console: FdReceiver) -> None:
    cid, master = tty_container(runtime, make_bundle, console, sh("stty size; sleep 0.2"),
                                consoleSize={"height": 25, "width": 91})
    runtime.start(cid)
    out = read_to_eof(master)
    assert out.strip() == b"25 91", out


def test_pty_owned_by_container_user(runtime: Runtime, make_bundle: BundleFactory, console: FdReceiver) -> None:
    cid, master = tty_container(runtime, make_bundle, console, sh("stat -c 'owner=%u' $(tty); sleep 0.2"),
                                user={"uid": 1000, "gid": 1000})
    runtime.start(cid)
    assert b"owner=1000" in read_to_eof(master)


@pytest.mark.parametrize("attempt", range(5))
def test_short_lived_tty_process_loses_no_output(
    runtime: Runtime, make_bundle: BundleFactory, console: FdReceiver, attempt: int
) -> None:
    cid, master = tty_container(runtime, make_bundle, console, ["echo", "hi"])
    runtime.start(cid)
    out = read_to_eof(master)
    assert out == b"hi\r\n", out
    runtime.wait_exit(runtime.init_pid(cid))


def test_exec_tty_detached_with_console_socket(
    runtime: Runtime, make_bundle: BundleFactory, console: FdReceiver
) -> None:
    cid = runtime.create_started(make_bundle(["sleep", "60"]))
    pidfile = runtime.workdir / "exec.pid"
    res = runtime.run("exec", "--detach", "--tty", "--console-socket", str(console.path), "--pid-file", str(pidfile),
                      cid, "sh")
    assert res.returncode == 0, describe(res)
    master = console.wait()
    set_winsize(master, 40, 120)
    os.write(master, b"tty; stty size; id -u; echo done-$((3*3))\n")
    out = read_until(master, b"done-9\r\n").decode(errors="replace")
    assert "/dev/pts/" in out and "40 120" in out, out
    os.write(master, b"exit 3\n")
    assert runtime.wait_exit(int(pidfile.read_text())) == 3


def test_exec_process_json_terminal_user(runtime: Runtime, make_bundle: BundleFactory, console: FdReceiver) -> None:
    import json

    cid = runtime.create_started(make_bundle(["sleep", "60"]))
    pj = runtime.workdir / "process.json"
    pj.write_text(json.dumps({"terminal": True, "args": ["sh", "-c", "stat -c 'owner=%u' $(tty); stty size"],
                              "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 1000, "gid": 1000},
                              "consoleSize": {"height": 21, "width": 77}}))
    pidfile = runtime.workdir / "exec.pid"
    res = runtime.run("exec", "--detach", "--process", str(pj), "--console-socket", str(console.path),
                      "--pid-file", str(pidfile), cid)
    assert res.returncode == 0, describe(res)
    out = read_to_eof(console.wait())
    assert out.split() == [b"owner=1000", b"21", b"77"], out
    assert runtime.wait_exit(int(pidfile.read_text())) == 0


def test_exec_tty_foreground(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """`exec -t` without a console socket, run from a terminal: the runtime relays the pty to its stdio."""
    import fcntl
    import pty
    import subprocess
    import termios

    cid = runtime.create_started(make_bundle(["sleep", "60"]))
    master, slave = pty.openpty()

    def ctty() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    argv = [runtime.binary, "--root", str(runtime.root), "exec", "-t", cid,
            "sh", "-c", "test -t 0 && test -t 1 && echo IS-A-TTY; exit 4"]
    try:
        p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, preexec_fn=ctty)
        os.close(slave)
        slave = -1
        try:
            out = read_to_eof(master, timeout=15)
            rc = p.wait(timeout=15)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert (rc, b"IS-A-TTY" in out) == (4, True), (rc, out)


def test_terminal_container_keeps_none_of_creates_stdio(
    runtime: Runtime, make_bundle: BundleFactory, console: FdReceiver
) -> None:
    # a shim reads create's stdout to its end: no process of a terminal container may hold it
    cid, master = tty_container(runtime, make_bundle, console, ["sleep", "60"])
    init = runtime.init_pid(cid)
    pids = [init, *(int(p) for p in open(f"/proc/{init}/task/{init}/children").read().split())]
    for pid in pids:
        for n in (0, 1, 2):
            st = os.stat(f"/proc/{pid}/fd/{n}")
            assert os.major(st.st_rdev) in range(136, 144), (pid, n, os.readlink(f"/proc/{pid}/fd/{n}"))
    runtime.kill(cid, "KILL")
    runtime.wait_exit(init)
    os.close(master)


# --- the console socket only where runc takes it --------------------------------------------------
UNUSED = "cannot use console socket"


def test_console_socket_without_terminal_refused(runtime: Runtime, make_bundle: BundleFactory,
                                                 console: FdReceiver) -> None:
    cid = runtime.new_id()
    res = runtime.create(make_bundle(["true"]), cid, "--console-socket", str(console.path), check=False)
    assert res.returncode == 1 and UNUSED in res.stderr, describe(res)
    assert runtime.container_dirs() == []


def test_console_socket_with_foreground_run_refused(runtime: Runtime, make_bundle: BundleFactory,
                                                    console: FdReceiver) -> None:
    b = make_bundle(["true"], process={"terminal": True})
    res = runtime.run_container(b, "--console-socket", str(console.path))
    assert res.returncode == 1 and UNUSED in res.stderr, describe(res)
    assert runtime.container_dirs() == []


def test_exec_console_socket_without_tty_refused(runtime: Runtime, make_bundle: BundleFactory,
                                                 console: FdReceiver) -> None:
    cid = runtime.create_started(make_bundle(["sleep", "60"]))
    res = runtime.run("exec", "--detach", "--console-socket", str(console.path), cid, "true", pipes=True)
    assert res.returncode != 0 and UNUSED in res.stderr, describe(res)
    assert runtime.status(cid) == "running"
