"""spec (validated config.json) → LaunchPlan: plain data for railcar._core.

Everything that can be decided before clone is decided here: flags, paths,
byte strings, open fds.  The C child only executes the plan."""

from __future__ import annotations

import os
from typing import NamedTuple

from railcar import mountopts as mo
from railcar.errors import SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NS_FLAGS = {
    "mount": 0x00020000, "uts": 0x04000000, "ipc": 0x08000000, "user": 0x10000000,
    "pid": 0x20000000, "network": 0x40000000, "cgroup": 0x02000000, "time": 0x00000080,
}
CLONE_NEWUSER = NS_FLAGS["user"]
CLONE_NEWNS = NS_FLAGS["mount"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# (path, major, minor): the devices every container gets, as runc
DEFAULT_DEVICES = (("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
                   ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0))
S_IFCHR, S_IFBLK, S_IFIFO = 0o020000, 0o060000, 0o010000
# sysctls the kernel keeps per namespace (runc's list): anything else would be written to the host
_SYSCTL_NS = (("kernel.msg", "ipc"), ("kernel.sem", "ipc"), ("kernel.shm", "ipc"),
              ("fs.mqueue.", "ipc"), ("net.", "network"), ("kernel.domainname", "uts"))
# OCI namespace type -> its file in /proc/<pid>/ns
NS_PROC = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts", "user": "user",
           "cgroup": "cgroup", "time": "time"}


class Mount(NamedTuple):
    """One mount step: struct rc_mount of csrc/rc.h, field for field."""

    source: bytes | None
    dest: bytes
    fstype: bytes | None = None
    data: bytes | None = None
    flags: int = 0  # MS_* for the mount (MS_BIND|MS_REC for rbind)
    remount: int = 0  # for binds: flags that need a MS_REMOUNT (MS_RDONLY, MS_NOSUID, ...)
    propagation: int = 0
    attr_set: int = 0  # mount_setattr attributes applied recursively (rbind ro)
    attr_clr: int = 0
    is_file: int = 0  # a bind of a non-directory: the target is made as a file
    copyup: int = 0  # tmpfs over a directory: copy its contents in; 2: and its mode
    field: bytes = b"mounts"  # the config.json field, for errors


class Symlink(NamedTuple):
    """A symlink made inside the rootfs among the mount steps (the /dev links, a comounted
    cgroup's alias), in order with them: it becomes an rc_mount with is_symlink set."""

    target: bytes
    link: bytes
    field: bytes = b"mounts"


class LaunchPlan:
    """What _core.Spawn.start reads; attribute names mirror struct rc_plan."""

    def __init__(self) -> None:
        self.new_flags = 0
        self.joins: list[tuple[int, int]] = []
        self.uid_map: bytes | None = None
        self.gid_map: bytes | None = None
        self.timens_offsets: bytes | None = None
        self.cgroup_fds: list[int] = []
        self.rootfs = b""
        self.root_propagation = mo.MS_SLAVE | mo.MS_REC
        self.no_pivot = 0
        self.readonly_root = 0
        self.mounts: list[Mount | Symlink] = []
        self.devices: list[tuple] = []
        self.devices_bind = 0
        self.masked: list[bytes] = []
        self.readonly: list[bytes] = []
        self.hooks_pause = 0
        self.sysctl: list[tuple[bytes, bytes]] = []
        self.hostname: bytes | None = None
        self.domainname: bytes | None = None
        self.rlimits: list[tuple[int, int, int]] = []
        self.oom_score_adj: bytes | None = None
        self.umask = 0o022
        self.cwd: bytes | None = b"/"
        self.exe = b""
        self.path_env: bytes | None = DEFAULT_PATH.encode()
        self.terminal = 0
        self.console_fd = -1
        self.rows = 0
        self.cols = 0
        self.helper_fd = -1
        self.helper_plan_fd = -1
        self.fifo_fd = -1
        self.preserve_fds = 0
        self.env: list[bytes] = []
        self.home_uid = -1
        self.init = 1
        self.exec_mode = 0
        self.trace = 0  # --trace-startup: the child and the helper report their stages
        self.fds: list[int] = []  # every fd opened for this plan: closed by close()
        self.floor = 3  # runtime fds live at or above 3 + preserve_fds

    def own(self, fd: int) -> int:
        """Take an fd into the plan, moved out of the range the caller preserves."""
        if fd < self.floor:
            import fcntl

            new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, self.floor)
            os.close(fd)
            fd = new
        self.fds.append(fd)
        return fd

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []


