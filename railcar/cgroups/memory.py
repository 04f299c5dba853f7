"""memory: linux.resources.memory -> memory.limit_in_bytes, memory.memsw.*, memory.kmem.*, ...
(v1) or memory.max, memory.swap.max, memory.low (v2); usage, swap and kernel memory in the
stats. Swap is memory+swap, as in runc, on both."""

from __future__ import annotations

import errno

from railcar.cgroups.files import UINT64_MAX, errtext, exists, read_kv, read_uint, read_word, write, write_raw
from railcar.errors import RailcarError, SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.cgroups.manager import Manager

# Go's types, as runc decodes them
SCHEMA = {"limit": "int", "reservation": "int", "swap": "int", "kernel": "int", "kernelTCP": "int",
          "swappiness": "u64", "disableOOMKiller": "bool", "useHierarchy": "bool", "checkBeforeUpdate": "bool"}


class Memory:
    """What to set; 0 (None for swappiness and useHierarchy) leaves a value unchanged."""

    __slots__ = ("f", "limit", "swap", "reservation", "kernel", "kernel_tcp", "swappiness", "no_oom",
                 "use_hier", "check")

    def __init__(self, f: str, sec: dict) -> None:
        self.f = f
        ints: tuple[int, ...] = tuple(sec.get(k) or 0 for k in ("limit", "swap", "reservation", "kernel", "kernelTCP"))
        self.limit, self.swap, self.reservation, self.kernel, self.kernel_tcp = ints
        swappiness = sec.get("swappiness")
        self.swappiness: int | None = None if swappiness == UINT64_MAX else swappiness  # -1 in Go
        self.no_oom = bool(sec.get("disableOOMKiller"))
        self.use_hier: bool | None = sec.get("useHierarchy")
        self.check = bool(sec.get("checkBeforeUpdate"))

    def first(self) -> str:
        """The first field set, to name in a "controller not available" error."""
        fields = (("limit", self.limit), ("swap", self.swap), ("reservation", self.reservation),
                  ("kernel", self.kernel), ("kernelTCP", self.kernel_tcp),
                  ("swappiness", self.swappiness is not None), ("disableOOMKiller", self.no_oom),
                  ("useHierarchy", self.use_hier is not None))
        return next((name for name, v in fields if v), "")


def parse(sec: dict, f: str) -> Memory | None:
    m = Memory(f, sec)
    if m.swappiness is not None and not 0 <= m.swappiness <= 100:
        raise SpecError(f"{f}.swappiness", f"invalid value {m.swappiness} (valid range is 0-100)")
    return m if m.first() else None


def apply(m: Manager, mem: Memory, create: bool) -> None:
    d, ver = m.need("memory", f"{mem.f}.{mem.first()}")
    if ver == 1:
        _set_v1(d, mem)
    else:
        _set_v2(d, mem, create)


def _set_v1(d: str, m: Memory) -> None:
    f = m.f
    limit, swap = m.limit, m.swap
    memsw = exists(d + "/memory.memsw.limit_in_bytes")
    if limit == -1 and not swap and memsw:
        swap = -1
    if swap and not memsw:
        if swap != -1:
            raise RailcarError(f"{f}.swap: swap limits are not supported by this kernel (no "
                               f"{d}/memory.memsw.limit_in_bytes; boot with swapaccount=1)")
        swap = 0

    def set_limit() -> None:
        if not limit:
            return
        p = d + "/memory.limit_in_bytes"
        try:
            write_raw(p, str(limit))
        except OSError as e:
            if e.errno == errno.EBUSY:
                usage = read_uint(d + "/memory.usage_in_bytes")
                peak = read_uint(d + "/memory.max_usage_in_bytes")
                raise RailcarError(f"{f}.limit: unable to set memory limit to {limit} "
                                   f"(current usage: {usage}, peak usage: {peak})") from None
            raise RailcarError(f"{f}.limit: write {p}: {errtext(e)}") from None

    def set_swap() -> None:
        if swap:
            write(f + ".swap", d, "memory.memsw.limit_in_bytes", str(swap))

    # the new limit must stay <= memory+swap at every step: raise swap first when growing
    if limit and swap and (swap == -1 or read_uint(d + "/memory.limit_in_bytes") < swap):
        set_swap()
        set_limit()
    else:
        set_limit()
        set_swap()
    if m.reservation:
        write(f + ".reservation", d, "memory.soft_limit_in_bytes", str(m.reservation))
    for key, name, val in (("kernel", "memory.kmem.limit_in_bytes", m.kernel),
                           ("kernelTCP", "memory.kmem.tcp.limit_in_bytes", m.kernel_tcp)):
        if not val:
            continue
        if not exists(d + "/" + name):
            raise RailcarError(f"{f}.{key}: kernel memory limits are not supported by this kernel (no {name})")
        write(f"{f}.{key}", d, name, str(val))
    if m.no_oom:
        write(f + ".disableOOMKiller", d, "memory.oom_control", "1")
    if m.use_hier is not None:
        want = "1" if m.use_hier else "0"
        if read_word(d + "/memory.use_hierarchy") != want:
            write(f + ".useHierarchy", d, "memory.use_hierarchy", want)
    if m.swappiness is not None:
        write(f + ".swappiness", d, "memory.swappiness", str(m.swappiness))


