"""The manager: one container's cgroup in every hierarchy of the host, behind one interface.

`Manager` is what the rest of railcar holds (runc's cgroups.Manager, youki's CgroupManager): make
the directories and apply linux.resources, add a process, list, freeze, kill and remove what is
inside, read statistics. Its implementations differ only in where a controller lives, how a
directory is made, and how a cgroup is frozen, killed and asked about OOM kills:

  V1Manager      a directory per v1 hierarchy (runc's fs)
  V2Manager      one directory in the unified hierarchy (runc's fs2)
  HybridManager  v1 hierarchies plus the unified one; a controller is used where it is
                 mounted, v1 first

They share this module because `create` needs one of them on every start and each module costs
an import (see DESIGN.md); removal (remove.py) and each controller's settings and statistics,
the freezer's too, are in modules of their own, imported when used. `implementation()` picks
the class for a layout kind, and is the slot for a systemd manager.
"""

from __future__ import annotations

from railcar import posixos as os
from railcar.cgroups.files import (
    errtext,
    exists,
    pids_in,
    read_kv,
    read_opt,
    read_word,
    rmdir_each,
    write_raw,
)
from railcar.errors import RailcarError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from railcar.cgroups.layout import Layout

RESOURCES = "linux.resources"


class NotOurs(RailcarError):
    """A state names a directory that cannot be a container's cgroup."""