def _b(s: str) -> bytes:
    # arguments that were not UTF-8 arrive surrogate-escaped: give the kernel the same bytes
    return s.encode("utf-8", "surrogateescape")


def namespaces(cfg: dict[str, Any], lp: LaunchPlan) -> dict[str, str | None]:
    """New namespaces as clone flags, joined ones as fds (user first, mount last)."""
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
            raise SpecError(f"linux.namespaces[{i}].path", f"open {path}: {_err(e)}") from None
        fd = lp.own(fd)
        _check_ns(fd, t, path, f"linux.namespaces[{i}].path")
        lp.joins.append((fd, NS_FLAGS[t]))
    lp.joins.sort(key=lambda j: 0 if j[1] == CLONE_NEWUSER else 2 if j[1] == CLONE_NEWNS else 1)
    if "mount" not in found:
        raise SpecError("linux.namespaces", "a mount namespace is required")
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
    linux = cfg.get("linux", {})
    if "user" not in ns or ns["user"] is not None:
        return
    for key, attr in (("uidMappings", "uid_map"), ("gidMappings", "gid_map")):
        lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux.get(key) or [])
        setattr(lp, attr, lines.encode() if lines else None)
    lp.devices_bind = 1
    offs = linux.get("timeOffsets")
    if offs and "time" in ns:
        lp.timens_offsets = "".join(
            f"{clock} {v.get('secs', 0)} {v.get('nanosecs', 0)}\n" for clock, v in offs.items()
        ).encode()


def _err(e: OSError) -> str:
    from railcar.errors import strerror

    return strerror(e.errno)


def mounts(cfg: dict[str, Any], bundle: str, lp: LaunchPlan, ns: dict[str, str | None],
           cgroup_dirs: list[tuple[str, str]]) -> None:
    for i, m in enumerate(cfg.get("mounts") or []):
        dest = m["destination"]
        typ = m.get("type") or ""
        src = m.get("source")
        o = mo.parse(m.get("options") or [])
        if typ == "bind":
            o.flags |= mo.MS_BIND
        if typ == "cgroup" or typ == "cgroup2":
            _cgroup_mount(dest, o, lp, cgroup_dirs, ns, _b(f"mounts[{i}]"))
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
                raise SpecError(f"mounts[{i}].source", f"stat {src}: {_err(e)}") from None
            is_file = 0 if (st.st_mode & 0o170000) == 0o040000 else 1
            remount = o.flags & mo.BIND_REMOUNT
            flags = o.flags & ~mo.BIND_REMOUNT
            lp.mounts.append(Mount(_b(src), _b(dest), flags=flags, remount=remount,
                                   propagation=o.propagation, attr_set=o.attr_set, attr_clr=o.attr_clr,
                                   is_file=is_file, field=_b(f"mounts[{i}]")))
            continue
        data = ",".join(o.data) or None
        copyup = 0
        if o.copyup and typ == "tmpfs":
            copyup = 1 if any(d.startswith("mode=") for d in o.data) else 2
        lp.mounts.append(Mount(_b(src) if src else _b(typ or "none"), _b(dest), _b(typ) if typ else None,
                               _b(data) if data else None, o.flags, propagation=o.propagation,
                               attr_set=o.attr_set, attr_clr=o.attr_clr, copyup=copyup,
                               field=_b(f"mounts[{i}]")))


