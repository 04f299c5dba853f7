"""Where the cgroup hierarchies are, and where a container's cgroup goes in each.

`detect()` parses /proc/self/mountinfo (which controllers are mounted where, v1 or cgroup2) and
/proc/self/cgroup (railcar's own cgroup per hierarchy, the base for relative cgroupsPaths): the
layout is never assumed. `resolve_path()` turns linux.cgroupsPath (cgroupfs or systemd
"slice:prefix:name" form) into one path, and `place()` maps it into each hierarchy.
"""

from __future__ import annotations

from railcar import posixos as os
from railcar.cgroups.files import read, read_opt
from railcar.errors import RailcarError

# v1 subsystems the kernel knows ("name=<x>" named hierarchies are handled separately).
V1_SUBSYSTEMS = frozenset((
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "net_prio",
    "blkio", "perf_event", "hugetlb", "pids", "rdma", "misc", "debug",
))
# The only named v1 hierarchy a container joins (as runc does).
NAMED_JOINED = "name=systemd"


class Layout:
    """Where the cgroup hierarchies are.

    kind: "v1", "v2" or "hybrid"; v1: controller -> mountpoint (comounted controllers map to the
    same mountpoint; "name=systemd" included); v2: the cgroup2 mountpoint or ""; v2_controllers:
    controllers available at the cgroup2 mount root; roots: mountpoint -> root of the mount (not
    "/" inside a container without a cgroup namespace); own_v1 / own_v2: this process's cgroup
    per v1 controller / in the unified hierarchy (from /proc/self/cgroup).
    """

    __slots__ = ("kind", "v1", "v2", "v2_controllers", "roots", "own_v1", "own_v2")

    def __init__(
        self,
        kind: str,
        v1: dict[str, str],
        v2: str,
        v2_controllers: set[str],
        roots: dict[str, str] | None = None,
        own_v1: dict[str, str] | None = None,
        own_v2: str = "/",
    ) -> None:
        self.kind = kind
        self.v1 = v1
        self.v2 = v2
        self.v2_controllers = v2_controllers
        self.roots = roots if roots is not None else {}
        self.own_v1 = own_v1 if own_v1 is not None else {}
        self.own_v2 = own_v2

    def __repr__(self) -> str:
        return (f"Layout(kind={self.kind!r}, v1={self.v1!r}, v2={self.v2!r}, "
                f"v2_controllers={sorted(self.v2_controllers)!r})")


def _unescape(s: str) -> str:
    """mountinfo octal escapes (\\040 = space, ...)."""
    if "\\" not in s:
        return s
    out = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 4 <= n and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


def detect(
    mountinfo_text: str | None = None,
    proc_cgroup_text: str | None = None,
    v2_controllers_text: str | None = None,
) -> Layout:
    """Parse mountinfo + /proc/self/cgroup (the live ones unless given) into a Layout.

    v2_controllers_text is the content of <cgroup2 mount>/cgroup.controllers; read from the
    mount when not given (tests pass it to stay independent of the host).
    """
    if mountinfo_text is None:
        mountinfo_text = read("/proc/self/mountinfo")
    if proc_cgroup_text is None:
        proc_cgroup_text = read_opt("/proc/self/cgroup") or ""
    v1: dict[str, str] = {}
    v1_root: dict[str, str] = {}
    roots: dict[str, str] = {}
    v2 = ""
    v2_root = ""
    for line in mountinfo_text.splitlines():
        fields = line.split()
        # id parent maj:min root mountpoint options [optional...] - fstype source superoptions
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        if len(fields) < sep + 2:
            continue
        fstype = fields[sep + 1]
        if fstype == "cgroup2":
            root = _unescape(fields[3])
            mp = _unescape(fields[4])
            # several mounts of the same hierarchy: prefer the one showing the most of it
            if not v2 or len(root) < len(v2_root):
                v2, v2_root = mp, root
                roots[mp] = root
        elif fstype == "cgroup":
            root = _unescape(fields[3])
            mp = _unescape(fields[4])
            superopts = fields[sep + 3] if len(fields) > sep + 3 else ""
            ctrls = [o for o in superopts.split(",")
                     if o in V1_SUBSYSTEMS or o.startswith("name=")]
            for c in ctrls:
                if c not in v1 or len(root) < len(v1_root[c]):
                    v1[c] = mp
                    v1_root[c] = root
                    roots[mp] = root
    v2_controllers: set[str] = set()
    if v2:
        if v2_controllers_text is None:
            v2_controllers_text = read_opt(v2 + "/cgroup.controllers") or ""
        v2_controllers = set(v2_controllers_text.split())
    has_v1 = any(not c.startswith("name=") for c in v1) or NAMED_JOINED in v1
    if v2 and not has_v1:
        kind = "v2"
        v1 = {}
    elif has_v1 and not v2:
        kind = "v1"
    elif has_v1 and v2:
        kind = "hybrid"
    else:
        raise RailcarError("cgroups: no cgroup filesystem is mounted (see /proc/self/mountinfo)")
    own_v1: dict[str, str] = {}
    own_v2 = "/"
    for line in proc_cgroup_text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, ctrls_, path = parts
        if hid == "0" and ctrls_ == "":
            own_v2 = path
        else:
            for c in ctrls_.split(","):
                if c:
                    own_v1[c] = path
    return Layout(kind, v1, v2, v2_controllers, roots, own_v1, own_v2)


