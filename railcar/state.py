"""Container state: `<root>/<id>/state.json` (atomic writes), the exec fifo,
a per-container lock, and status derived from the live system."""

from __future__ import annotations

import errno
import fcntl
import os

from railcar.errors import RailcarError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FIFO = "exec.fifo"
STATE = "state.json"
FAST = "fast"  # what the launcher's C fast path reads (csrc/fastpath.c)
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def check_id(cid: str) -> None:
    if not cid or cid in (".", "..") or ".." in cid or not set(cid) <= _ID_CHARS:
        raise RailcarError(f"invalid container id {cid!r}: use [A-Za-z0-9_+.-], no '..'")


def proc_start_time(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in ticks) of a pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[19])


def now_rfc3339() -> str:
    import time

    t = time.time_ns()
    s, ns = divmod(t, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{ns:09d}Z"


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
    def load(cls, root: str, cid: str, lock: bool = True) -> Container:
        check_id(cid)
        c = cls(root, cid)
        if lock:
            c.lock()
        try:
            with open(os.path.join(c.dir, STATE), "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            c.unlock()
            raise RailcarError("container does not exist") from None
        except NotADirectoryError:
            c.unlock()
            raise RailcarError("container does not exist") from None
        from railcar.jsonfast import loads

        try:
            c.data = loads(raw)  # type: ignore[assignment]
        except ValueError as e:
            c.unlock()
            raise RailcarError(f"state of container {cid} is corrupt: {e}") from None
        return c

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

        write_atomic(os.path.join(self.dir, STATE), dumps(self.data).encode())

    def remove(self) -> None:
        for name in os.listdir(self.dir) if os.path.isdir(self.dir) else ():
            try:
                os.unlink(os.path.join(self.dir, name))
            except OSError:
                pass
        try:
            os.rmdir(self.dir)
        except FileNotFoundError:
            pass
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

    def frozen(self) -> bool:
        cg = self.data.get("cgroup")
        if not cg:
            return False
        from railcar.cgroups import Cgroup

        try:
            return Cgroup.from_state(cg).frozen()
        except OSError:
            return False

    def oci_state(self) -> dict[str, Any]:
        """The runtime-spec state object (also what hooks get on stdin)."""
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
    st = c.oci_state()
    st["status"], st["pid"] = "@STATUS@", "@PID@"
    freezer, kind = cgroup.freezer_file() if cgroup is not None else ("", 0)
    lines = ["railcar-fast 1", f"pid {c.pid} {c.data.get('pid_start', 0)}",
             f"hooks {1 if hooks.get('poststart') else 0} {1 if hooks.get('poststop') else 0}",
             f"freezer {kind} {freezer or '-'}"]
    lines += [f"cgroup {d}" for d in (cgroup.dirs() if cgroup is not None else [])]
    lines += [f"compact {dumps(st)}", "pretty", dumps(st, indent=2)]
    write_atomic(os.path.join(c.dir, FAST), ("\n".join(lines) + "\n").encode())


def list_ids(root: str) -> list[str]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if not n.startswith(".") and os.path.isfile(os.path.join(root, n, STATE)))


def strerror(err: int | None) -> str:
    """Go-style (lower-case) errno text: clients match 'no such file or directory'."""
    if not err:
        return "unknown error"
    s = os.strerror(err)
    return s[:1].lower() + s[1:] if s else errno.errorcode.get(err, str(err))
