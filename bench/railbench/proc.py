"""Spawn one command, wait for it with a timeout, and keep its wall time, rusage and output."""

from __future__ import annotations

import os
import resource
import select
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

OUTPUT_CAP = 64 * 1024  # bytes of stdout/stderr kept per call

_inflight: set[int] = set()
_inflight_lock = threading.Lock()


class CommandFailed(Exception):
    """A runtime command (or a container it started) did not succeed."""


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    status: int  # exit code, or -N when killed by signal N
    wall_ms: float
    cpu_ms: float  # user + sys of the process and the descendants it reaped
    maxrss_kib: int
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 0 and not self.timed_out

    def describe(self) -> str:
        what = "timed out" if self.timed_out else f"exit {self.status}"
        detail = (self.stderr or self.stdout).strip().splitlines()
        return f"{' '.join(self.argv)}: {what}" + (f": {detail[-1]}" if detail else "")

    def check(self) -> Outcome:
        if not self.ok:
            raise CommandFailed(self.describe())
        return self


def wait_exit(pidfd: int, timeout: float) -> bool:
    """True once the process behind `pidfd` has exited, False if `timeout` passed first."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(max(0, int(timeout * 1000))))


def _read(fd: int) -> str:
    data = os.pread(fd, OUTPUT_CAP, 0)
    return data.decode(errors="replace")


def _spawn(argv: Sequence[str], out_fd: int, err_fd: int) -> int:
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, out_fd, 1),
        (os.POSIX_SPAWN_DUP2, err_fd, 2),
    ]
    # Own process group: a terminal's ^C reaches only us, and a timeout can kill the whole group.
    return os.posix_spawn(argv[0], list(argv), os.environ, file_actions=actions, setpgroup=0)


def _reap(pid: int, timeout: float) -> tuple[bool, int, resource.struct_rusage]:
    """Wait for `pid` at most `timeout` s (then kill its group); (timed_out, wait status, rusage)."""
    pidfd = os.pidfd_open(pid)
    try:
        timed_out = not wait_exit(pidfd, timeout)
    finally:
        os.close(pidfd)
    if timed_out:
        _kill_group(pid)
    _, status, usage = os.wait4(pid, 0)
    return timed_out, status, usage


def run(argv: Sequence[str], timeout: float) -> Outcome:
    """Run `argv` (stdin /dev/null, output to memfds) and reap it with wait4."""
    out_fd, err_fd = os.memfd_create("stdout"), os.memfd_create("stderr")
    try:
        start = time.perf_counter()
        pid = _spawn(argv, out_fd, err_fd)
        with _inflight_lock:
            _inflight.add(pid)
        try:
            timed_out, status, usage = _reap(pid, timeout)
        except BaseException:  # interrupted: never leave the command running
            _kill_group(pid)
            os.waitpid(pid, 0)
            raise
        finally:
            with _inflight_lock:
                _inflight.discard(pid)
        wall = time.perf_counter() - start
        return Outcome(
            argv=tuple(argv),
            status=os.waitstatus_to_exitcode(status),
            wall_ms=wall * 1000,
            cpu_ms=(usage.ru_utime + usage.ru_stime) * 1000,
            maxrss_kib=usage.ru_maxrss,
            stdout=_read(out_fd),
            stderr=_read(err_fd),
            timed_out=timed_out,
        )
    finally:
        os.close(out_fd)
        os.close(err_fd)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_inflight() -> None:
    """On interruption: kill every command still running (and its process group)."""
    with _inflight_lock:
        pids = list(_inflight)
    for pid in pids:
        _kill_group(pid)