class Manager:
    """One container's cgroup in every hierarchy.

    kind: the layout kind ("v1", "v2", "hybrid"; "" for what a damaged state still names);
    path: the resolved cgroup path; v1: controller -> directory (one directory per v1 mount,
    comounted controllers share it; "name=systemd" included); v2: the directory in the unified
    hierarchy or ""; v2_controllers: controllers usable in that directory; inodes: each
    directory's inode once made (a state whose path was changed, or a directory removed and
    made again by someone else, no longer matches and is not touched).
    """

    __slots__ = ("kind", "path", "v1", "v2", "v2_controllers", "inodes", "_made", "_layout", "rootless")

    def __init__(self, kind: str, path: str, v1: dict[str, str], v2: str,
                 v2_controllers: set[str], inodes: dict[str, int] | None = None) -> None:
        self.kind = kind
        self.path = path
        self.v1 = v1
        self.v2 = v2
        self.v2_controllers = v2_controllers
        self.inodes: dict[str, int] = inodes or {}
        self._made: list[str] = []
        self._layout: Layout | None = None  # the layout `placed` it in (make needs it)
        # runc's rootless cgroup manager (railcar.rootless.resolve): a directory the user cannot
        # make is skipped, device rules are not written, and a limit whose controller has no
        # directory is an error naming it
        self.rootless = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, path={self.path!r}, dirs={self.dirs()!r})"

    def to_state(self) -> dict:
        return {"kind": self.kind, "path": self.path, "v1": dict(self.v1), "v2": self.v2,
                "v2_controllers": sorted(self.v2_controllers), "inodes": dict(self.inodes)}

    def dirs(self) -> list[str]:
        """Every distinct directory, v1 hierarchies first, unified last."""
        out = list(dict.fromkeys(self.v1.values()))
        if self.v2:
            out.append(self.v2)
        return out

    # -- what an implementation says ---------------------------------------------------------

    def where(self, ctrl: str) -> tuple[str, int]:
        """(directory, 1 or 2) of the hierarchy that holds controller `ctrl`, ("", 0) if none."""
        raise NotImplementedError

    def _mkdirs(self, layout: Layout) -> None:
        raise NotImplementedError

    def _primary(self) -> str:
        """The directory whose processes are the container's processes."""
        raise NotImplementedError

    def freezer_file(self) -> tuple[str, int]:
        """(file, 1) for v1 freezer.state, (file, 2) for v2 cgroup.freeze, ("", 0) if none."""
        raise NotImplementedError

    def freeze(self) -> None:
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    def frozen(self) -> bool:
        raise NotImplementedError

    def oom_count(self) -> int:
        """How many times the OOM killer hit the cgroup (v1 oom_kill, else under_oom)."""
        raise NotImplementedError

    def kill_at_once(self) -> bool:
        """SIGKILL everything inside in one step (cgroup.kill) where the kernel can."""
        return bool(self.v2) and _v2_kill(self.v2)

    def need(self, ctrl: str, field: str) -> tuple[str, int]:
        """where(ctrl), or an error naming `field` when the host has no such controller."""
        found = self.where(ctrl)
        if not found[0]:
            raise RailcarError(f"{field}: the {ctrl} cgroup controller is not available on this host")
        return found

    @staticmethod
    def no_freezer(verb: str) -> RailcarError:
        return RailcarError(f"cgroups: cannot {verb}: no freezer cgroup on this host")

    # -- mkdir, linux.resources ----------------------------------------------------------------

    def make(self, resources: dict | None, layout: Layout | None = None) -> None:
        """mkdir the directories `at` resolved, apply linux.resources; on error undo and raise.
        Apart from `at` so that a caller can record the paths before anything exists."""
        if layout is None:
            layout = self._layout
        if layout is None:
            from railcar.cgroups.layout import detect

            layout = detect()
        try:
            self._mkdirs(layout)
            self.apply(resources or {}, create=True)
            self.inodes = {d: os.stat(d).st_ino for d in self.dirs()}
        except BaseException:
            for d in reversed(self._made):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            self._made = []
            raise

    def mkdir_p(self, mountpoint: str, d: str, on_level: Callable[[str, str, bool], None] | None = None) -> None:
        """mkdir d and its missing parents below mountpoint (each one made is undone if make
        fails); on_level(parent, dir, before) runs before and after each level."""
        mountpoint = mountpoint.rstrip("/")
        if on_level is None and d != mountpoint:
            # the parents usually exist (every container shares them): one mkdir, not one a level
            try:
                os.mkdir(d, 0o755)
                self._made.append(d)
                return
            except FileExistsError:
                return
            except FileNotFoundError:
                pass
        cur = mountpoint
        for comp in d[len(mountpoint):].strip("/").split("/"):
            if not comp:
                continue
            parent = cur
            cur = cur + "/" + comp
            if on_level is not None:
                on_level(parent, cur, True)
            try:
                os.mkdir(cur, 0o755)
                self._made.append(cur)
            except FileExistsError:
                pass
            if on_level is not None:
                on_level(parent, cur, False)

    def apply(self, resources: dict, create: bool, field: str = RESOURCES) -> None:
        """Validate linux.resources and write it, controller by controller (in the package's
        ORDER); `create` for a new cgroup, else `update`."""
        from railcar.cgroups import parse_resources

        for ctrl, cfg in parse_resources(resources, field, create):
            if self.rootless and not self._rootless_can(ctrl.__name__.rsplit(".", 1)[-1], field):
                continue
            ctrl.apply(self, cfg, create)

    def _rootless_can(self, name: str, field: str) -> bool:
        """Rootless: False for the device rules (runc ignores them: they are not expected to
        work); runc's error, naming the field, for a limit whose controller has no directory."""
        if name == "devices":
            return False
        if name == "unified":
            have = bool(self.v2)
        else:
            have = any(self.where(c)[0] for c in _ROOTLESS_CONTROLLERS.get(name, (name,)))
        if not have:
            from railcar.cgroups import _SECTIONS

            key = next((k for k, mods in _SECTIONS.items() if name in mods), name)
            raise RailcarError(f"{field}.{key}: cannot set {name} limit: container could not join "
                               "or create cgroup (rootless: the cgroup is not writable by the user)")
        return True

    def update(self, resources: dict) -> None:
        """Like `runc update`: absent or 0 fields leave the current value unchanged."""
        self.apply(resources or {}, create=False)

    # -- processes, removal, statistics ----------------------------------------------------------

    def procs_files(self) -> list[str]:
        """The cgroup.procs files a new process's pid goes into (one per hierarchy)."""
        return [d + "/cgroup.procs" for d in self.dirs()]

    def add(self, pid: int) -> None:
        for p in self.procs_files():
            try:
                write_raw(p, str(pid))
            except OSError as e:
                raise RailcarError(f"cgroups: add pid {pid}: write {p}: {errtext(e)}") from None

    def pids(self) -> list[int]:
        """Every process in the container's cgroup (sub-cgroups included)."""
        d = self._primary()
        if not d:
            return []
        return sorted(set(pids_in(d)))

    def destroy(self, kill: bool = False) -> None:
        """Optionally SIGKILL everything inside, then rmdir every directory (children first).
        Missing directories are fine; EBUSY is retried briefly; NotOurs for what cannot be a
        container's cgroup."""
        left = self._remove_made()
        if left is not None and not left:
            return
        from railcar.cgroups.remove import destroy, only

        destroy(self if left is None else only(self, left), kill)

    def _remove_made(self) -> list[str] | None:
        """The usual end of a container: every directory is the one create made (its recorded
        inode) and empty, so one rmdir each removes it (the kernel removes only an empty
        cgroup) with nothing to kill, walk or import. Returns the directories still there
        (busy: remove.py's full path takes them), or None when a directory is not the one
        create made (remove.py decides what may be touched)."""
        dirs = self.dirs()
        for d in dirs:
            try:
                ino = os.stat(d).st_ino
            except FileNotFoundError:
                continue
            except OSError:
                return None
            if self.inodes.get(d) != ino:
                return None
        return rmdir_each(dirs)

    def check_made(self) -> None:
        """NotOurs unless every directory is the one create made (its recorded inode): before a
        process is put into it (exec), so a damaged or forged state cannot move one elsewhere."""
        if not self.inodes:
            return
        for d in self.dirs():
            try:
                ino = os.stat(d).st_ino
            except OSError:
                ino = -1
            if self.inodes.get(d) != ino:
                raise NotOurs(f"cgroups: {d} is not the directory this container made")

    def stats(self) -> dict:
        """runc's `events --stats` "data" object, from each controller's module."""
        from railcar.cgroups import blkio, cpu, cpuset, hugetlb, memory, pids

        return {"cpu": cpu.stats(self), "cpuset": cpuset.stats(self), "memory": memory.stats(self),
                "pids": pids.stats(self), "blkio": blkio.stats(self), "hugetlb": hugetlb.stats(self),
                "intel_rdt": {}, "network_interfaces": None}


