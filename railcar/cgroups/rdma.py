"""rdma: linux.resources.rdma -> rdma.max, one line per device (same file on v1 and v2)."""

from __future__ import annotations

from railcar.cgroups.files import write

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups.manager import Manager

SCHEMA = ("map", {"hcaHandles": "u32", "hcaObjects": "u32"})


def parse(sec: dict, f: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(field, [(field of the device, rdma.max line)]); a device with neither limit is skipped,
    a missing one of the two is "max"."""
    lines = []
    for dev, lim in sec.items():
        h, o = lim.get("hcaHandles"), lim.get("hcaObjects")
        if h is None and o is None:
            continue
        lines.append((f"{f}.{dev}", f"{dev} hca_handle={'max' if h is None else h} "
                                    f"hca_object={'max' if o is None else o}"))
    return (f, lines) if sec else None


def apply(m: Manager, cfg: tuple[str, list[tuple[str, str]]], create: bool) -> None:
    f, lines = cfg
    d, _ = m.need("rdma", f)
    for field, line in lines:
        write(field, d, "rdma.max", line)
