"""pids: linux.resources.pids.limit -> pids.max (v1 and v2 alike); pids.current in the stats."""

from __future__ import annotations

from railcar.cgroups.files import UINT64_MAX, read_uint, write

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups.manager import Manager

SCHEMA = {"limit": "int"}


def parse(sec: dict, f: str) -> tuple[str, int] | None:
    """(field, limit); None for 0 or absent (unchanged). A negative limit is "max"."""
    limit = sec.get("limit") or 0
    return (f + ".limit", limit) if limit else None


def apply(m: Manager, cfg: tuple[str, int], create: bool) -> None:
    field, limit = cfg
    d, _ = m.need("pids", field)
    write(field, d, "pids.max", "max" if limit < 0 else str(limit))


def stats(m: Manager) -> dict:
    out: dict[str, int] = {}
    d, _ = m.where("pids")
    if d:
        cur = read_uint(d + "/pids.current")
        lim = read_uint(d + "/pids.max")
        if cur:
            out["current"] = cur
        if lim and lim != UINT64_MAX:
            out["limit"] = lim
    return out