def _cgroup_mount(dest: str, o: mo.MountOptions, lp: LaunchPlan, cgroup_dirs: list[tuple[str, str]],
                  ns: dict[str, str | None], field: bytes) -> None:
    """/sys/fs/cgroup: on cgroup2 the filesystem itself; on v1 and hybrid a tmpfs
    with the container's own cgroup directory of each hierarchy bound in."""
    ro = o.flags & mo.MS_RDONLY
    base = o.flags & (mo.MS_NOSUID | mo.MS_NODEV | mo.MS_NOEXEC)
    if len(cgroup_dirs) == 1 and cgroup_dirs[0][0] == "":
        if ns.get("cgroup", 1) is None:
            lp.mounts.append(Mount(b"cgroup", _b(dest), b"cgroup2", None, base | ro, field=field))
        else:
            lp.mounts.append(Mount(_b(cgroup_dirs[0][1]), _b(dest), flags=mo.MS_BIND | mo.MS_REC,
                                   remount=base | ro, field=field))
        return
    lp.mounts.append(Mount(b"tmpfs", _b(dest), b"tmpfs", b"mode=755", base, field=field))
    for name, host in cgroup_dirs:
        target = f"{dest.rstrip('/')}/{name}"
        if host.startswith("->"):  # a comount alias: cpu -> cpu,cpuacct
            lp.mounts.append(Symlink(_b(host[2:]), _b(target), field))
            continue
        lp.mounts.append(Mount(_b(host), _b(target), flags=mo.MS_BIND | mo.MS_REC, remount=base | ro,
                               field=field))
    if ro:  # the tmpfs goes read-only once everything is bound in
        lp.mounts.append(Mount(None, _b(dest), remount=mo.MS_RDONLY | base, field=field))


def cgroup_mount_sources(cg: Any) -> list[tuple[str, str]]:
    """(name under /sys/fs/cgroup, host directory) of the container's own cgroup in
    each hierarchy; ("", dir) alone on cgroup v2; "->target" marks a comount alias."""
    if cg.kind == "v2":
        return [("", cg.v2)]
    out: dict[str, str] = {}
    for ctrl, d in cg.v1.items():
        mp = d[: -len(cg.path)] if cg.path not in ("", "/") and d.endswith(cg.path) else d
        name = os.path.basename(mp.rstrip("/")) or ctrl
        out[name] = d
        if "," in name:
            for part in name.split(","):
                out.setdefault(part, "->" + name)
    if cg.v2:
        out["unified"] = cg.v2
    return list(out.items())


def devices(cfg: dict[str, Any], lp: LaunchPlan) -> None:
    seen: dict[str, tuple] = {}
    for path, major, minor in DEFAULT_DEVICES:
        seen[path] = (_b(path), _b(path), S_IFCHR | 0o666, os.makedev(major, minor), 0, 0)
    for d in cfg.get("linux", {}).get("devices") or []:
        kind = {"c": S_IFCHR, "u": S_IFCHR, "b": S_IFBLK, "p": S_IFIFO}[d["type"]]
        mode = d.get("fileMode")
        dev = 0 if d["type"] == "p" else os.makedev(d.get("major", 0), d.get("minor", 0))
        seen[d["path"]] = (_b(d["path"]), _b(d["path"]), kind | (0o666 if mode is None else mode & 0o7777),
                           dev, d.get("uid", 0), d.get("gid", 0))
    lp.devices = list(seen.values())
    links = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
             ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
             ("pts/ptmx", "/dev/ptmx")]
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    for target, link in links:
        lp.mounts.append(Symlink(_b(target), _b(link), b"/dev symlinks"))


