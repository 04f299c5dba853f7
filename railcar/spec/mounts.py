"""mounts: each entry as Mount records for the C core, in order (bind mounts with the flags that
need a remount, id-mapped binds with the user namespace holding their mapping, tmpfs copy-up,
sysfs without a network namespace of the container's own); a cgroup mount as the container's own
cgroup directories (railcar.cgroups says where they are)."""

from __future__ import annotations

from railcar import mountopts as mo
from railcar import posixos as os
from railcar.errors import SpecError, strerror
from railcar.plan import Mount, Symlink, enc
from railcar.spec.namespaces import IDMAP, map_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.plan import LaunchPlan

SCHEMA = {
    "mounts": [{"!": ("destination",), "destination": "abs", "type": "str", "source": "str",
                "options": "strs", "uidMappings": [IDMAP], "gidMappings": [IDMAP]}],
}


def plan(cfg: dict[str, Any], bundle: str, lp: LaunchPlan, ns: dict[str, str | None],
         cgroup_dirs: list[tuple[str, str]]) -> None:
    """Append every mount to lp.mounts; `cgroup_dirs` is cgroup_mount_sources()."""
    for i, m in enumerate(cfg.get("mounts") or []):
        dest = m["destination"]
        typ = m.get("type") or ""
        src = m.get("source")
        o = mo.parse(m.get("options") or [])
        if typ == "bind":
            o.flags |= mo.MS_BIND
        if typ == "cgroup" or typ == "cgroup2":
            _cgroup_mount(dest, o, lp, cgroup_dirs, ns, enc(f"mounts[{i}]"))
            continue
        if typ == "sysfs" and ("network" not in ns or ns["network"] is not None):
            # sysfs belongs to the network namespace: without our own, bind the host's
            typ, src, o.flags = "", "/sys", o.flags | mo.MS_BIND | mo.MS_REC
        is_file = 0
        if o.flags & mo.MS_BIND:
            if not src:
                raise SpecError(f"mounts[{i}].source", "a bind mount needs a source")
            if not os.path.isabs(src):
                src = os.path.join(bundle, src)
            try:
                st = os.stat(src)
            except OSError as e:
                raise SpecError(f"mounts[{i}].source", f"stat {src}: {strerror(e.errno)}") from None
            is_file = 0 if (st.st_mode & 0o170000) == 0o040000 else 1
            remount = o.flags & mo.BIND_REMOUNT
            flags = o.flags & ~mo.BIND_REMOUNT
            lp.mounts.append(Mount(enc(src), enc(dest), flags=flags, remount=remount,
                                   propagation=o.propagation, attr_set=o.attr_set, attr_clr=o.attr_clr,
                                   is_file=is_file, field=enc(f"mounts[{i}]"),
                                   idmap_fd=_idmap(cfg, m, o, i, lp, ns), idmap_recursive=int(o.idmap == 2)))
            continue
        if o.idmap or m.get("uidMappings") is not None or m.get("gidMappings") is not None:
            raise SpecError(f"mounts[{i}]", "id-mapped mounts are only supported for bind mounts")
        data = ",".join(o.data) or None
        copyup = 0
        if o.copyup and typ == "tmpfs":
            copyup = 1 if any(d.startswith("mode=") for d in o.data) else 2
        lp.mounts.append(Mount(enc(src) if src else enc(typ or "none"), enc(dest), enc(typ) if typ else None,
                               enc(data) if data else None, o.flags, propagation=o.propagation,
                               attr_set=o.attr_set, attr_clr=o.attr_clr, copyup=copyup,
                               field=enc(f"mounts[{i}]")))


def _idmap(cfg: dict[str, Any], m: dict[str, Any], o: mo.MountOptions, i: int, lp: LaunchPlan,
           ns: dict[str, str | None]) -> int:
    """An id-mapped bind's user namespace (its fd), or -1. The mount's own uidMappings and
    gidMappings; with only the idmap/ridmap option, the container's user namespace's (runc 1.2)."""
    uids, gids = m.get("uidMappings"), m.get("gidMappings")
    if not o.idmap and uids is None and gids is None:
        return -1
    field = f"mounts[{i}]"
    if uids is None and gids is None:
        if "user" not in ns:
            raise SpecError(f"{field}.options", "idmap without uidMappings and gidMappings takes the "
                                                "container's user namespace, and it has none")
        if ns["user"] is not None:  # joined: that namespace is the idmapping
            return lp.own(os.open(ns["user"], os.O_RDONLY | os.O_CLOEXEC))
        uids, gids = cfg["linux"].get("uidMappings"), cfg["linux"].get("gidMappings")
    if not uids or not gids:
        raise SpecError(field, "an id-mapped mount needs both uidMappings and gidMappings")
    from railcar import _core

    try:
        return lp.own(_core.idmap_userns(map_text(uids), map_text(gids)))
    except OSError as e:
        raise SpecError(f"{field}.uidMappings", f"{e.strerror}: {strerror(e.errno)}") from None


