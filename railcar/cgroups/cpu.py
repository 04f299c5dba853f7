"""cpu (and cpuacct): linux.resources.cpu's scheduler settings -> cpu.shares, cpu.cfs_*,
cpu.rt_*, cpu.idle (v1) or cpu.weight, cpu.max, cpu.max.burst, cpu.idle (v2); usage and
throttling in the stats (v1 cpuacct, v2 cpu.stat)."""

from __future__ import annotations

import errno

from railcar import posixos as os
from railcar.cgroups.files import errtext, exists, read_kv, read_opt, read_uint, write, write_raw
from railcar.errors import RailcarError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.cgroups.manager import Manager

# its part of linux.resources.cpu (cpuset.py has cpus and mems); Go's types, as runc decodes them
SCHEMA = {"shares": "u64", "quota": "int", "burst": "u64", "period": "u64", "realtimeRuntime": "int",
          "realtimePeriod": "u64", "idle": "int"}


class Cpu:
    """What to set; 0 (and None for burst and idle) leaves a value unchanged."""

    __slots__ = ("f", "shares", "quota", "period", "rt_runtime", "rt_period", "burst", "idle")

    def __init__(self, f: str, sec: dict) -> None:
        self.f = f
        keys = ("shares", "quota", "period", "realtimeRuntime", "realtimePeriod")
        ints: tuple[int, ...] = tuple(sec.get(k) or 0 for k in keys)
        self.shares, self.quota, self.period, self.rt_runtime, self.rt_period = ints
        self.burst: int | None = sec.get("burst")
        self.idle: int | None = sec.get("idle")

    def first(self) -> str:
        """The first field set, to name in a "controller not available" error."""
        fields = (("shares", self.shares), ("quota", self.quota), ("period", self.period),
                  ("realtimeRuntime", self.rt_runtime), ("realtimePeriod", self.rt_period),
                  ("burst", self.burst is not None), ("idle", self.idle is not None))
        return next((name for name, v in fields if v), "")


def parse(sec: dict, f: str) -> Cpu | None:
    c = Cpu(f, sec)
    return c if c.first() else None