# ---------------------------------------------------------------------------------------------
# cgroupsPath


def _clean(p: str) -> str:
    """Lexically clean a path; a relative one is cleaned as if rooted, so `..` cannot escape."""
    absolute = p.startswith("/")
    n = os.path.normpath("/" + p)
    if n.startswith("//"):
        n = "/" + n.lstrip("/")
    if absolute:
        return n
    return n[1:]


def _expand_slice(slice_: str) -> str:
    """systemd slice name -> path: `a-b.slice` -> `/a.slice/a-b.slice`, `-.slice` -> `/`."""
    suffix = ".slice"
    if len(slice_) <= len(suffix) or not slice_.endswith(suffix) or "/" in slice_:
        raise RailcarError(f"linux.cgroupsPath: invalid systemd slice name {slice_!r}")
    if slice_ == "-.slice":
        return "/"
    name = slice_[:-len(suffix)]
    path = ""
    prefix = ""
    for comp in name.split("-"):
        if not comp:
            raise RailcarError(f"linux.cgroupsPath: invalid systemd slice name {slice_!r}")
        path += "/" + prefix + comp + suffix
        prefix += comp + "-"
    return path


def resolve_path(cgroups_path: str, cid: str, systemd: bool) -> str:
    """linux.cgroupsPath -> the cgroup path inside each hierarchy.

    An absolute result ("/x/y") is under each hierarchy's mountpoint. A relative result ("x/y",
    from a relative cgroupsPath, as runc does) is relative to railcar's own cgroup in each
    hierarchy (see /proc/self/cgroup). "" -> "/railcar/<id>". With systemd the form is
    "slice:prefix:name" -> "/<expanded slice>/<prefix>-<name>.scope" (default
    "system.slice:railcar:<id>"), the path systemd would give that scope.
    """
    if systemd:
        p = cgroups_path or f"system.slice:railcar:{cid}"
        parts = p.split(":")
        if len(parts) != 3:
            raise RailcarError(
                'linux.cgroupsPath: expected "slice:prefix:name" for systemd cgroups, '
                f"got {p!r}")
        slice_, prefix, name = parts
        if not name or "/" in name or "/" in prefix:
            raise RailcarError(
                f'linux.cgroupsPath: invalid systemd unit in {p!r} (form "slice:prefix:name")')
        parent = _expand_slice(slice_ or "system.slice")
        if name.endswith(".slice"):
            unit = name
        elif prefix:
            unit = f"{prefix}-{name}.scope"
        else:
            unit = f"{name}.scope"
        return parent.rstrip("/") + "/" + unit
    if not cgroups_path:
        return f"/railcar/{cid}"
    p = _clean(cgroups_path)
    if p in ("/", ""):
        raise RailcarError(
            f"linux.cgroupsPath: {cgroups_path!r} names the runtime's or the root cgroup itself")
    return p


def _hier_dir(mountpoint: str, root: str, own: str, path: str) -> str:
    if path.startswith("/"):
        return mountpoint.rstrip("/") + path
    base = own or "/"
    if root and root != "/":
        if base == root:
            base = "/"
        elif base.startswith(root + "/"):
            base = base[len(root):]
    base = base.rstrip("/")
    return mountpoint.rstrip("/") + base + "/" + path


def place(layout: Layout, path: str) -> tuple[dict[str, str], str]:
    """A resolved path in every hierarchy: (v1 controller -> directory, unified directory or "").
    Named v1 hierarchies other than name=systemd are left out."""
    v1: dict[str, str] = {}
    for ctrl, mp in layout.v1.items():
        if ctrl.startswith("name=") and ctrl != NAMED_JOINED:
            continue
        v1[ctrl] = _hier_dir(mp, layout.roots.get(mp, "/"), layout.own_v1.get(ctrl, "/"), path)
    v2 = ""
    if layout.v2:
        v2 = _hier_dir(layout.v2, layout.roots.get(layout.v2, "/"), layout.own_v2, path)
    return v1, v2
