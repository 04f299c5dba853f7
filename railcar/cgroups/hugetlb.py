"""hugetlb: linux.resources.hugepageLimits -> hugetlb.<size>.limit_in_bytes (v1) or
hugetlb.<size>.max (v2), and the reservation limits where the kernel has them; usage per page
size in the stats."""

from __future__ import annotations

from railcar import posixos as os
from railcar.cgroups.files import exists, read_kv, read_uint, write
from railcar.errors import RailcarError, SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups.manager import Manager

SCHEMA = [{"!": ("pageSize", "limit"), "pageSize": "str", "limit": "u64"}]
# per cgroup version: the limit file's suffix, the reservation limit's
_FILES = {1: ("limit_in_bytes", "rsvd.limit_in_bytes"), 2: ("max", "rsvd.max")}


def parse(limits: list, f: str) -> tuple[str, list[tuple[str, str, int]]] | None:
    """(field, [(field of the entry, page size, limit)])."""
    out = []
    for i, h in enumerate(limits):
        hf = f"{f}[{i}]"
        ps = h["pageSize"]
        if not ps or "/" in ps:
            raise SpecError(f"{hf}.pageSize", 'required (e.g. "2MB")')
        out.append((hf, ps, h["limit"]))
    return (f, out) if out else None


def apply(m: Manager, cfg: tuple[str, list[tuple[str, str, int]]], create: bool) -> None:
    f, limits = cfg
    d, ver = m.need("hugetlb", f)
    limit_suffix, rsvd_suffix = _FILES[ver]
    for hf, ps, limit in limits:
        name = f"hugetlb.{ps}.{limit_suffix}"
        if not exists(d + "/" + name):
            avail = ", ".join(sizes(d, ver)) or "none"
            raise RailcarError(f"{hf}.pageSize: hugepage size {ps!r} is not supported by this kernel "
                               f"(available: {avail})")
        write(hf + ".limit", d, name, str(limit))
        rsvd = f"hugetlb.{ps}.{rsvd_suffix}"
        if exists(d + "/" + rsvd):
            write(hf + ".limit", d, rsvd, str(limit))


def sizes(d: str, ver: int) -> list[str]:
    """The page sizes d has limit files for, smallest first ("2MB", "1GB")."""
    suffix = _FILES[ver][0]
    found: list[str] = []
    try:
        names = os.listdir(d)
    except OSError:
        return found
    for n in names:
        parts = n.split(".")
        if len(parts) == 3 and parts[0] == "hugetlb" and parts[2] == suffix:
            found.append(parts[1])

    def key(s: str) -> int:
        units = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
        num = s[:-2]
        return int(num) * units.get(s[-2:], 1) if num.isdigit() else 0

    return sorted(found, key=key)


def stats(m: Manager) -> dict:
    out: dict[str, dict] = {}
    d, ver = m.where("hugetlb")
    if not d:
        return out
    for size in sizes(d, ver):
        p = f"{d}/hugetlb.{size}"
        if ver == 1:
            usage, mx, fc = read_uint(p + ".usage_in_bytes"), read_uint(p + ".max_usage_in_bytes"), read_uint(
                p + ".failcnt")
        else:
            usage, mx, fc = read_uint(p + ".current"), 0, read_kv(p + ".events").get("max", 0)
        e: dict[str, int] = {}
        if usage:
            e["usage"] = usage
        if mx:
            e["max"] = mx
        e["failcnt"] = fc
        out[size] = e
    return out
