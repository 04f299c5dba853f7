"""The launch plan: plain data for railcar._core (flags, paths, byte strings, open fds), and the
order in which config.json's sections are planned into it.

Everything that can be decided before clone is decided here: the C child only executes the plan.
Each section's planning is in its module of railcar.spec (where its schema and checks are);
this module calls them, in the order the create command needs them:
  prepare     namespaces (and id maps), root, process, uts, sysctl, hooks: before the cgroup
  filesystem  mounts (the container's cgroup directories among them), devices: after it
  helper_plan what the helper applies right before exec: process (argv, user, capabilities,
              no_new_privs), the compiled seccomp program, startContainer hooks, the LSM label
A section that may be absent (uts, sysctl, hooks, lsm) is imported only when the config has it.
"""

from __future__ import annotations

from railcar import mountopts as mo
from railcar import posixos as os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def enc(s: str) -> bytes:
    """A config string as the kernel gets it: arguments that were not UTF-8 arrive
    surrogate-escaped, and go back as the same bytes."""
    return s.encode("utf-8", "surrogateescape")


class Mount:
    """One mount step: struct rc_mount of csrc/rc.h, field for field. (A plain class: typing's
    NamedTuple would cost the hot path an import of typing.)"""

    __slots__ = ("source", "dest", "fstype", "data", "flags", "remount", "propagation", "attr_set",
                 "attr_clr", "is_file", "copyup", "field", "idmap_fd", "idmap_recursive")

    def __init__(self, source: bytes | None, dest: bytes, fstype: bytes | None = None,
                 data: bytes | None = None, flags: int = 0, *, remount: int = 0, propagation: int = 0,
                 attr_set: int = 0, attr_clr: int = 0, is_file: int = 0, copyup: int = 0,
                 field: bytes = b"mounts", idmap_fd: int = -1, idmap_recursive: int = 0) -> None:
        self.source = source
        self.dest = dest
        self.fstype = fstype
        self.data = data
        self.flags = flags  # MS_* for the mount (MS_BIND|MS_REC for rbind)
        self.remount = remount  # for binds: flags that need a MS_REMOUNT (MS_RDONLY, MS_NOSUID, ...)
        self.propagation = propagation
        self.attr_set = attr_set  # mount_setattr attributes applied recursively (rbind ro)
        self.attr_clr = attr_clr
        self.is_file = is_file  # a bind of a non-directory: the target is made as a file
        self.copyup = copyup  # tmpfs over a directory: copy its contents in; 2: and its mode
        self.field = field  # the config.json field, for errors
        self.idmap_fd = idmap_fd  # an id-mapped bind: the user namespace holding its idmapping
        self.idmap_recursive = idmap_recursive  # ridmap


class Symlink:
    """A symlink made inside the rootfs among the mount steps (the /dev links, a comounted
    cgroup's alias), in order with them: it becomes an rc_mount with is_symlink set."""

    __slots__ = ("target", "link", "field")

    def __init__(self, target: bytes, link: bytes, field: bytes = b"mounts") -> None:
        self.target = target
        self.link = link
        self.field = field


class LaunchPlan:
    """What _core.Spawn.start reads; attribute names mirror struct rc_plan."""

    def __init__(self) -> None:
        self.new_flags = 0
        self.joins: list[tuple[int, int]] = []
        self.uid_map: bytes | None = None
        self.gid_map: bytes | None = None
        self.setgroups_deny = 0  # rootless: see railcar.spec.namespaces.id_maps
        self.uidmap_tool: bytes | None = None
        self.gidmap_tool: bytes | None = None
        self.timens_offsets: bytes | None = None
        self.cgroup_fds: list[int] = []
        self.rootfs = b""
        self.root_propagation = mo.MS_SLAVE | mo.MS_REC
        self.host_mounts = 0  # no mount namespace: mounts in the runtime's, chroot (runc's way)
        self.exec_root: bytes | None = None  # exec into such a container: its root
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
        self.path_env: bytes | None = None  # railcar.spec.process.plan: the PATH to look the program up in
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


def prepare(cfg: dict[str, Any], bundle: str, lp: LaunchPlan) -> tuple[dict[str, str | None], str]:
    """Every section that needs no cgroup; returns the namespaces ({type: path to join, or None
    for a new one}) and the rootfs (its real path)."""
    from railcar.spec import namespaces, process, root

    ns = namespaces.plan(cfg, lp)
    namespaces.id_maps(cfg, lp, ns)
    rootfs = root.plan(cfg, bundle, lp)
    process.plan(cfg["process"], lp)
    if cfg.get("hostname") is not None or cfg.get("domainname") is not None:
        from railcar.spec import uts

        uts.plan(cfg, lp, ns)
    if cfg.get("linux", {}).get("sysctl"):
        from railcar.spec import sysctl

        sysctl.plan(cfg, lp, ns)
    if cfg.get("hooks"):
        from railcar.spec import hooks

        hooks.plan(cfg["hooks"], lp)
    return ns, rootfs


def filesystem(cfg: dict[str, Any], bundle: str, lp: LaunchPlan, ns: dict[str, str | None], cg: Any) -> None:
    """The mounts and the devices; after the container's cgroup is made (`cg`, a
    railcar.cgroups manager: its directories are bound in for a cgroup mount)."""
    from railcar.spec import devices, mounts

    mounts.plan(cfg, bundle, lp, ns, mounts.cgroup_mount_sources(cg))
    devices.plan(cfg, lp)


def helper_plan(cfg: dict[str, Any], lp: LaunchPlan, init: bool, seccomp: Any) -> bytes:
    """The helper's records (csrc/helper_plan.h); `seccomp` is the compiled program, or None."""
    from railcar.helperplan import (
        HP_FIFO_FD,
        HP_INIT,
        HP_LAST_CAP,
        HP_PRESERVE_FDS,
        HP_SECCOMP,
        HP_SECCOMP_FLAGS,
        HP_SECCOMP_LISTENER,
        HP_TRACE,
        HelperPlan,
    )
    from railcar.spec import process

    proc = cfg["process"]
    hp = HelperPlan()
    hp.u32(HP_INIT, 1 if init else 0)
    process.helper(proc, hp)
    if seccomp is not None:
        hp.add(HP_SECCOMP, seccomp.bpf)
        hp.u32(HP_SECCOMP_FLAGS, seccomp.flags)
        if seccomp.listener_path:
            hp.u32(HP_SECCOMP_LISTENER, 1)
    start_hooks = (cfg.get("hooks") or {}).get("startContainer")
    if start_hooks:
        from railcar.spec import hooks

        hooks.helper(start_hooks, hp)
    if proc.get("apparmorProfile") or proc.get("selinuxLabel"):
        from railcar.spec import lsm

        lsm.helper(proc, hp)
    hp.u32(HP_FIFO_FD, lp.fifo_fd)
    hp.u32(HP_PRESERVE_FDS, lp.preserve_fds)
    with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
        hp.u32(HP_LAST_CAP, int(f.read()))
    if lp.trace:
        hp.u32(HP_TRACE, 1)
    return hp.bytes()
