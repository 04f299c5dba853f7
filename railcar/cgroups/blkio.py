"""blkio (v1) / io (v2): linux.resources.blockIO -> blkio.weight, blkio.*weight_device,
blkio.throttle.* (v1) or io.weight / io.bfq.weight, io.max (v2); the I/O counters in the stats."""

from __future__ import annotations

from railcar.cgroups.files import exists, read_opt, write
from railcar.errors import RailcarError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.cgroups.manager import Manager

_WEIGHT_DEV = {"!": ("major", "minor"), "major": "major", "minor": "minor", "weight": "u16", "leafWeight": "u16"}
_THROTTLE_DEV = {"!": ("major", "minor", "rate"), "major": "major", "minor": "minor", "rate": "u64"}
# linux.resources.blockIO throttle key -> (v1 file, v2 io.max key)
_THROTTLES = {
    "throttleReadBpsDevice": ("blkio.throttle.read_bps_device", "rbps"),
    "throttleWriteBpsDevice": ("blkio.throttle.write_bps_device", "wbps"),
    "throttleReadIOPSDevice": ("blkio.throttle.read_iops_device", "riops"),
    "throttleWriteIOPSDevice": ("blkio.throttle.write_iops_device", "wiops"),
}
SCHEMA = {"weight": "u16", "leafWeight": "u16", "weightDevice": [_WEIGHT_DEV],
          **{k: [_THROTTLE_DEV] for k in _THROTTLES}}


class BlockIO:
    """What to set: weights (0 unchanged), per-device weights and throttles (each with its field)."""

    __slots__ = ("f", "weight", "leaf", "wdevs", "throttles", "first")

    def __init__(self, f: str, sec: dict) -> None:
        self.f = f
        self.weight: int = sec.get("weight") or 0
        self.leaf: int = sec.get("leafWeight") or 0
        # (field, major, minor, weight, leafWeight)
        self.wdevs = [(f"{f}.weightDevice[{i}]", wd["major"], wd["minor"], wd.get("weight") or 0,
                       wd.get("leafWeight") or 0) for i, wd in enumerate(sec.get("weightDevice") or ())]
        # (field, v1 file, v2 key, major, minor, rate)
        self.throttles = [(f"{f}.{key}[{i}]", v1file, v2key, td["major"], td["minor"], td.get("rate") or 0)
                          for key, (v1file, v2key) in _THROTTLES.items() for i, td in enumerate(sec.get(key) or ())]
        self.first = ("weight" if self.weight else "leafWeight" if self.leaf else "weightDevice" if self.wdevs
                      else self.throttles[0][0][len(f) + 1:] if self.throttles else "")


def parse(sec: dict, f: str) -> BlockIO | None:
    b = BlockIO(f, sec)
    return b if b.first else None


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight (10..1000) -> io.weight (1..10000), runc's conversion."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def apply(m: Manager, b: BlockIO, create: bool) -> None:
    d, ver = m.need("blkio" if "blkio" in m.v1 else "io", f"{b.f}.{b.first}")
    (_set_v1 if ver == 1 else _set_v2)(d, b)


def _need_file(d: str, name: str, field: str, what: str) -> None:
    if not exists(d + "/" + name):
        raise RailcarError(f"{field}: not supported by this kernel (no {what})")


def _set_v1(d: str, b: BlockIO) -> None:
    f = b.f
    if exists(d + "/blkio.weight"):
        wfile, wdfile = "blkio.weight", "blkio.weight_device"
    elif exists(d + "/blkio.bfq.weight"):
        wfile, wdfile = "blkio.bfq.weight", "blkio.bfq.weight_device"
    else:
        wfile = wdfile = ""
    if b.weight:
        if not wfile:
            raise RailcarError(f"{f}.weight: not supported by this kernel (no blkio.weight or blkio.bfq.weight)")
        write(f + ".weight", d, wfile, str(b.weight))
    if b.leaf:
        _need_file(d, "blkio.leaf_weight", f + ".leafWeight", "blkio.leaf_weight")
        write(f + ".leafWeight", d, "blkio.leaf_weight", str(b.leaf))
    for wf, major, minor, w, lw in b.wdevs:
        if w:
            if not wdfile:
                raise RailcarError(f"{wf}.weight: not supported by this kernel (no blkio.weight_device or "
                                   "blkio.bfq.weight_device)")
            write(wf + ".weight", d, wdfile, f"{major}:{minor} {w}")
        if lw:
            _need_file(d, "blkio.leaf_weight_device", wf + ".leafWeight", "blkio.leaf_weight_device")
            write(wf + ".leafWeight", d, "blkio.leaf_weight_device", f"{major}:{minor} {lw}")
    for tf, v1file, _v2key, major, minor, rate in b.throttles:
        write(tf, d, v1file, f"{major}:{minor} {rate}")


