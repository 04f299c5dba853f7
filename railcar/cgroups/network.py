"""net_cls / net_prio (v1 only): linux.resources.network.classID -> net_cls.classid,
.priorities -> net_prio.ifpriomap. cgroup v2 has neither controller."""

from __future__ import annotations

from railcar.cgroups.files import write
from railcar.errors import RailcarError, SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups.manager import Manager

SCHEMA = {"classID": "u32", "priorities": [{"!": ("name", "priority"), "name": "str", "priority": "u32"}]}


def parse(sec: dict, f: str) -> list[tuple[str, str, str, str, str]] | None:
    """[(controller, field named when it is missing, field, file, value)], in write order."""
    out = []
    if sec.get("classID"):
        out.append(("net_cls", f + ".classID", f + ".classID", "net_cls.classid", str(sec["classID"])))
    for i, p in enumerate(sec.get("priorities") or ()):
        pf = f"{f}.priorities[{i}]"
        if not p["name"]:
            raise SpecError(pf, "name and priority are required")
        out.append(("net_prio", f + ".priorities", pf, "net_prio.ifpriomap", f"{p['name']} {p['priority']}"))
    return out or None


def apply(m: Manager, cfg: list[tuple[str, str, str, str, str]], create: bool) -> None:
    for ctrl, where, field, name, value in cfg:
        if m.kind == "v2":
            raise RailcarError(f"{where}: not supported on cgroup v2 (there is no {ctrl} controller)")
        d, _ = m.need(ctrl, where)
        write(field, d, name, value)
