"""cpuset: linux.resources.cpu.cpus / .mems -> cpuset.cpus / cpuset.mems (same names on v1 and
v2); the effective sets (and, on v1, the cpuset flags) in the stats."""

from __future__ import annotations

from railcar.cgroups.files import read_opt, read_uint, write

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.cgroups.manager import Manager

# its part of linux.resources.cpu (cpu.py has the rest)
SCHEMA = {"cpus": "str", "mems": "str"}
_V1_FLAGS = ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
             "memory_spread_slab", "memory_pressure", "sched_load_balance")


def parse(sec: dict, f: str) -> list[tuple[str, str, str]] | None:
    """[(field, file, value)] for the sets given (an empty string leaves the set unchanged)."""
    out = [(f"{f}.{key}", "cpuset." + key, sec[key]) for key in ("cpus", "mems") if sec.get(key)]
    return out or None


def apply(m: Manager, cfg: list[tuple[str, str, str]], create: bool) -> None:
    for field, name, value in cfg:
        d, _ = m.need("cpuset", field)
        write(field, d, name, value)


def parse_list(s: str) -> list[int]:
    """cpuset list format `0-3,5` -> [0, 1, 2, 3, 5]."""
    out: list[int] = []
    for part in s.strip().split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                out.extend(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
        except ValueError:
            continue
    return out


def stats(m: Manager) -> dict:
    out: dict[str, Any] = {}
    d, ver = m.where("cpuset")
    if d and ver == 2:
        cpus = read_opt(d + "/cpuset.cpus.effective") or ""
        mems = read_opt(d + "/cpuset.mems.effective") or ""
    elif d:
        cpus = read_opt(d + "/cpuset.effective_cpus") or read_opt(d + "/cpuset.cpus") or ""
        mems = read_opt(d + "/cpuset.effective_mems") or read_opt(d + "/cpuset.mems") or ""
    else:
        cpus = mems = ""
    for key, s in (("cpus", cpus), ("mems", mems)):
        if parse_list(s):
            out[key] = parse_list(s)
    for key in _V1_FLAGS:
        out[key] = read_uint(d + "/cpuset." + key) if ver == 1 else 0
    level = (read_opt(d + "/cpuset.sched_relax_domain_level") or "0").strip() if ver == 1 else "0"
    try:
        out["sched_relax_domain_level"] = int(level)
    except ValueError:
        out["sched_relax_domain_level"] = 0
    return out
