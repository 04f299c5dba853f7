"""Container state: `<root>/<id>/state.json` (atomic writes), the exec fifo,
a per-container lock, and status derived from the live system."""

from __future__ import annotations

import fcntl

from railcar import posixos as os
from railcar.errors import RailcarError, strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.cgroups import Manager

FIFO = "exec.fifo"
STATE = "state.json"
FAST = "fast"  # what the launcher's C fast path reads (csrc/fastpath.c)
HOOK = "hook"  # the running hook's session: "<pid> <start>" (so delete --force can kill it)
# the runtime's own files under --root, named so that no container id can be the same ('@' is
# not an id character): ids that begin with '.' are ids like any other
PRIVATE = "@railcar"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def check_id(cid: str) -> None:
    if not valid_id(cid):
        raise RailcarError(f"invalid container id {cid!r}: use [A-Za-z0-9_+.-], no '..'")


def valid_id(cid: str) -> bool:
    return bool(cid) and cid not in (".", "..") and ".." not in cid and set(cid) <= _ID_CHARS


def private_dir(root: str, *names: str) -> str:
    """A path under the runtime's own directory in --root (caches)."""
    return os.path.join(root, PRIVATE, *names)


def process_tree(pid: int) -> list[int]:
    """pid and its descendants, parents first (through /proc/PID/task/TID/children)."""
    out: list[int] = []
    seen: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        out.append(p)
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(x) for x in f.read().split()]
            except (OSError, ValueError):
                pass
    return out


def proc_start_time(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in ticks) of a pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[19])


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write a whole file or nothing: every byte is checked written (a file-size limit or a
    full disk gives a short write, then an error), and the file is renamed into place only
    then, so a killed command never leaves half a state. On a filesystem that outlives a
    machine crash the data is also synced before the rename; on tmpfs (/run, where engines keep
    runtime state) a crash leaves nothing to be half of, and the fsync is skipped."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if _durable(os.path.dirname(path)):
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if e.filename is None:
            e.filename = path
        raise


_VOLATILE = (0x01021994, 0x858458F6)  # TMPFS_MAGIC, RAMFS_MAGIC: nothing survives a crash
_durable_dirs: dict[str, bool] = {}


def _durable(d: str) -> bool:
    """Does the filesystem holding directory `d` keep files across a machine crash?"""
    known = _durable_dirs.get(d)
    if known is None:
        from railcar import _core

        try:
            known = _core.fs_magic(d.encode("utf-8", "surrogateescape")) not in _VOLATILE
        except OSError:
            known = True
        _durable_dirs[d] = known
    return known


def write_pid_file(path: str, pid: int) -> None:
    """--pid-file, atomically (a shim reads it as soon as it appears)."""
    path = os.path.abspath(path)
    try:
        write_atomic(path, str(pid).encode())
    except OSError as e:
        from railcar.errors import RailcarError

        raise RailcarError(f"--pid-file: write {path}: {strerror(e.errno)}") from None


