"""linux.devices: the device nodes made in the container's /dev (after runc's defaults, which a
config may override by path), and the /dev symlinks every container gets. (Who may use which
device is linux.resources.devices, railcar.cgroups.devices.)"""

from __future__ import annotations

from railcar import posixos as os
from railcar.errors import SpecError
from railcar.plan import Symlink, enc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.plan import LaunchPlan

# (path, major, minor): the devices every container gets, as runc
DEFAULT_DEVICES = (("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
                   ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0))
S_IFCHR, S_IFBLK, S_IFIFO = 0o020000, 0o060000, 0o010000
_KIND = {"c": S_IFCHR, "u": S_IFCHR, "b": S_IFBLK, "p": S_IFIFO}


def _device(d: dict, f: str) -> None:
    if d["type"] != "p":
        for k in ("major", "minor"):
            if k not in d:
                raise SpecError(f"{f}.{k}", f'is required for type "{d["type"]}"')


SCHEMA = {
    "devices": [("and", {"!": ("type", "path"), "type": ("enum", "device type", _KIND), "path": "abs",
                         "major": "major", "minor": "minor", "fileMode": "u32", "uid": "u32", "gid": "u32"},
                 _device)],
}


def plan(cfg: dict[str, Any], lp: LaunchPlan) -> None:
    """lp.devices: (path, path, mode, dev, uid, gid) per node; the /dev links into lp.mounts."""
    seen: dict[str, tuple] = {}
    for path, major, minor in DEFAULT_DEVICES:
        seen[path] = (enc(path), enc(path), S_IFCHR | 0o666, os.makedev(major, minor), 0, 0)
    for d in cfg.get("linux", {}).get("devices") or []:
        kind = _KIND[d["type"]]
        mode = d.get("fileMode")
        dev = 0 if d["type"] == "p" else os.makedev(d.get("major", 0), d.get("minor", 0))
        seen[d["path"]] = (enc(d["path"]), enc(d["path"]), kind | (0o666 if mode is None else mode & 0o7777),
                           dev, d.get("uid", 0), d.get("gid", 0))
    lp.devices = list(seen.values())
    links = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
             ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
             ("pts/ptmx", "/dev/ptmx")]
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    for target, link in links:
        lp.mounts.append(Symlink(enc(target), enc(link), b"/dev symlinks"))
