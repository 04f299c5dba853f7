"""cgroups: v1 (comounted hierarchies included), v2 (unified) and hybrid layouts behind one
interface, modelled on runc's libcontainer/cgroups (fs, fs2) and youki's libcgroups.

  layout.py     where the hierarchies are (`detect`); linux.cgroupsPath -> a path in each
  manager.py    `Manager`, the interface (make, add, pids, freeze, destroy, stats), and its v1, v2
                and hybrid implementations; `implementation` is where a systemd manager would go
  remove.py     Manager.destroy: kill what is inside, rmdir
  cpu.py cpuset.py memory.py pids.py blkio.py hugetlb.py network.py rdma.py unified.py devices/
                one module per controller: its part of linux.resources (SCHEMA, parse), its v1
                and v2 writes (apply), its statistics; devices/program.py is the v2 eBPF filter
  files.py      reading and writing cgroup files

linux.resources is validated here, for config.json (railcar.spec calls validate_resources) and
for `update` alike: each present section by its controllers' SCHEMA (in railcar.spec's schema
language, so errors read as every config error does) and parse(). Errors are RailcarErrors
naming the field, e.g. `linux.resources.memory.limit: write <file>: invalid argument`.

Hot path (create, run, state, ...): a controller's module is imported only when its section of
linux.resources is present (or statistics are read), the layout code only when a cgroup is
placed, remove.py only to remove one.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

    from railcar.cgroups.layout import Layout, detect, resolve_path
    from railcar.cgroups.manager import Manager, NotOurs

__all__ = ["ORDER", "Layout", "Manager", "NotOurs", "at", "create", "detect", "from_state", "parse_resources",
           "resolve_path", "validate_resources"]

# The controllers, in the order their settings are written (runc's fs subsystem list): cpuset
# before cpu and memory, the device rules before any process can open anything, unified last
# (its raw files win).
ORDER = ("cpuset", "devices", "memory", "cpu", "pids", "blkio", "hugetlb", "network", "rdma", "unified")
# linux.resources key -> the controller modules that read it
_SECTIONS = {
    "cpu": ("cpuset", "cpu"), "devices": ("devices",), "memory": ("memory",), "pids": ("pids",),
    "blockIO": ("blkio",), "hugepageLimits": ("hugetlb",), "network": ("network",), "rdma": ("rdma",),
    "unified": ("unified",),
}
# public names defined in submodules, imported on first use
_LAZY = {"Layout": "layout", "detect": "layout", "resolve_path": "layout", "Manager": "manager",
         "NotOurs": "manager"}


def __getattr__(name: str) -> object:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'railcar.cgroups' has no attribute {name!r}")
    return getattr(_import(mod), name)


def _import(name: str) -> ModuleType:
    """railcar.cgroups.<name>, imported on first use."""
    full = "railcar.cgroups." + name
    mod = sys.modules.get(full)
    if mod is None:
        __import__(full)
        mod = sys.modules[full]
    return mod


def at(cgroups_path: str, cid: str, systemd: bool, layout: Layout | None = None) -> Manager:
    """The manager of a container's cgroup (linux.cgroupsPath, the id, --systemd-cgroup) in every
    hierarchy of `layout` (the host's when None), without creating anything: Manager.make does,
    so that a caller can record the paths first."""
    from railcar.cgroups.layout import detect, resolve_path
    from railcar.cgroups.manager import placed

    path = resolve_path(cgroups_path, cid, systemd)
    return placed(layout if layout is not None else detect(), path)


def create(cgroups_path: str, cid: str, systemd: bool, resources: dict | None,
           layout: Layout | None = None) -> Manager:
    """`at`, then mkdir in every hierarchy and apply linux.resources; on error undo and raise."""
    m = at(cgroups_path, cid, systemd, layout)
    m.make(resources)
    return m


def from_state(d: dict) -> Manager:
    """The manager a container's state recorded (Manager.to_state)."""
    from railcar.cgroups.manager import implementation

    kind = d.get("kind", "")
    return implementation(kind)(kind, d.get("path", ""), dict(d.get("v1") or {}), d.get("v2") or "",
                                set(d.get("v2_controllers") or ()), dict(d.get("inodes") or {}))


def validate_resources(res: dict, field: str = "linux.resources") -> None:
    """linux.resources (or `update --resources`), checked as config.json is: types, ranges and
    combinations, each error naming the field. What depends on the host is checked when set."""
    parse_resources(res, field)


def parse_resources(res: dict, field: str = "linux.resources", create: bool = False) -> list[tuple[ModuleType, Any]]:
    """Check linux.resources (`field` names it in errors) and return (controller module, its
    parsed settings) in ORDER; controllers with nothing to set are left out, but for the device
    rules on `create` (runc's default rules apply with none given). Null sections are dropped
    from `res`, as null fields are everywhere in config.json."""
    from railcar import spec

    spec.check(res, {}, field)
    found: dict[str, Any] = {}
    nulls: list[str] = []
    for key, v in res.items():  # the object's order: the first bad field is the one reported
        names = _SECTIONS.get(key)
        if names is None:
            continue
        if v is None:
            nulls.append(key)
            continue
        f = f"{field}.{key}"
        mods = [_import(n) for n in names]
        spec.check(v, mods[0].SCHEMA if len(mods) == 1 else {k: n for m in mods for k, n in m.SCHEMA.items()}, f)
        for name, mod in zip(names, mods):
            cfg = mod.parse(v, f)
            if cfg is not None:
                found[name] = cfg
    for key in nulls:
        del res[key]
    if create and "devices" not in found:
        found["devices"] = _import("devices").parse([], field + ".devices")
    return [(_import(name), found[name]) for name in ORDER if name in found]