def sysctls(cfg: dict[str, Any], lp: LaunchPlan, ns: dict[str, str | None]) -> None:
    for key, value in (cfg.get("linux", {}).get("sysctl") or {}).items():
        field = f'linux.sysctl["{key}"]'
        if "/" in key or ".." in key or not key:
            raise SpecError(field, f"invalid sysctl name {key!r}")
        if key == "kernel.hostname":
            raise SpecError(field, 'sysctl "kernel.hostname" is not allowed: it conflicts with the "hostname" field')
        need = next((n for prefix, n in _SYSCTL_NS if key.startswith(prefix)), None)
        if need is None:
            raise SpecError(field, f"sysctl {key!r} is not in a separate kernel namespace (it would change the host)")
        if need not in ns or (ns[need] and _is_host_ns(ns[need], need)):  # type: ignore[arg-type]
            raise SpecError(field, f"sysctl {key!r} is not allowed without a {need} namespace of the container's own")
        lp.sysctl.append((_b("/proc/sys/" + key.replace(".", "/")), _b(value), _b(field)))


def _is_host_ns(path: str, kind: str) -> bool:
    """A namespace joined by path that is the runtime's own: its sysctls are the host's."""
    try:
        a, b = os.stat(path), os.stat(f"/proc/self/ns/{NS_PROC[kind]}")
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def process(cfg: dict[str, Any], lp: LaunchPlan, ns: dict[str, str | None]) -> None:
    from railcar.spec import RLIMITS

    proc = cfg["process"]
    lp.exe = _b(proc["args"][0])
    env = proc.get("env") or []
    lp.env = [_b(e) for e in env]
    if not any(e.startswith("HOME=") for e in env):
        lp.home_uid = (proc.get("user") or {}).get("uid", 0)
    path = next((e[5:] for e in env if e.startswith("PATH=")), None)
    lp.path_env = _b(path if path is not None else DEFAULT_PATH)
    lp.cwd = _b(proc.get("cwd") or "/")
    umask = (proc.get("user") or {}).get("umask")
    lp.umask = 0o022 if umask is None else umask
    for r in proc.get("rlimits") or []:
        lp.rlimits.append((RLIMITS[r["type"]], r["soft"], r["hard"]))
    if "oomScoreAdj" in proc:
        lp.oom_score_adj = _b(str(proc["oomScoreAdj"]))
    host = cfg.get("hostname")
    if host is not None:
        if "uts" not in ns:
            raise SpecError("hostname", "setting the hostname needs a uts namespace of the container's own")
        lp.hostname = _b(host)
    dom = cfg.get("domainname")
    if dom is not None:
        if "uts" not in ns:
            raise SpecError("domainname", "setting the domainname needs a uts namespace of the container's own")
        lp.domainname = _b(dom)
    if proc.get("terminal"):
        lp.terminal = 1
        size = proc.get("consoleSize") or {}
        lp.rows, lp.cols = size.get("height", 0), size.get("width", 0)


def rootfs(cfg: dict[str, Any], bundle: str, lp: LaunchPlan) -> str:
    root = cfg["root"]["path"]
    path = os.path.realpath(os.path.join(bundle, root))
    lp.rootfs = _b(path)
    lp.readonly_root = 1 if cfg["root"].get("readonly") else 0
    prop = cfg.get("linux", {}).get("rootfsPropagation")
    if prop:
        lp.root_propagation = mo.PROPAGATION[prop]
    linux = cfg.get("linux", {})
    lp.masked = [_b(p) for p in linux.get("maskedPaths") or []]
    lp.readonly = [_b(p) for p in linux.get("readonlyPaths") or []]
    return path


def lsm_exec(proc: dict[str, Any]) -> tuple[str, str] | None:
    """(attr file, value) that labels the process at exec; a label the host cannot
    apply is an error, never silently dropped."""
    profile = proc.get("apparmorProfile")
    label = proc.get("selinuxLabel")
    if profile and label:
        raise SpecError("process", "apparmorProfile and selinuxLabel are both set; a host has one of them")
    if profile:
        try:
            with open("/sys/module/apparmor/parameters/enabled", "rb") as f:
                on = f.read().strip() == b"Y"
        except OSError:
            on = False
        if not on:
            raise SpecError("process.apparmorProfile", f"profile {profile!r} asked for, but AppArmor is not "
                            "enabled on this host")
        attr = "/proc/self/attr/apparmor/exec"
        return (attr if os.path.exists(attr) else "/proc/self/attr/exec", f"exec {profile}")
    if label:
        if not os.path.exists("/sys/fs/selinux/enforce"):
            raise SpecError("process.selinuxLabel", f"label {label!r} asked for, but SELinux is not enabled "
                            "on this host")
        return ("/proc/self/attr/exec", label)
    return None