class Container:
    """One container's persisted state plus the derived status."""

    __slots__ = ("root", "id", "dir", "data", "lock_fd", "trace_fd")

    def __init__(self, root: str, cid: str, data: dict[str, Any] | None = None) -> None:
        self.root = root
        self.id = cid
        self.dir = os.path.join(root, cid)
        self.data: dict[str, Any] = data or {}
        self.lock_fd = -1
        self.trace_fd = -1  # --trace-startup: the sync socket, for run to read the helper's stages

    # -- creation and loading -------------------------------------------------
    @classmethod
    def claim(cls, root: str, cid: str) -> Container:
        """Make the state dir: mkdir is atomic, so of two creates one wins."""
        check_id(cid)
        try:
            os.makedirs(root, 0o711, exist_ok=True)
        except OSError as e:
            raise RailcarError(f"create state root {root}: {strerror(e.errno)}") from None
        c = cls(root, cid)
        try:
            os.mkdir(c.dir, 0o711)
        except FileExistsError:
            raise RailcarError(f"container with id {cid} already exists") from None
        except OSError as e:
            raise RailcarError(f"create state directory {c.dir}: {strerror(e.errno)}") from None
        c.lock()
        return c

    @classmethod
    def load(cls, root: str, cid: str, lock: bool = True, salvage: bool = False) -> Container:
        check_id(cid)
        c = cls(root, cid)
        if lock:
            c.lock()
        try:
            with open(os.path.join(c.dir, STATE), "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            if salvage and os.path.exists(os.path.join(c.dir, FAST)):
                # state.json lost, the fast path's copy still names the init and the cgroups
                c.data = c.salvage(None)
                return c
            c.unlock()
            raise RailcarError("container does not exist") from None
        except NotADirectoryError:
            c.unlock()
            raise RailcarError("container does not exist") from None
        from railcar.jsonfast import loads

        try:
            data = loads(raw)
        except ValueError as e:
            data, why = None, str(e)
        else:
            why = state_problem(data)
        if why is not None:
            if not salvage:
                c.unlock()
                raise RailcarError(f"state of container {cid} is corrupt: {why}")
            data = c.salvage(data)
        c.data = data  # type: ignore[assignment]
        return c

    def salvage(self, data: Any) -> dict[str, Any]:
        """What delete --force can still trust of a corrupt state: the fields that are valid,
        else the fast path's copy of the pid and cgroup directories."""
        out: dict[str, Any] = {"corrupt": True}
        if isinstance(data, dict):
            for key in ("pid", "pid_start", "cgroup"):
                if data.get(key) is not None and _FIELD_CHECKS[key](data[key]) is None:
                    out[key] = data[key]
        if "cgroup" not in out or "pid" not in out:
            fast = _read_fast(self.dir)
            out.setdefault("pid", fast[0])
            out.setdefault("pid_start", fast[1])
            out.setdefault("cgroup", fast[2])
        return out

    def lock(self) -> None:
        """Serialize verbs on one container (flock on its state dir)."""
        try:
            self.lock_fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise RailcarError("container does not exist") from None
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        if not os.path.isdir(self.dir):  # deleted while we waited
            self.unlock()
            raise RailcarError("container does not exist")

    def unlock(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1

    def save(self) -> None:
        from railcar.jsonfast import dumps

        save_file(self, STATE, dumps(self.data).encode())

    def remove(self) -> None:
        """The state dir and what is in it: files, and empty directories (a directory that is
        still a mount point or holds anything is never descended into)."""
        for name in os.listdir(self.dir) if os.path.isdir(self.dir) else ():
            path = os.path.join(self.dir, name)
            try:
                os.unlink(path)
            except IsADirectoryError:
                try:
                    os.rmdir(path)
                except OSError:
                    pass
            except OSError:
                pass
        try:
            os.rmdir(self.dir)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise RailcarError(f"remove state directory {self.dir}: {strerror(e.errno)}") from None
        finally:
            self.unlock()

    # -- status ---------------------------------------------------------------
    @property
    def pid(self) -> int:
        return int(self.data.get("pid") or 0)

    def alive(self) -> bool:
        """The init is ours: running (not a zombie) with the start time we saw."""
        pid = self.pid
        if pid <= 0:
            return False
        st = proc_start_time(pid)
        if st is None or st[0] in ("Z", "X"):
            return False
        return st[1] == self.data.get("pid_start")

    def status(self) -> str:
        if self.data.get("creating") and self.lock_fd < 0:
            # saved early by create, which holds the lock until the container is ready: a
            # lock nobody holds means that create died, and what it left is stopped
            return "creating" if self._locked_elsewhere() else "stopped"
        if not self.alive():
            return "stopped"
        if self.frozen():  # first, as runc: a created container can be frozen too
            return "paused"
        if os.path.exists(os.path.join(self.dir, FIFO)):
            return "created"
        return "running"

    def _locked_elsewhere(self) -> bool:
        try:
            fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def cgroup(self) -> Manager | None:
        """The manager of the container's cgroup, as its state recorded it; None without one."""
        cg = self.data.get("cgroup")
        if not cg:
            return None
        from railcar.cgroups import from_state

        return from_state(cg)

    def frozen(self) -> bool:
        cg = self.cgroup()
        if cg is None:
            return False
        try:
            return cg.frozen()
        except OSError:
            return False

    def oci_state(self, status: str | None = None) -> dict[str, Any]:
        """The runtime-spec state object (also what hooks get on stdin); `status` when the
        caller has just derived it (each derivation reads /proc and the freezer)."""
        if status is None:
            status = self.status()
        d = self.data
        out: dict[str, Any] = {
            "ociVersion": d.get("ociVersion", ""),
            "id": self.id,
            "pid": self.pid if status != "stopped" else 0,
            "status": status,
            "bundle": d.get("bundle", ""),
            "rootfs": d.get("rootfs", ""),
            "created": d.get("created", ""),
        }
        if d.get("annotations"):
            out["annotations"] = d["annotations"]
        out["owner"] = d.get("owner", "")
        return out


def write_fast(c: Container, cgroup: Any) -> None:
    """The C fast path's view of a container: pid, start time, hooks, freezer,
    cgroup dirs, and the state JSON with @STATUS@ and @PID@ to fill in."""
    from railcar.jsonfast import dumps

    hooks = c.data.get("hooks") or {}
    st = c.oci_state("@STATUS@")  # the fast path fills in both: no status to derive here
    st["pid"] = "@PID@"
    freezer, kind = cgroup.freezer_file() if cgroup is not None else ("", 0)
    lines = ["railcar-fast 1", f"pid {c.pid} {c.data.get('pid_start', 0)}",
             f"hooks {1 if hooks.get('poststart') else 0} {1 if hooks.get('poststop') else 0}",
             f"freezer {kind} {freezer or '-'}"]
    lines += [f"cgroup {d}" for d in (cgroup.dirs() if cgroup is not None else [])]
    lines += [f"compact {dumps(st)}", "pretty", dumps(st, indent=2)]
    save_file(c, FAST, ("\n".join(lines) + "\n").encode())


def save_file(c: Container, name: str, data: bytes) -> None:
    """One of a container's state files, whole or not at all; a failure names the file."""
    path = os.path.join(c.dir, name)
    try:
        write_atomic(path, data)
    except OSError as e:
        raise RailcarError(f"save state of container {c.id}: write {path}: {strerror(e.errno)}"
                           ) from None


def list_ids(root: str) -> list[str]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if valid_id(n) and os.path.isfile(os.path.join(root, n, STATE)))


# -- validation: state.json is read back as strictly as config.json is ---------------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _want(pred: Any, what: str) -> Any:
    return lambda v: None if pred(v) else f"must be {what}"


def _cgroup_dir_problem(d: Any) -> str | None:
    if not isinstance(d, str):
        return "must be a string"
    if d and (not d.startswith("/") or os.path.normpath(d) != d or "/../" in d + "/"):
        return f"{d!r} is not an absolute, normalized path"
    return None


def _cgroup_problem(v: Any) -> str | None:
    if v is None:
        return None
    if not isinstance(v, dict):
        return "must be an object"
    for key in ("kind", "path", "v2"):
        if not isinstance(v.get(key, ""), str):
            return f"{key} must be a string"
    v1 = v.get("v1") or {}
    if not isinstance(v1, dict) or len(v1) > 64:
        return "v1 must be an object of at most 64 directories"
    for ctrl, d in v1.items():
        why = _cgroup_dir_problem(d)
        if why:
            return f"v1.{ctrl}: {why}"
    why = _cgroup_dir_problem(v.get("v2", ""))
    if why:
        return f"v2: {why}"
    ctrls = v.get("v2_controllers") or []
    if not isinstance(ctrls, list) or not all(isinstance(x, str) for x in ctrls):
        return "v2_controllers must be a list of strings"
    inodes = v.get("inodes") or {}
    if not isinstance(inodes, dict) or not all(_is_int(x) for x in inodes.values()):
        return "inodes must map directories to inode numbers"
    return None


def _hooks_problem(v: Any) -> str | None:
    if not isinstance(v, dict):
        return "must be an object"
    for kind, hooks in v.items():
        if not isinstance(hooks, list) or not all(
                isinstance(h, dict) and isinstance(h.get("path"), str) for h in hooks):
            return f"{kind} must be a list of hooks with a path"
    return None


_FIELD_CHECKS: dict[str, Any] = {
    "pid": _want(lambda v: _is_int(v) and 0 <= v < 1 << 22, "a pid"),
    "pid_start": _want(lambda v: _is_int(v) and v >= 0, "a start time in ticks"),
    "cgroup": _cgroup_problem,
    "ociVersion": _want(lambda v: isinstance(v, str), "a string"),
    "id": _want(lambda v: isinstance(v, str), "a string"),
    "bundle": _want(lambda v: isinstance(v, str), "a string"),
    "rootfs": _want(lambda v: isinstance(v, str), "a string"),
    "created": _want(lambda v: isinstance(v, str), "a string"),
    "owner": _want(lambda v: isinstance(v, str), "a string"),
    "annotations": _want(lambda v: isinstance(v, dict), "an object"),
    "hooks": _hooks_problem,
    "init": _want(lambda v: isinstance(v, bool), "a boolean"),
    "config": _want(lambda v: isinstance(v, dict), "an object"),
    "creating": _want(lambda v: isinstance(v, bool), "a boolean"),
    "host_mounts": _want(lambda v: isinstance(v, bool), "a boolean"),
}
_REQUIRED = ("pid", "pid_start", "bundle", "cgroup")


def state_problem(data: Any) -> str | None:
    """Why a loaded state.json cannot be trusted, or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    for key in _REQUIRED:
        if key not in data:
            return f"{key} is missing"
    for key, check in _FIELD_CHECKS.items():
        if key in data:
            why = check(data[key])
            if why:
                return f"{key}: {why}"
    return None


def fast_cgroup(d: str) -> dict[str, Any] | None:
    """The cgroup directories the fast path's file in state dir `d` recorded, as a cgroup state."""
    return _read_fast(d)[2]


def _read_fast(d: str) -> tuple[int, int, dict[str, Any] | None]:
    """(pid, start, cgroup state) from the fast path's file, each checked; zeros and None
    where it has nothing valid."""
    pid = start = 0
    dirs: dict[str, str] = {}
    try:
        with open(os.path.join(d, FAST), "rb") as f:
            lines = f.read(1 << 20).decode("utf-8", "surrogateescape").splitlines()
    except OSError:
        return 0, 0, None
    for line in lines:
        key, _, rest = line.partition(" ")
        if key == "pid":
            parts = rest.split()
            if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                pid, start = int(parts[0]), int(parts[1])
                if _FIELD_CHECKS["pid"](pid):
                    pid = start = 0
        elif key == "cgroup" and not _cgroup_dir_problem(rest) and rest and len(dirs) < 64:
            dirs[f"dir{len(dirs)}"] = rest
        elif key == "compact":
            break
    return pid, start, ({"kind": "", "path": "", "v1": dirs, "v2": ""} if dirs else None)
