"""unified: linux.resources.unified, cgroup v2 files written as given ("memory.high": "1G"),
after every other controller so that they win."""

from __future__ import annotations

import errno

from railcar.cgroups.files import errtext, write_raw
from railcar.errors import RailcarError, SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups.manager import Manager

SCHEMA = "map"  # file name -> string


def parse(sec: dict, f: str) -> tuple[str, dict[str, str]] | None:
    for key in sec:
        if "/" in key or key.startswith("."):
            raise SpecError(f"{f}.{key}", "invalid cgroup file name")
    return (f, sec) if sec else None


def apply(m: Manager, cfg: tuple[str, dict[str, str]], create: bool) -> None:
    f, files = cfg
    if not m.v2:
        raise RailcarError(f"{f}: cannot be used on cgroup v1 (no unified hierarchy)")
    for key, val in files.items():
        p = m.v2 + "/" + key
        try:
            write_raw(p, val)
        except OSError as e:
            ctrl = key.split(".", 1)[0]
            if e.errno == errno.ENOENT and ctrl != "cgroup" and ctrl not in m.v2_controllers:
                where = " (it is mounted as cgroup v1)" if ctrl in m.v1 else ""
                raise RailcarError(f"{f}.{key}: the {ctrl} controller is not available in the unified "
                                   f"hierarchy{where}") from None
            raise RailcarError(f"{f}.{key}: write {p}: {errtext(e)}") from None