def caps_mask(names: list[str] | None) -> int:
    from railcar.spec import CAPS

    m = 0
    for n in names or []:
        m |= 1 << CAPS[n]
    return m


def host_bounding() -> int:
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"CapBnd:"):
                return int(line.split()[1], 16)
    return (1 << 64) - 1


def helper_plan(cfg: dict[str, Any], lp: LaunchPlan, init: bool, seccomp: Any) -> bytes:
    from railcar.helperplan import (
        HP_ARGV,
        HP_CAPS,
        HP_FIFO_FD,
        HP_GID,
        HP_GROUPS,
        HP_INIT,
        HP_LAST_CAP,
        HP_LSM_EXEC,
        HP_NNP,
        HP_PRESERVE_FDS,
        HP_SECCOMP,
        HP_SECCOMP_FLAGS,
        HP_SECCOMP_LISTENER,
        HP_START_HOOKS,
        HP_TRACE,
        HP_UID,
        HelperPlan,
    )

    proc = cfg["process"]
    user = proc.get("user") or {}
    hp = HelperPlan()
    hp.u32(HP_INIT, 1 if init else 0)
    hp.strings(HP_ARGV, proc["args"])
    hp.u32(HP_UID, user.get("uid", 0))
    hp.u32(HP_GID, user.get("gid", 0))
    hp.u32s(HP_GROUPS, user.get("additionalGids") or [])
    # absent means none at all, as runc: a config that says nothing about capabilities must not
    # run with every capability the runtime has
    caps = proc.get("capabilities") or {}
    sets = [caps_mask(caps.get(k)) for k in ("bounding", "effective", "permitted", "inheritable", "ambient")]
    missing = (sets[0] | sets[2]) & ~host_bounding()
    if missing:
        from railcar.spec import CAPS

        names = [n for n, v in CAPS.items() if missing & (1 << v)]
        raise SpecError("process.capabilities",
                        f"{', '.join(sorted(names))} not in the runtime's own bounding set "
                        "(the host does not grant it)")
    hp.u64s(HP_CAPS, sets)
    hp.u32(HP_NNP, 1 if proc.get("noNewPrivileges") else 0)
    if seccomp is not None:
        hp.add(HP_SECCOMP, seccomp.bpf)
        hp.u32(HP_SECCOMP_FLAGS, seccomp.flags)
        if seccomp.listener_path:
            hp.u32(HP_SECCOMP_LISTENER, 1)
    hooks = (cfg.get("hooks") or {}).get("startContainer") or []
    if hooks:
        recs = []
        for h in hooks:
            args, env = h.get("args") or [], h.get("env") or []
            head = b"".join(int(v).to_bytes(4, "little") for v in (h.get("timeout") or 0, len(args), len(env)))
            recs.append(head + b"".join(x.encode() + b"\0" for x in [h["path"], *args, *env]))
        hp.add(HP_START_HOOKS, b"".join(recs))
    lsm = lsm_exec(proc)
    if lsm:
        hp.add(HP_LSM_EXEC, f"{lsm[0]}\0{lsm[1]}\0".encode())
    hp.u32(HP_FIFO_FD, lp.fifo_fd)
    hp.u32(HP_PRESERVE_FDS, lp.preserve_fds)
    with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
        hp.u32(HP_LAST_CAP, int(f.read()))
    if lp.trace:
        hp.u32(HP_TRACE, 1)
    return hp.bytes()


