"""linux.namespaces, linux.uidMappings, linux.gidMappings, linux.timeOffsets.

Planned as: new namespaces as clone flags, joined ones as fds of the declared type (user first,
mount last); the id maps of a new user namespace and the clock offsets of a new time namespace
as the text their /proc files take."""

from __future__ import annotations

from railcar import posixos as os
from railcar.errors import SpecError, strerror
from railcar.spec import U32, unique

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.plan import LaunchPlan

# OCI namespace type -> clone flag (CLONE_NEW*); its keys are the types config.json may name
NS_FLAGS = {
    "mount": 0x00020000, "uts": 0x04000000, "ipc": 0x08000000, "user": 0x10000000,
    "pid": 0x20000000, "network": 0x40000000, "cgroup": 0x02000000, "time": 0x00000080,
}
CLONE_NEWUSER = NS_FLAGS["user"]
CLONE_NEWNS = NS_FLAGS["mount"]
# the order namespaces are joined in (create's joined paths, exec, createContainer hooks): the user
# namespace first, as it decides what may be joined next; the mount namespace last, as after it
# paths are the container's
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")
# OCI namespace type -> its file in /proc/<pid>/ns
NS_PROC = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts", "user": "user",
           "cgroup": "cgroup", "time": "time"}

# one line of an id map: linux.uidMappings, and a bind mount's own (railcar.spec.mounts)
IDMAP = {"!": ("containerID", "hostID", "size"), "containerID": "u32", "hostID": "u32",
         "size": ("range", 1, U32)}


def _time_offsets(v: dict, f: str) -> None:
    for k in v:
        if k not in ("monotonic", "boottime"):
            raise SpecError(f, f'unknown clock "{k}"')


SCHEMA = {
    "namespaces": ("and", [{"!": ("type",), "type": ("enum", "namespace type", NS_FLAGS), "path": "path"}],
                   unique("type", "namespace type")),
    "uidMappings": [IDMAP],
    "gidMappings": [IDMAP],
    "timeOffsets": ("and", ("map", {"secs": "int", "nanosecs": "u32"}), _time_offsets),
}


def check(linux: dict) -> None:
    """What the fields say together (after their types are known to be right)."""
    ns = {n["type"]: n.get("path") for n in linux.get("namespaces", ())}
    if "user" in ns:
        if not ns["user"]:  # a new one: the kernel needs maps written before anything runs in it
            for k in ("uidMappings", "gidMappings"):
                if not linux.get(k):
                    raise SpecError(f"linux.{k}", "required when the config creates a user namespace")
    else:
        for k in ("uidMappings", "gidMappings"):
            if linux.get(k):
                raise SpecError(f"linux.{k}", "set, but linux.namespaces has no user namespace")
    if linux.get("timeOffsets"):
        if "time" not in ns:
            raise SpecError("linux.timeOffsets", "set, but linux.namespaces has no time namespace")
        if ns["time"]:
            raise SpecError("linux.timeOffsets", "cannot be set when joining an existing time namespace")


def map_text(maps: list[dict[str, int]]) -> bytes:
    """An id map as /proc/<pid>/uid_map takes it (and the C core's idmap_userns)."""
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps).encode()


def plan(cfg: dict[str, Any], lp: LaunchPlan) -> dict[str, str | None]:
    """New namespaces as clone flags, joined ones as fds (user first, mount last); returns
    {type: path to join, or None for a new one}, what the other sections plan by."""
    found: dict[str, str | None] = {}
    for i, ns in enumerate(cfg.get("linux", {}).get("namespaces") or []):
        t, path = ns["type"], ns.get("path") or None
        found[t] = path
        if path is None:
            lp.new_flags |= NS_FLAGS[t]
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise SpecError(f"linux.namespaces[{i}].path", f"open {path}: {strerror(e.errno)}") from None
        fd = lp.own(fd)
        _check_ns(fd, t, path, f"linux.namespaces[{i}].path")
        lp.joins.append((fd, NS_FLAGS[t]))
    lp.joins.sort(key=lambda j: JOIN_ORDER.index(next(t for t, f in NS_FLAGS.items() if f == j[1])))
    if "mount" not in found:
        lp.host_mounts = 1
    return found


def _check_ns(fd: int, t: str, path: str, field: str) -> None:
    """The file must be a namespace of the declared type (NS_GET_NSTYPE)."""
    import fcntl

    try:
        got = fcntl.ioctl(fd, 0xB703)
    except OSError:
        raise SpecError(field, f"{path} is not a namespace file") from None
    if got != NS_FLAGS[t]:
        names = {v: k for k, v in NS_FLAGS.items()}
        raise SpecError(field, f"{path} is a {names.get(got, 'different')} namespace, not a {t} namespace")


def id_maps(cfg: dict[str, Any], lp: LaunchPlan, ns: dict[str, str | None]) -> None:
    """A new user namespace's uid and gid maps (its devices are then bound, not made), and a new
    time namespace's offsets."""
    linux = cfg.get("linux", {})
    offs = linux.get("timeOffsets")
    if offs and "time" in ns and ns["time"] is None:  # with or without a user namespace
        lp.timens_offsets = "".join(
            f"{clock} {v.get('secs', 0)} {v.get('nanosecs', 0)}\n" for clock, v in offs.items()
        ).encode()
    if "user" not in ns or ns["user"] is not None:
        from railcar import rootless

        if "user" in ns or rootless.in_userns():  # mknod needs the initial namespace: bind (runc)
            lp.devices_bind = 1
        return
    lp.uid_map = map_text(linux.get("uidMappings") or []) or None
    lp.gid_map = map_text(linux.get("gidMappings") or []) or None
    lp.devices_bind = 1
    from railcar import rootless

    if rootless.unprivileged():
        _rootless_maps(linux, lp)


def _rootless_maps(linux: dict[str, Any], lp: LaunchPlan) -> None:
    """An unprivileged runtime may write one mapping of its own ids, with setgroups denied for
    the gid map (the kernel's rule for a gid map of our own gid); anything else goes
    through the setuid newuidmap/newgidmap (Debian's uidmap), which check /etc/subuid and
    /etc/subgid. The parent tries the direct write first and the tool on EPERM, as runc does."""
    from railcar import rootless

    gids = linux.get("gidMappings") or []
    if len(gids) == 1 and gids[0].get("hostID") == os.getegid() and gids[0].get("size") == 1:
        lp.setgroups_deny = 1
    for key, tool in (("uidmap_tool", "newuidmap"), ("gidmap_tool", "newgidmap")):
        found = rootless.find_tool(tool)
        if found:
            setattr(lp, key, found.encode())


def is_host_ns(path: str, kind: str) -> bool:
    """A namespace joined by path that is the runtime's own (its sysctls are the host's)."""
    try:
        a, b = os.stat(path), os.stat(f"/proc/self/ns/{NS_PROC[kind]}")
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