def _set_v2(d: str, b: BlockIO) -> None:
    # io.bfq.weight (same scale) when BFQ is there, else io.weight (converted)
    bfq = exists(d + "/io.bfq.weight")
    wfile, convert = ("io.bfq.weight", int) if bfq else ("io.weight", blkio_weight_to_io_weight)
    if b.weight:
        write(b.f + ".weight", d, wfile, str(convert(b.weight)))
    if b.leaf:
        raise RailcarError(f"{b.f}.leafWeight: not supported on cgroup v2")
    for wf, major, minor, w, lw in b.wdevs:
        if lw:
            raise RailcarError(f"{wf}.leafWeight: not supported on cgroup v2")
        if w:
            write(wf + ".weight", d, wfile, f"{major}:{minor} {convert(w)}")
    for tf, _v1file, v2key, major, minor, rate in b.throttles:
        write(tf, d, "io.max", f"{major}:{minor} {v2key}={rate if rate > 0 else 'max'}")


# -- statistics --------------------------------------------------------------------------------


def stats(m: Manager) -> dict:
    d = m.v1.get("blkio")
    if d:
        return _v1_stats(d)
    if m.v2 and "io" in m.v2_controllers:
        return _v2_stats(m.v2)
    return {}


def _entries(path: str) -> list[dict] | None:
    s = read_opt(path)
    if s is None:
        return None
    out: list[dict] = []
    for line in s.splitlines():
        fields = line.replace(":", " ").split()
        if len(fields) < 3:
            continue
        try:
            major, minor = int(fields[0]), int(fields[1])
            if len(fields) == 4:
                op, value = fields[2], int(fields[3])
            else:
                op, value = "", int(fields[2])
        except ValueError:
            continue
        out.append(_entry(major, minor, op, value))
    return out


def _entry(major: int, minor: int, op: str, value: int) -> dict:
    """runc's BlkioStatEntry as JSON: zero values are left out."""
    e: dict[str, Any] = {}
    if major:
        e["major"] = major
    if minor:
        e["minor"] = minor
    if op:
        e["op"] = op
    if value:
        e["value"] = value
    return e


_RECURSIVE = (("sectors_recursive", "sectorsRecursive"), ("io_service_time_recursive", "ioServiceTimeRecursive"),
              ("io_wait_time_recursive", "ioWaitTimeRecursive"), ("io_merged_recursive", "ioMergedRecursive"),
              ("io_queued_recursive", "ioQueueRecursive"), ("time_recursive", "ioTimeRecursive"),
              ("io_serviced_recursive", "ioServicedRecursive"),
              ("io_service_bytes_recursive", "ioServiceBytesRecursive"))
# runc's order: the first group whose first file exists (bfq debug, bfq, cfq, throttle)
_GROUPS = (
    tuple(("blkio.bfq." + name, key) for name, key in _RECURSIVE),
    tuple(("blkio.bfq." + name, key) for name, key in _RECURSIVE[-2:]),
    tuple(("blkio." + name, key) for name, key in _RECURSIVE),
    tuple(("blkio.throttle." + name, key) for name, key in _RECURSIVE[-2:]),
    (("blkio.throttle.io_serviced", "ioServicedRecursive"),
     ("blkio.throttle.io_service_bytes", "ioServiceBytesRecursive")),
)


def _v1_stats(d: str) -> dict:
    for group in _GROUPS:
        first = _entries(f"{d}/{group[0][0]}")
        if first is None:
            continue
        out: dict[str, list] = {}
        for i, (name, key) in enumerate(group):
            entries = first if i == 0 else _entries(f"{d}/{name}")
            if entries:
                out[key] = entries
        return out
    return {}


_IO_STAT = {"rbytes": ("ioServiceBytesRecursive", "Read"), "wbytes": ("ioServiceBytesRecursive", "Write"),
            "rios": ("ioServicedRecursive", "Read"), "wios": ("ioServicedRecursive", "Write")}


def _v2_stats(d: str) -> dict:
    out: dict[str, list] = {}
    for line in (read_opt(d + "/io.stat") or "").splitlines():
        parts = line.split()
        if len(parts) < 2 or ":" not in parts[0]:
            continue
        try:
            major, minor = (int(x) for x in parts[0].split(":", 1))
        except ValueError:
            continue
        for item in parts[1:]:
            k, _, v = item.partition("=")
            key_op = _IO_STAT.get(k)
            if key_op is None or not v.isdigit():
                continue
            out.setdefault(key_op[0], []).append(_entry(major, minor, key_op[1], int(v)))
    return out
