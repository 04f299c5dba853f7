"""Spawn one command, wait for it with a timeout, and keep its wall time, rusage and output."""

from __future__ import annotations

import os
import resource
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUTPUT_CAP = 64 * 1024  # bytes of stdout/stderr kept per call
SPAWN_C = Path(__file__).with_name("spawn.c")

_spawner: str | None = None  # the compiled spawn.c, once built

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
    maxrss_kib: int | None  # None when measured without the spawner (see spawn.c)
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


def build_spawner(workdir: Path) -> str | None:
    """Compile spawn.c (see there: why runtimes are not spawned from Python directly); None if no compiler."""
    global _spawner
    out = workdir / "spawn"
    for compiler in (["musl-gcc", "-static"], ["cc", "-static"], ["cc"]):
        if shutil.which(compiler[0]) is None:
            continue
        built = subprocess.run([*compiler, "-O2", "-o", str(out), str(SPAWN_C)], capture_output=True)
        if built.returncode == 0:
            _spawner = str(out)
            return " ".join(compiler)
    return None


def _spawn(argv: Sequence[str], fds: Sequence[int]) -> int:
    """posix_spawn with stdin /dev/null and fds[i] as fd i+1 (stdout, stderr, then the report fd)."""
    actions: list[tuple[Any, ...]] = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
    actions += [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds, 1)]
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


def _measured(report: str) -> tuple[int, float, float, int] | None:
    """(wait status, wall ms, cpu ms, maxrss KiB) from the spawner's line on fd 3."""
    fields = report.split()
    if len(fields) != 5:
        return None
    status, wall_ns, utime_us, stime_us, maxrss = map(int, fields)
    return status, wall_ns / 1e6, (utime_us + stime_us) / 1e3, maxrss


def run(argv: Sequence[str], timeout: float) -> Outcome:
    """Run `argv` (stdin /dev/null, output to memfds) through the spawner when there is one."""
    fds = [os.memfd_create(name) for name in ("stdout", "stderr", "report")]
    try:
        start = time.perf_counter()
        try:
            pid = _spawn([_spawner, *argv] if _spawner else argv, fds if _spawner else fds[:2])
        except OSError as exc:
            return Outcome(tuple(argv), 127, 0.0, 0.0, None, "", f"cannot execute: {exc}")
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
        wall_ms = (time.perf_counter() - start) * 1000
        # Without the spawner, ru_maxrss would be Python's own high-water mark: not reported.
        fallback = (status, wall_ms, (usage.ru_utime + usage.ru_stime) * 1000, None)
        measured = _measured(_read(fds[2])) if _spawner else None
        status, wall_ms, cpu_ms, maxrss = measured or fallback
        return Outcome(
            argv=tuple(argv),
            status=os.waitstatus_to_exitcode(status),
            wall_ms=wall_ms,
            cpu_ms=cpu_ms,
            maxrss_kib=maxrss,
            stdout=_read(fds[0]),
            stderr=_read(fds[1]),
            timed_out=timed_out,
        )
    finally:
        for fd in fds:
            os.close(fd)


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