# a controller module -> the controllers it writes (rootless: one must have a directory)
_ROOTLESS_CONTROLLERS = {"network": ("net_cls", "net_prio")}
# what a rootless manager skips instead of failing (runc's isIgnorableError)
_UNWRITABLE = (13, 1, 30)  # EACCES, EPERM, EROFS (numbers: the errno module is not needed here)


# ---------------------------------------------------------------------------------------------
# cgroup v1: one directory per mount (comounted controllers share it; name=systemd is joined);
# a new cpuset cgroup gets its parent's cpus and mems; pausing is freezer.state

# whose directory lists the container's processes, best first
_V1_PRIMARY = ("freezer", "pids", "devices", "memory", "cpu", "cpuacct", "name=systemd")


class V1Manager(Manager):
    __slots__ = ()

    def where(self, ctrl: str) -> tuple[str, int]:
        d = self.v1.get(ctrl)
        return (d, 1) if d else ("", 0)

    def _mkdirs(self, layout: Layout) -> None:
        done: set[str] = set()
        for ctrl, d in list(self.v1.items()):
            if d in done:
                continue
            done.add(d)
            try:
                self.mkdir_p(layout.v1[ctrl], d, _cpuset_fill if self.v1.get("cpuset") == d else None)
            except OSError as e:
                if self.rootless and e.errno in _UNWRITABLE:  # not the user's: run without it
                    self.v1 = {c: v for c, v in self.v1.items() if v != d}
                    continue
                raise RailcarError(f"cgroups: mkdir {e.filename or d}: {errtext(e)}") from None

    def _primary(self) -> str:
        for c in _V1_PRIMARY:
            if c in self.v1:
                return self.v1[c]
        return next(iter(self.v1.values()), self.v2)

    def freezer_file(self) -> tuple[str, int]:
        d = self.v1.get("freezer")
        return (d + "/freezer.state", 1) if d else ("", 0)

    def _freezer(self, verb: str) -> str:
        d = self.v1.get("freezer")
        if not d:
            raise self.no_freezer(verb)
        return d

    def freeze(self) -> None:
        from railcar.cgroups.freezer import freeze_v1

        freeze_v1(self._freezer("pause"))

    def thaw(self) -> None:
        from railcar.cgroups.freezer import thaw_v1

        thaw_v1(self._freezer("resume"))

    def frozen(self) -> bool:
        d = self.v1.get("freezer")
        if not d:
            return False
        st = read_word(d + "/freezer.state")
        if st == "FREEZING":
            return read_word(d + "/freezer.self_freezing") == "1"
        return st == "FROZEN"

    def oom_count(self) -> int:
        d = self.v1.get("memory")
        if not d:
            return 0
        kv = read_kv(d + "/memory.oom_control")
        return kv["oom_kill"] if "oom_kill" in kv else kv.get("under_oom", 0)