def _cgroup_mount(dest: str, o: mo.MountOptions, lp: LaunchPlan, cgroup_dirs: list[tuple[str, str]],
                  ns: dict[str, str | None], field: bytes) -> None:
    """/sys/fs/cgroup: on cgroup2 the filesystem itself; on v1 and hybrid a tmpfs
    with the container's own cgroup directory of each hierarchy bound in."""
    ro = o.flags & mo.MS_RDONLY
    base = o.flags & (mo.MS_NOSUID | mo.MS_NODEV | mo.MS_NOEXEC)
    if len(cgroup_dirs) == 1 and cgroup_dirs[0][0] == "":
        # With a cgroup namespace of its own, the filesystem itself; but where /sys is the host's (bound
        # with MS_REC, above: no network namespace of the container's own) the host's cgroup2 mount came
        # along and the same filesystem cannot be mounted on it again (EBUSY): then, as runc falls back,
        # a bind of the container's own cgroup, which is what the namespace's root shows.
        host_sys = "network" not in ns or ns["network"] is not None
        if ns.get("cgroup", 1) is None and not host_sys:
            lp.mounts.append(Mount(b"cgroup", enc(dest), b"cgroup2", None, base | ro, field=field))
        else:
            lp.mounts.append(Mount(enc(cgroup_dirs[0][1]), enc(dest), flags=mo.MS_BIND | mo.MS_REC,
                                   remount=base | ro, field=field))
        return
    lp.mounts.append(Mount(b"tmpfs", enc(dest), b"tmpfs", b"mode=755", base, field=field))
    for name, host in cgroup_dirs:
        target = f"{dest.rstrip('/')}/{name}"
        if host.startswith("->"):  # a comount alias: cpu -> cpu,cpuacct
            lp.mounts.append(Symlink(enc(host[2:]), enc(target), field))
            continue
        lp.mounts.append(Mount(enc(host), enc(target), flags=mo.MS_BIND | mo.MS_REC, remount=base | ro,
                               field=field))
    if ro:  # the tmpfs goes read-only once everything is bound in
        lp.mounts.append(Mount(None, enc(dest), remount=mo.MS_RDONLY | base, field=field))


def cgroup_mount_sources(cg: Any) -> list[tuple[str, str]]:
    """(name under /sys/fs/cgroup, host directory) of the container's own cgroup in
    each hierarchy; ("", dir) alone on cgroup v2; "->target" marks a comount alias. Rootless,
    a hierarchy the user could not make a directory in is the runtime's own cgroup there (where
    the container's processes stay), as runc binds it."""
    own_v1, own_v2 = _rootless_own(cg)
    if cg.kind == "v2":
        return [("", cg.v2 or own_v2)]
    out: dict[str, str] = {}
    layout = getattr(cg, "_layout", None)
    for ctrl, d in [*cg.v1.items(), *own_v1.items()]:
        if layout is not None and ctrl in layout.v1:  # a relative path is below our own cgroup
            mp = layout.v1[ctrl]
        else:
            mp = d[: -len(cg.path)] if cg.path not in ("", "/") and d.endswith(cg.path) else d
        name = os.path.basename(mp.rstrip("/")) or ctrl
        out[name] = d
        if "," in name:
            for part in name.split(","):
                out.setdefault(part, "->" + name)
    if cg.v2 or own_v2:
        out["unified"] = cg.v2 or own_v2
    return list(out.items())


def _rootless_own(cg: Any) -> tuple[dict[str, str], str]:
    """Rootless: the runtime's own cgroup in each hierarchy the container has no directory in."""
    layout = getattr(cg, "_layout", None)
    if not getattr(cg, "rootless", False) or layout is None:
        return {}, ""
    from railcar.cgroups.layout import place

    v1, v2 = place(layout, "")
    own = {c: d.rstrip("/") for c, d in v1.items() if c not in cg.v1}
    return own, (v2.rstrip("/") if layout.v2 and not cg.v2 else "")
