"""Reading and writing cgroup files (runc's fscommon): whole-file reads, one write per value,
errors that name the config.json field and the file (`<field>: write <file>: <errno text>`)."""

from __future__ import annotations

from railcar import posixos as os
from railcar.errors import RailcarError, strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

UINT64_MAX = (1 << 64) - 1


def errtext(e: OSError) -> str:
    """`invalid argument`, like Go's syscall error strings."""
    return strerror(e.errno) if e.errno is not None else str(e)


def read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def read_opt(path: str) -> str | None:
    try:
        return read(path)
    except OSError:
        return None


def read_word(path: str) -> str:
    """A one-word file, stripped; "" when missing."""
    return (read_opt(path) or "").strip()


def write_raw(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def write(field: str, d: str, name: str, value: str) -> None:
    p = d + "/" + name
    try:
        write_raw(p, value)
    except OSError as e:
        raise RailcarError(f"{field}: write {p}: {errtext(e)}") from None


def write_each(field: str, d: str, name: str, values: list[str]) -> None:
    """`write` of several values to one file, one write(2) each through one open file: a v1
    file such as devices.allow takes each write as one rule, so opening it once serves all."""
    if not values:
        return
    p = d + "/" + name
    try:
        fd = os.open(p, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        try:
            for v in values:
                os.write(fd, v.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise RailcarError(f"{field}: write {p}: {errtext(e)}") from None


def rmdir_each(dirs: list[str]) -> list[str]:
    """rmdir each directory once; returns the ones left (a process or a sub-cgroup inside, or
    another error). The kernel removes only an empty cgroup, so a directory this removes had
    nothing to kill or walk. Gone already is removed."""
    left = []
    for d in dirs:
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            left.append(d)
    return left


def exists(path: str) -> bool:
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def read_uint(path: str) -> int:
    """A cgroup number file; "max" (v2) reads as 2^64-1. Missing/unparsable reads as 0."""
    s = read_opt(path)
    if s is None:
        return 0
    s = s.strip()
    if s == "max":
        return UINT64_MAX
    try:
        v = int(s)
    except ValueError:
        return 0
    return v if v >= 0 else 0


def read_kv(path: str) -> dict[str, int]:
    """`key value` lines (memory.stat, cpu.stat, memory.events, ...)."""
    out: dict[str, int] = {}
    s = read_opt(path)
    if not s:
        return out
    for line in s.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def pids_in(d: str) -> list[int]:
    """Every pid in d's cgroup.procs and in its sub-cgroups'."""
    out: list[int] = []
    for top, _dirs, _files in os.walk(d):
        s = read_opt(top + "/cgroup.procs")
        if s:
            out.extend(int(x) for x in s.split())
    return out


def wait_until(done: Callable[[], bool], seconds: float, delay: float = 0.0005,
               most: float = 0.05) -> bool:
    """Call done() until it says True (then True) or `seconds` pass (then False), sleeping
    `delay` between calls, doubled each time up to `most`."""
    import time

    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, most)
    return True