def _set_v2(d: str, m: Memory, create: bool) -> None:
    f = m.f
    limit, swap = m.limit, m.swap
    if m.kernel or m.kernel_tcp:
        which = "kernel" if m.kernel else "kernelTCP"
        raise RailcarError(f"{f}.{which}: kernel memory limits are not supported on cgroup v2")
    if m.check and limit > 0 and not create:
        cur = read_uint(d + "/memory.current")
        if limit < cur:
            raise RailcarError(f"{f}.limit: memory limit {limit} is lower than the current "
                               f"usage {cur} (checkBeforeUpdate)")
    if not (limit or swap or m.reservation):
        return  # swappiness, disableOOMKiller, useHierarchy: no cgroup v2 equivalent; runc ignores them
    swap2 = _v2_swap(d, m)
    if swap2 is not None:
        if exists(d + "/memory.swap.max"):
            write(f + ".swap", d, "memory.swap.max", "max" if swap2 == -1 else str(swap2))
        elif swap and swap != -1:
            raise RailcarError(f"{f}.swap: swap limits are not supported by this kernel (no memory.swap.max)")
    if limit:
        write(f + ".limit", d, "memory.max", "max" if limit < 0 else str(limit))
    if m.reservation:
        write(f + ".reservation", d, "memory.low", "max" if m.reservation < 0 else str(m.reservation))


def _v2_swap(d: str, m: Memory) -> int | None:
    """memory.swap.max from runc's memory+swap: swap - limit (-1 for "max", None: unchanged)."""
    limit, swap = m.limit, m.swap
    if swap == -1 or (limit == -1 and not swap):
        return -1
    if not swap:
        return None
    mem = limit
    if not mem:
        mem = read_uint(d + "/memory.max")
        if mem == UINT64_MAX:
            mem = -1
    if not mem or mem == -1:
        raise RailcarError(f"{m.f}.swap: unable to set swap limit without memory limit")
    if swap < mem:
        raise RailcarError(f"{m.f}.swap: memory+swap limit ({swap}) should be >= memory limit ({mem})")
    return swap - mem


def stats(m: Manager) -> dict:
    empty = _entry(0, 0, 0, 0)
    out: dict[str, Any] = {"usage": empty, "swap": dict(empty), "kernel": dict(empty), "kernelTCP": dict(empty)}
    d, ver = m.where("memory")
    if not d:
        return out
    raw = read_kv(d + "/memory.stat")
    if ver == 1:
        cache = raw.get("cache", 0)
        for key, prefix in (("usage", "memory"), ("swap", "memory.memsw"), ("kernel", "memory.kmem"),
                            ("kernelTCP", "memory.kmem.tcp")):
            if exists(f"{d}/{prefix}.usage_in_bytes"):
                out[key] = _entry(read_uint(f"{d}/{prefix}.usage_in_bytes"),
                                  read_uint(f"{d}/{prefix}.max_usage_in_bytes"),
                                  read_uint(f"{d}/{prefix}.failcnt"), read_uint(f"{d}/{prefix}.limit_in_bytes"))
    else:
        cache = raw.get("file", 0)
        usage = read_uint(d + "/memory.current")
        limit = read_uint(d + "/memory.max")
        events = read_kv(d + "/memory.events")
        out["usage"] = _entry(usage, read_uint(d + "/memory.peak"), events.get("max", 0), limit)
        if exists(d + "/memory.swap.current"):
            su = read_uint(d + "/memory.swap.current")
            sl = read_uint(d + "/memory.swap.max")
            # v1 reports memory+swap; so does runc on v2
            sl = sl + limit if sl != UINT64_MAX and limit != UINT64_MAX else UINT64_MAX
            sev = read_kv(d + "/memory.swap.events")
            out["swap"] = _entry(su + usage, 0, sev.get("max", 0), sl)
    if cache:
        out["cache"] = cache
    if raw:
        out["raw"] = raw
    return out


def _entry(usage: int, mx: int, failcnt: int, limit: int) -> dict:
    e: dict[str, int] = {"limit": limit}
    if usage:
        e["usage"] = usage
    if mx:
        e["max"] = mx
    e["failcnt"] = failcnt
    return e