def shares_to_weight(shares: int) -> int:
    """cpu.shares (v1, 2..262144) -> cpu.weight (v2, 1..10000), runc's conversion."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def apply(m: Manager, c: Cpu, create: bool) -> None:
    d, ver = m.need("cpu", f"{c.f}.{c.first()}")
    (_set_v1 if ver == 1 else _set_v2)(d, c)


def _idle(d: str, c: Cpu, leaving: bool) -> None:
    """cpu.idle: leaving SCHED_IDLE (idle 0) comes before a weight can be set, entering it after."""
    if c.idle is None or bool(c.idle) == leaving:
        return
    if not exists(d + "/cpu.idle"):
        raise RailcarError(f"{c.f}.idle: not supported by this kernel (no cpu.idle)")
    write(c.f + ".idle", d, "cpu.idle", str(c.idle))


def _burst(d: str, c: Cpu, name: str) -> None:
    if c.burst is None:
        return
    if not exists(d + "/" + name):
        raise RailcarError(f"{c.f}.burst: not supported by this kernel (no {name})")
    write(c.f + ".burst", d, name, str(c.burst))


def _set_v1(d: str, c: Cpu) -> None:
    f = c.f
    # realtime first: a SCHED_RR task cannot join a group without rt bandwidth
    if c.rt_period:
        write(f + ".realtimePeriod", d, "cpu.rt_period_us", str(c.rt_period))
    if c.rt_runtime:
        write(f + ".realtimeRuntime", d, "cpu.rt_runtime_us", str(c.rt_runtime))
    _idle(d, c, leaving=True)
    if c.shares:
        write(f + ".shares", d, "cpu.shares", str(c.shares))
        got = read_uint(d + "/cpu.shares")
        if c.shares > got:
            raise RailcarError(f"{f}.shares: the maximum allowed cpu-shares is {got}")
        if c.shares < got:
            raise RailcarError(f"{f}.shares: the minimum allowed cpu-shares is {got}")
    pending_period = ""
    if c.period:
        p = d + "/cpu.cfs_period_us"
        try:
            write_raw(p, str(c.period))
        except OSError as e:
            # a smaller period can be refused until the new quota is in place
            if e.errno != errno.EINVAL or not c.quota:
                raise RailcarError(f"{f}.period: write {p}: {errtext(e)}") from None
            pending_period = str(c.period)
    if c.quota:
        write(f + ".quota", d, "cpu.cfs_quota_us", str(c.quota))
        if pending_period:
            write(f + ".period", d, "cpu.cfs_period_us", pending_period)
    _burst(d, c, "cpu.cfs_burst_us")
    _idle(d, c, leaving=False)


def _set_v2(d: str, c: Cpu) -> None:
    f = c.f
    if c.rt_runtime or c.rt_period:
        which = "realtimeRuntime" if c.rt_runtime else "realtimePeriod"
        raise RailcarError(f"{f}.{which}: realtime scheduling limits are not supported on cgroup v2")
    # an idle group refuses a weight: leave idle first, enter it last
    _idle(d, c, leaving=True)
    if c.shares:
        write(f + ".shares", d, "cpu.weight", str(shares_to_weight(c.shares)))
    _idle(d, c, leaving=False)
    if c.quota or c.period:
        cur = (read_opt(d + "/cpu.max") or "max 100000").split()
        q = cur[0] if cur else "max"
        p = cur[1] if len(cur) > 1 else "100000"
        if c.quota:
            q = "max" if c.quota < 0 else str(c.quota)
        if c.period:
            p = str(c.period)
        write(f + (".quota" if c.quota else ".period"), d, "cpu.max", f"{q} {p}")
    _burst(d, c, "cpu.max.burst")


def stats(m: Manager) -> dict:
    usage: dict[str, Any] = {}
    acct = m.v1.get("cpuacct")
    if acct:
        _usage_v1(acct, usage)
    elif m.v2:
        kv = read_kv(m.v2 + "/cpu.stat")
        if kv.get("usage_usec"):
            usage["total"] = kv["usage_usec"] * 1000
        usage["kernel"] = kv.get("system_usec", 0) * 1000
        usage["user"] = kv.get("user_usec", 0) * 1000
    else:
        usage["kernel"] = 0
        usage["user"] = 0
    thr: dict[str, int] = {}
    d, ver = m.where("cpu")
    if d:
        kv = read_kv(d + "/cpu.stat")
        throttled = kv.get("throttled_time", 0) if ver == 1 else kv.get("throttled_usec", 0) * 1000
        for k, v in (("periods", kv.get("nr_periods", 0)), ("throttledPeriods", kv.get("nr_throttled", 0)),
                     ("throttledTime", throttled)):
            if v:
                thr[k] = v
    return {"usage": usage, "throttling": thr}


def _usage_v1(acct: str, usage: dict[str, Any]) -> None:
    total = read_uint(acct + "/cpuacct.usage")
    if total:
        usage["total"] = total
    percpu = [int(x) for x in (read_opt(acct + "/cpuacct.usage_percpu") or "").split() if x.isdigit()]
    if percpu:
        usage["percpu"] = percpu
    pk: list[int] = []
    pu: list[int] = []
    for line in (read_opt(acct + "/cpuacct.usage_all") or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            pu.append(int(parts[1]))
            pk.append(int(parts[2]))
    if pk:
        usage["percpu_kernel"] = pk
    if pu:
        usage["percpu_user"] = pu
    kv = read_kv(acct + "/cpuacct.stat")
    hz = os.sysconf("SC_CLK_TCK") or 100
    usage["kernel"] = kv.get("system", 0) * 1000000000 // hz
    usage["user"] = kv.get("user", 0) * 1000000000 // hz