def _cpuset_fill(parent: str, d: str, before: bool) -> None:
    """A new v1 cpuset cgroup starts with empty cpus/mems; copy the parent's (else tasks
    cannot join)."""
    if before:
        return
    for name in ("cpuset.cpus", "cpuset.mems"):
        cur = read_opt(d + "/" + name)
        if cur is None or cur.strip():
            continue
        val = read_word(parent + "/" + name)
        if val:
            try:
                write_raw(d + "/" + name, val)
            except OSError as e:
                raise RailcarError(f"cgroups: write {d}/{name}: {errtext(e)}") from None


# ---------------------------------------------------------------------------------------------
# cgroup v2: one directory; controllers are those each parent enables in cgroup.subtree_control;
# pausing is cgroup.freeze (confirmed by cgroup.events), killing cgroup.kill where the kernel
# has it. The _v2_* functions also serve the unified part of a hybrid layout.


class V2Manager(Manager):
    __slots__ = ()

    def where(self, ctrl: str) -> tuple[str, int]:
        return (self.v2, 2) if self.v2 and ctrl in self.v2_controllers else ("", 0)

    def _mkdirs(self, layout: Layout) -> None:
        _v2_mkdir(self, layout, hybrid=False)

    def _primary(self) -> str:
        return self.v2

    def freezer_file(self) -> tuple[str, int]:
        return (self.v2 + "/cgroup.freeze", 2) if _v2_can_freeze(self.v2) else ("", 0)

    def _freezable(self, verb: str) -> str:
        if not _v2_can_freeze(self.v2):
            raise self.no_freezer(verb)
        return self.v2

    def freeze(self) -> None:
        from railcar.cgroups.freezer import freeze_v2

        freeze_v2(self._freezable("pause"))

    def thaw(self) -> None:
        from railcar.cgroups.freezer import thaw_v2

        thaw_v2(self._freezable("resume"))

    def frozen(self) -> bool:
        return _v2_can_freeze(self.v2) and _v2_frozen(self.v2)

    def oom_count(self) -> int:
        return _v2_oom_count(self.v2) if "memory" in self.v2_controllers else 0


def _v2_mkdir(m: Manager, layout: Layout, hybrid: bool) -> None:
    """mkdir m.v2 (enabling the parent's controllers at each level) and read which controllers
    it has. On a hybrid host an unusable unified mount is dropped: v1 does the work."""
    try:
        m.mkdir_p(layout.v2, m.v2, _v2_enable)
    except OSError as e:
        if (hybrid or m.rootless) and e.errno in _UNWRITABLE:
            m.v2 = ""
            m.v2_controllers = set()
            return
        raise RailcarError(f"cgroups: mkdir {e.filename or m.v2}: {errtext(e)}") from None
    s = read_opt(m.v2 + "/cgroup.controllers")
    m.v2_controllers = set(s.split()) if s is not None else set()


def _v2_enable(parent: str, d: str, before: bool) -> None:
    """Before creating d, enable in parent's subtree_control every controller the parent has
    (one at a time when all at once is refused)."""
    if not before:
        return
    avail = (read_opt(parent + "/cgroup.controllers") or "").split()
    if not avail:
        return
    have = set((read_opt(parent + "/cgroup.subtree_control") or "").split())
    want = [c for c in avail if c not in have]
    if not want:
        return
    p = parent + "/cgroup.subtree_control"
    try:
        write_raw(p, " ".join("+" + c for c in want))
        return
    except OSError:
        pass
    for c in want:
        try:
            write_raw(p, "+" + c)
        except OSError:
            pass


def _v2_can_freeze(d: str) -> bool:
    return bool(d) and exists(d + "/cgroup.freeze")


def _v2_frozen(d: str) -> bool:
    return read_word(d + "/cgroup.freeze") == "1"


def _v2_kill(d: str) -> bool:
    """cgroup.kill; False where the kernel has none."""
    if not exists(d + "/cgroup.kill"):
        return False
    try:
        write_raw(d + "/cgroup.kill", "1")
    except OSError:
        pass
    return True


def _v2_oom_count(d: str) -> int:
    return read_kv(d + "/memory.events").get("oom_kill", 0)


# ---------------------------------------------------------------------------------------------
# hybrid: the v1 hierarchies plus a unified one (/sys/fs/cgroup/unified on this kind of host). A
# controller is used from wherever it is mounted, v1 first: with hugetlb on the unified mount,
# hugepage limits go to cgroup2 files, everything else to v1 files. The container's unified
# directory brings cgroup.kill and, without a v1 freezer, cgroup.freeze.


class HybridManager(V1Manager):
    __slots__ = ()

    def where(self, ctrl: str) -> tuple[str, int]:
        found = super().where(ctrl)
        if found[0] or not (self.v2 and ctrl in self.v2_controllers):
            return found
        return self.v2, 2

    def _mkdirs(self, layout: Layout) -> None:
        super()._mkdirs(layout)
        if self.v2:
            _v2_mkdir(self, layout, hybrid=True)

    def _v1_freezer(self) -> bool:
        """The v1 freezer when there is one; else cgroup.freeze where the kernel has it."""
        return "freezer" in self.v1 or not _v2_can_freeze(self.v2)

    def freezer_file(self) -> tuple[str, int]:
        return super().freezer_file() if self._v1_freezer() else (self.v2 + "/cgroup.freeze", 2)

    def freeze(self) -> None:
        if self._v1_freezer():
            super().freeze()
        else:
            from railcar.cgroups.freezer import freeze_v2

            freeze_v2(self.v2)

    def thaw(self) -> None:
        if self._v1_freezer():
            super().thaw()
        else:
            from railcar.cgroups.freezer import thaw_v2

            thaw_v2(self.v2)

    def frozen(self) -> bool:
        return super().frozen() if self._v1_freezer() else _v2_frozen(self.v2)

    def oom_count(self) -> int:
        if "memory" in self.v1 or "memory" not in self.v2_controllers:
            return super().oom_count()
        return _v2_oom_count(self.v2)


def implementation(kind: str) -> type[Manager]:
    """The Manager class for a layout kind ("" and unknown kinds: v1's, which treats every
    directory alike: what a damaged state still names)."""
    # The slot for a systemd manager (runc's systemd driver, youki's systemd::Manager): with
    # --systemd-cgroup it would ask systemd over D-Bus for a transient scope, set limits as unit
    # properties and record kind "systemd" for from_state. railcar has no D-Bus client yet:
    # --systemd-cgroup names the cgroup as systemd would (layout.resolve_path) and the cgroupfs
    # managers above make it.
    return _IMPLEMENTATIONS.get(kind, V1Manager)


_IMPLEMENTATIONS: dict[str, type[Manager]] = {"v1": V1Manager, "v2": V2Manager, "hybrid": HybridManager}


def placed(layout: Layout, path: str) -> Manager:
    """The manager of a resolved cgroup path in every hierarchy of `layout` (nothing is made)."""
    from railcar.cgroups.layout import place

    v1, v2 = place(layout, path)
    m = implementation(layout.kind)(layout.kind, path, v1, v2, set(layout.v2_controllers))
    m._layout = layout
    return m
