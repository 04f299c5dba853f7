"""The fault suite's machinery: one case's runtime and calls, leak scans, cleanup, the summary.

Every case gets its own work dir and --root (a `tests.conftest.Runtime`), and every container its
own id `rcf<session><case>-<nnn>`. That id is also the container's marker: its cgroupsPath is
`/<id>`, its process env carries RAILCAR_FAULT_MARKER=<id>, its bundle dir is named after it, and
the runtime's own command lines hold it. A leak is then anything on the host that carries the
marker of a container the case is done with:
  - a live process whose cmdline, environ or /proc/PID/cgroup holds it (runtime, init, hook, exec),
  - a mount point that holds it (the bundle's rootfs is under bundle-<id>/),
  - a cgroup directory, in any hierarchy, at any depth, whose name holds it,
  - an entry of --root named after it, or the id in `list` (which must exit 0 and parse).
Markers are unique per session (a random session tag), so parallel activity on the machine never
matches, and two runs of the suite never see each other's containers.

Cleanup after every case, pass or fail: kill and reap what carries the case's tag (thawing frozen
cgroups first), `delete --force` its ids, unmount, rmdir its cgroup dirs (deepest first), remove its
work dir. It touches nothing that does not carry the tag, except the cgroups and mounts the case made
itself (recorded as it made them).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

from tests.conftest import Runtime, all_pids, cgroup_mounts, host_mountpoints, unmount_under
from tests.support.bundle import Bundle, copy_rootfs, make_config
from tests.support.cgroupfs import remove_cgroups
from tests.support.procfs import proc_state

MARKER_ENV = "RAILCAR_FAULT_MARKER"
SLEEP = ("sleep", "1000")
CALL_TIMEOUT = 20.0
PROCESS_GRACE = 2.0  # how long a process that was just SIGKILLed may take to be gone
# Text in a runtime's stderr that means it crashed rather than failed.
CRASH_MARKERS = (
    "Traceback (most recent call last)",
    "internal error",
    "panic:",
    "goroutine ",
    "malloc(): ",
    "free(): ",
    "double free",
    "corrupted size",
    "stack smashing",
    "Segmentation fault",
    "AddressSanitizer",
    "SIGSEGV",
)
STATUSES = ("creating", "created", "running", "stopped", "paused")
PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw, 0)
    except ValueError:
        raise SystemExit(f"{name}={raw!r}: not an integer") from None


def default_seed() -> int:
    """RAILCAR_FAULT_SEED, or a fresh one (printed by whoever runs the suite)."""
    return env_int("RAILCAR_FAULT_SEED", secrets.randbelow(2**32))


def become_subreaper() -> None:
    """Engines (containerd-shim, conmon) are subreapers; detached inits get reparented to us."""
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def mount_tmpfs(target: Path, options: str) -> None:
    if _libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", 0, options.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs ({options}) on {target}: {os.strerror(err)}")


def umount(target: Path) -> None:
    _libc.umount2(str(target).encode(), 2)  # MNT_DETACH


class CaseError(Exception):
    """The case cannot go on (a setup step failed): recorded as a failure."""


class CaseSkipped(Exception):
    """The machine cannot do this case: recorded as skipped, with the reason."""


# --- what one case found --------------------------------------------------------------------------
@dataclass
class Outcome:
    runtime: str
    group: str
    name: str
    leaks: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None
    hit: bool | None = None  # SIGKILL cases: the kill landed while the command still ran
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not (self.leaks or self.crashes or self.failures)

    def problems(self) -> list[str]:
        return (
            [f"LEAK {x}" for x in self.leaks]
            + [f"CRASH {x}" for x in self.crashes]
            + [f"FAIL {x}" for x in self.failures]
        )

    def report(self, width: int = 600) -> str:
        lines = [f"[{self.runtime}] {self.group} {self.name}"]
        lines += [f"    {clip(p, width)}" for p in self.problems()]
        return "\n".join(lines)


def clip(text: str, width: int) -> str:
    text = " ".join(text.split()) if "\n" not in text.strip() else text.strip().replace("\n", "\n      ")
    return text if len(text) <= width else text[: width - 3] + "..."


# --- one runtime invocation -------------------------------------------------------------------------
@dataclass
class Call:
    argv: list[str]
    code: int | None  # exit code (-N: killed by signal N); None: timed out
    out: str
    err: str
    killed: bool = False  # SIGKILLed by the case while it still ran
    seconds: float = 0.0

    def short(self) -> str:
        name = Path(self.argv[0]).name
        args = " ".join(a if len(a) < 80 else a[:77] + "..." for a in self.argv[3:])  # drop --root R
        return f"{name} {args}"

    def describe(self) -> str:
        how = "timed out" if self.code is None else f"exit {self.code}"
        if self.killed:
            how += " (SIGKILLed by the case)"
        err = self.err.strip()
        return f"`{self.short()}` -> {how}" + (f"; stderr: {clip(err, 400)!r}" if err else "; stderr empty")

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Pending:
    argv: list[str]
    pid: int
    popen: subprocess.Popen[bytes] | None
    base: Path  # output files: <base>.out, <base>.err
    t0: float


def signame(n: int) -> str:
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


def crash_text(err: str) -> str | None:
    for m in CRASH_MARKERS:
        if m in err:
            return m
    return None


def clear_error(call: Call) -> str | None:
    """Why a failing call's message is not a clear one (None: it is)."""
    err = call.err.strip()
    if not err:
        return "no message on stderr"
    bad = crash_text(err)
    if bad:
        return f"crash text {bad!r} in the message"
    return None


# --- host scans -----------------------------------------------------------------------------------
def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _cmdline(pid: int) -> str:
    try:
        return _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def describe_process(pid: int) -> str:
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = "?"
    try:
        cg = _read(f"/proc/{pid}/cgroup").decode(errors="replace").splitlines()
        cgs = sorted({line.split(":", 2)[2] for line in cg if line.count(":") >= 2})
    except OSError:
        cgs = []
    return f"pid {pid} [{proc_state(pid)}] `{clip(_cmdline(pid), 120)}` exe={exe} cgroup={','.join(cgs)[:200]}"


def marked_processes(markers: Sequence[str]) -> list[int]:
    """Live (not zombie) processes whose cmdline, environ or cgroup holds one of the markers."""
    keys = [m.encode() for m in markers]
    me = os.getpid()
    found = []
    for pid in all_pids():
        if pid in (1, me):
            continue
        st = proc_state(pid)
        if st in (None, "Z", "X"):
            continue
        blobs = []
        for name in ("cmdline", "environ", "cgroup"):
            try:
                blobs.append(_read(f"/proc/{pid}/{name}"))
            except OSError:
                pass
        if any(k in b for k in keys for b in blobs):
            found.append(pid)
    return found


def cgroup_roots() -> list[Path]:
    """Every cgroup hierarchy's mount point (v1 and v2), once each."""
    seen: list[Path] = []
    for mnt, _ in cgroup_mounts():
        if mnt not in seen:
            seen.append(mnt)
    return seen


def marked_cgroups(markers: Sequence[str]) -> list[Path]:
    """Cgroup directories, in every hierarchy and at any depth, whose name holds a marker."""
    found = []
    for mnt in cgroup_roots():
        for dirpath, dirnames, _ in os.walk(mnt):
            for d in dirnames:
                if any(m in d for m in markers):
                    found.append(Path(dirpath) / d)
    return found


def short_cgroup(path: Path) -> str:
    parts = path.parts  # /sys/fs/cgroup/<hierarchy>/...
    if len(parts) > 4 and parts[:4] == ("/", "sys", "fs", "cgroup"):
        return f"{parts[4]}:/{'/'.join(parts[5:])}"
    return str(path)


def marked_mounts(markers: Sequence[str]) -> list[str]:
    return [m for m in host_mountpoints() if any(k in m for k in markers)]


def cgroup_pids(path: Path) -> list[int]:
    try:
        return [int(x) for x in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def ppid_of(pid: int) -> int | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(data[data.rindex(")") + 2 :].split()[1])


def descends_from(pid: int, ancestor: int) -> bool:
    seen = 0
    while pid > 1 and seen < 64:
        if pid == ancestor:
            return True
        nxt = ppid_of(pid)
        if nxt is None:
            return False
        pid, seen = nxt, seen + 1
    return pid == ancestor


def thaw(paths: Sequence[Path]) -> None:
    for p in paths:
        for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            f = p / name
            if f.exists():
                try:
                    f.write_text(value)
                except OSError:
                    pass


def kill_marked(markers: Sequence[str], timeout: float = 5.0) -> list[int]:
    """SIGKILL and reap every process carrying a marker; returns those still alive at the end."""
    deadline = time.monotonic() + timeout
    while True:
        Runtime.reap_zombies()
        left = marked_processes(markers)
        if not left or time.monotonic() > deadline:
            return left
        thaw(marked_cgroups(markers))
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


# --- one case ------------------------------------------------------------------------------------
class Case:
    """One fault case: a private work dir and --root, unique ids, recorded calls and findings."""

    def __init__(self, suite: Suite, group: str, name: str) -> None:
        self.suite = suite
        self.token = suite.new_token()
        self.workdir = suite.session_dir / self.token
        self.rt = Runtime(suite.binary, self.workdir)  # makes the work dir; --root is <workdir>/state
        self.workdir.chmod(0o755)
        self.root = self.rt.root
        self.outcome = Outcome(suite.label, group, name)
        self.extra_ids: list[str] = []  # ids without the tag (".hidden"): deleted, never globbed
        self.own_mounts: list[Path] = []
        self.own_cgroups: list[Path] = []
        self._ids = count()
        self._calls = count()
        self._spawned: set[int] = set()
        self._lock = threading.Lock()
        self.env: dict[str, str] = {}  # extra environment for every runtime call

    # --- ids and bundles -----------------------------------------------------------------------
    def new_id(self) -> str:
        cid = f"{self.token}-{next(self._ids):03d}"
        self.rt.ids.append(cid)
        return cid

    def bundle(self, cid: str, args: Sequence[str] = SLEEP, marker: str | None = None, **overrides: Any) -> Bundle:
        """A bundle whose container carries `marker` (default: the id) in its env, its cgroupsPath
        (/<marker>) and its bundle dir's name. Its root is the suite's shared rootfs, read-only
        (a private copy per case costs 0.7 s here); mounts left under it are leaks too."""
        marker = marker or cid
        path = self.workdir / f"bundle-{marker}"
        path.mkdir()
        cfg = make_config(args, **overrides)
        cfg["root"] = {"path": str(self.suite.rootfs()), "readonly": True}
        cfg["process"]["env"].append(f"{MARKER_ENV}={marker}")
        cfg.setdefault("linux", {})["cgroupsPath"] = f"/{marker}"
        self.rt.cgroups.append(f"/{marker}")
        b = Bundle(path, cfg)
        b.write()
        return b

    def pid_file(self, cid: str) -> Path:
        return self.workdir / f"{cid}.pid"

    def create_args(self, b: Bundle, cid: str, *extra: str) -> tuple[str, ...]:
        return ("create", "--bundle", str(b.path), "--pid-file", str(self.pid_file(cid)), *extra, cid)

    # --- calls ---------------------------------------------------------------------------------
    def spawn(
        self,
        *args: str,
        preexec: Callable[[], None] | None = None,
        fds: dict[int, int] | None = None,
    ) -> Pending:
        """Start `runtime --root R args...` (stdin /dev/null, stdout/stderr to files). `fds` maps
        child fd numbers to ours: then the child has exactly 0, 1, 2 and those."""
        argv = [self.suite.binary, "--root", str(self.root), *args]
        base = self.rt.io / f"c{next(self._calls):04d}"
        env = {**os.environ, **self.env}
        for attempt in range(3):
            self.suite.wait_for_binary()
            try:
                with self._lock, open(f"{base}.out", "wb") as fo, open(f"{base}.err", "wb") as fe:
                    # under the lock: the zombie reaper must not reap a child we have not recorded yet
                    if fds is None:
                        p = subprocess.Popen(
                            argv, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, preexec_fn=preexec, env=env
                        )
                        pid, popen = p.pid, p
                    else:
                        pid, popen = self._posix_spawn(argv, fo.fileno(), fe.fileno(), fds, env), None
                    self._spawned.add(pid)
                break
            except (FileNotFoundError, PermissionError):  # the binary is being replaced by a build
                if attempt == 2:
                    raise
                time.sleep(1.0)
        return Pending(argv, pid, popen, base, time.monotonic())

    @staticmethod
    def _posix_spawn(argv: list[str], out: int, err: int, fds: dict[int, int], env: dict[str, str]) -> int:
        high = {target: os.dup(src) for target, src in fds.items()}  # CLOEXEC copies, numbered high
        try:
            actions: list[tuple[Any, ...]] = [
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out, 1),
                (os.POSIX_SPAWN_DUP2, err, 2),
            ]
            actions += [(os.POSIX_SPAWN_DUP2, src, target) for target, src in high.items()]
            for name in os.listdir("/proc/self/fd"):
                fd = int(name)
                if fd >= 3 and fd not in high:
                    try:
                        if os.get_inheritable(fd):
                            actions.append((os.POSIX_SPAWN_CLOSE, fd))
                    except OSError:
                        pass
            sigdef = (signal.SIGPIPE, signal.SIGXFSZ)
            return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsigdef=sigdef)
        finally:
            for fd in high.values():
                os.close(fd)

    def finish(
        self,
        pend: Pending,
        *,
        allowed: Collection[int] = (0, 1),
        kill_after: float | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> Call:
        """Wait for a spawned call (SIGKILL it `kill_after` s after the spawn, if still running);
        record a crash if it exits with a code outside `allowed`, by a signal, or with crash text."""
        killed, code = False, None
        if kill_after is not None:
            time.sleep(max(0.0, kill_after - (time.monotonic() - pend.t0)))
            code = self._poll(pend.pid)
            if code is None:
                killed = True
                os.kill(pend.pid, signal.SIGKILL)
        if code is None:
            code = self._wait(pend.pid, timeout)
        if code is None:
            os.kill(pend.pid, signal.SIGKILL)
            self._wait(pend.pid, 10.0)
        with self._lock:
            self._spawned.discard(pend.pid)
        if pend.popen is not None:
            pend.popen.returncode = code if code is not None else -9
        call = Call(
            pend.argv,
            code,
            Path(f"{pend.base}.out").read_bytes().decode(errors="replace"),
            Path(f"{pend.base}.err").read_bytes().decode(errors="replace"),
            killed,
            time.monotonic() - pend.t0,
        )
        if code is None:
            self.outcome.failures.append(f"hung: {call.describe()} after {timeout:.0f}s")
        elif not killed and code < 0:
            self.outcome.crashes.append(f"killed by {signame(-code)}: {call.describe()}")
        elif not killed and code not in allowed:
            self.outcome.crashes.append(f"unexpected exit code: {call.describe()}")
        elif crash_text(call.err):
            self.outcome.crashes.append(f"crash text {crash_text(call.err)!r}: {call.describe()}")
        return call

    @staticmethod
    def _poll(pid: int) -> int | None:
        done, status = os.waitpid(pid, os.WNOHANG)
        return os.waitstatus_to_exitcode(status) if done else None

    @staticmethod
    def _wait(pid: int, timeout: float) -> int | None:
        deadline, delay = time.monotonic() + timeout, 0.0005
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.02)

    def call(
        self,
        *args: str,
        allowed: Collection[int] = (0, 1),
        preexec: Callable[[], None] | None = None,
        fds: dict[int, int] | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> Call:
        self.reap()
        return self.finish(self.spawn(*args, preexec=preexec, fds=fds), allowed=allowed, timeout=timeout)

    def must(self, *args: str, timeout: float = CALL_TIMEOUT) -> Call:
        """A setup step: it must exit 0, else the case stops (recorded as a failure)."""
        c = self.call(*args, timeout=timeout)
        if c.code != 0:
            raise CaseError(f"setup step failed: {c.describe()}")
        return c

    def reap(self) -> None:
        """Reap zombie children the way an engine would (not the calls we are waiting for):
        a container init whose runtime died is reparented to us, a subreaper."""
        me = os.getpid()
        with self._lock:
            for pid in all_pids():
                if pid in self._spawned or ppid_of(pid) != me or proc_state(pid) != "Z":
                    continue
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass

    # --- observations --------------------------------------------------------------------------
    def state(self, cid: str) -> tuple[Call, dict[str, Any] | None]:
        c = self.call("state", cid)
        if c.code != 0:
            return c, None
        try:
            data = c.json()
        except ValueError:
            self.outcome.failures.append(f"state printed no JSON: {c.describe()} stdout {c.out[:200]!r}")
            return c, None
        return c, data if isinstance(data, dict) else None

    def wait_status(self, cid: str, want: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            _, st = self.state(cid)
            if st and st.get("status") == want:
                return
            if time.monotonic() > deadline:
                raise CaseError(f"{cid} did not become {want} within {timeout}s (last: {st})")
            time.sleep(0.02)

    def listed(self) -> dict[str, dict[str, Any]] | None:
        """`list` and `list --format json` must exit 0 and parse: id -> entry (None: they did not)."""
        text = self.call("list")
        if text.code != 0:
            self.outcome.failures.append(f"list failed: {text.describe()}")
            return None
        js = self.call("list", "--format", "json")
        if js.code != 0:
            self.outcome.failures.append(f"list failed: {js.describe()}")
            return None
        try:
            data = js.json()
        except ValueError:
            self.outcome.failures.append(f"list --format json printed no JSON: {js.out[:300]!r}")
            return None
        if data is None:
            data = []
        if not isinstance(data, list) or not all(isinstance(e, dict) and "id" in e for e in data):
            self.outcome.failures.append(f"list --format json is not a list of containers: {js.out[:300]!r}")
            return None
        return {str(e["id"]): e for e in data}

    def check_leaks(self, ids: Sequence[str], markers: Sequence[str] | None = None, stage: str = "") -> list[str]:
        """Record (and return) everything left of these containers; see the module docstring."""
        keys = list(markers or ids)
        prefix = f"{stage}: " if stage else ""
        found: list[str] = []
        deadline = time.monotonic() + PROCESS_GRACE
        while True:
            self.reap()
            procs = marked_processes(keys)
            if not procs or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        found += [f"process left: {describe_process(p)}" for p in procs]
        shared = str(self.suite.rootfs()) + "/"
        mounts = [m for m in host_mountpoints() if any(k in m for k in keys) or m.startswith(shared)]
        mounts = [m for m in mounts if Path(m) not in self.own_mounts]
        found += [f"mount left: {m}" for m in mounts]
        cgs = [p for p in marked_cgroups(keys) if p not in self.own_cgroups]
        if cgs:
            shown = ", ".join(short_cgroup(p) for p in cgs[:4]) + (f" (+{len(cgs) - 4} more)" if len(cgs) > 4 else "")
            found.append(f"{len(cgs)} cgroup dirs left: {shown}")
        if self.root.is_dir():
            names = os.listdir(self.root)
            found += [f"state entry left: {self.root}/{n}" for n in names if n in ids or any(k in n for k in keys)]
        listed = self.listed()
        if listed is not None:
            found += [f"`list` still shows {cid} ({listed[cid].get('status')})" for cid in ids if cid in listed]
        self.outcome.leaks += [prefix + f for f in found]
        return found

    # --- things the case makes outside the runtime ---------------------------------------------
    def tiny_root(self, size: str) -> None:
        """Put --root on a tmpfs of `size` (a mount under the case's work dir)."""
        self.root.mkdir(exist_ok=True)
        try:
            mount_tmpfs(self.root, f"size={size},mode=0711")
        except OSError as e:
            raise CaseSkipped(f"cannot mount a tmpfs: {e}") from None
        self.own_mounts.append(self.root)

    def bait_cgroup(self, name: str) -> list[Path]:
        """A cgroup `name` made by the case in every hierarchy (the runtime did not create it)."""
        dirs = []
        for mnt in cgroup_roots():
            d = mnt / name
            try:
                d.mkdir()
            except OSError as e:
                raise CaseSkipped(f"cannot make a cgroup in {mnt}: {e.strerror}") from None
            self.own_cgroups.append(d)
            dirs.append(d)
            for knob in ("cpuset.cpus", "cpuset.mems"):  # an empty cpuset cannot take tasks
                if (d / knob).exists():
                    (d / knob).write_text((mnt / knob).read_text())
        return dirs

    def bystander(self, tag: str, cgroups: Sequence[Path] = ()) -> subprocess.Popen[bytes]:
        """An unrelated process (host /bin/sleep, env RAILCAR_FAULT_BYSTANDER=tag) in `cgroups`."""
        env = {"PATH": "/usr/bin:/bin", "RAILCAR_FAULT_BYSTANDER": tag}
        p = subprocess.Popen(["sleep", "1000"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self.rt.helpers.append(p)  # killed at cleanup
        with self._lock:
            self._spawned.add(p.pid)  # its zombie is ours to inspect, not the reaper's
        for d in cgroups:
            try:
                (d / "cgroup.procs").write_text(str(p.pid))
            except OSError as e:
                if e.errno not in (errno.EOPNOTSUPP, errno.EBUSY):
                    raise CaseError(f"cannot move the bystander into {d}: {e}") from None
        return p

    # --- cleanup -------------------------------------------------------------------------------
    def cleanup(self) -> None:
        errors: list[str] = []
        tag = [self.token]
        left = kill_marked(tag)
        for cid in self.extra_ids:
            try:
                self.call("delete", "--force", cid, timeout=10)
            except OSError:
                pass
        try:
            self.rt.cleanup()  # delete --force the ids, kill strays, unmount, rmdir their cgroups
        except AssertionError as e:
            errors.append(str(e))
        with self._lock:
            self._spawned.clear()
        left = kill_marked(tag)
        if left:
            errors.append("unkillable: " + "; ".join(describe_process(p) for p in left))
        for m in sorted(marked_mounts(tag), key=len, reverse=True):
            umount(Path(m))
        for m in reversed(self.own_mounts):
            umount(m)
        unmount_under(self.workdir)
        unmount_under(self.suite.rootfs())
        errors += remove_cgroups(marked_cgroups(tag))
        for d in self.own_cgroups:
            for pid in cgroup_pids(d):  # only our bystanders ever went in
                if pid in {h.pid for h in self.rt.helpers}:
                    os.kill(pid, signal.SIGKILL)
        errors += remove_cgroups([d for d in self.own_cgroups if d.exists()])
        if not any(m.startswith(str(self.workdir) + "/") for m in host_mountpoints()):
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            errors.append(f"mounts left under {self.workdir}")
        if errors:
            self.outcome.failures.append("cleanup: " + "; ".join(errors))


# --- one runtime's run of the suite -------------------------------------------------------------
class Suite:
    def __init__(
        self,
        label: str,
        binary: str,
        base_rootfs: Path,
        session_dir: Path,
        seed: int,
        n: int,
        log: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.label = label
        self.binary = binary
        self.binary_real = os.path.realpath(binary)
        self.base_rootfs = base_rootfs
        self.session_dir = session_dir
        self.seed = seed
        self.n = n
        self.log = log
        self.session = secrets.token_hex(3)
        self.outcomes: list[Outcome] = []
        self._tokens = count()
        self._rootfs: Path | None = None

    def rootfs(self) -> Path:
        """The suite's rootfs (a copy of the base, so that a leak under it is the suite's)."""
        if self._rootfs is None:
            path = self.session_dir / f"rootfs-{self.label}-{self.session}"
            copy_rootfs(self.base_rootfs, path)
            self._rootfs = path
        return self._rootfs

    def wait_for_binary(self, timeout: float = 120.0) -> None:
        """Wait while the binary is being rebuilt (absent or not yet executable): a missing
        binary is the build's doing, not a finding."""
        deadline = time.monotonic() + timeout
        while not os.access(self.binary, os.X_OK):
            if time.monotonic() > deadline:
                raise CaseError(f"{self.binary} missing or not executable for {timeout:.0f}s")
            time.sleep(0.2)

    def rng(self, group: str) -> random.Random:
        return random.Random(f"{self.seed}:{group}")

    def new_token(self) -> str:
        return f"rcf{self.session}{next(self._tokens):04d}"

    @contextmanager
    def case(self, group: str, name: str) -> Iterator[Case]:
        t0 = time.monotonic()
        c = Case(self, group, name)
        try:
            yield c
        except CaseSkipped as e:
            c.outcome.skipped = str(e)
        except CaseError as e:
            c.outcome.failures.append(str(e))
        except Exception as e:
            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__, limit=-4))
            c.outcome.failures.append(f"harness error {type(e).__name__}: {e}\n{tb}")
        finally:
            try:
                c.cleanup()
            except Exception as e:
                c.outcome.failures.append(f"cleanup error {type(e).__name__}: {e}")
            c.outcome.seconds = time.monotonic() - t0
            self.outcomes.append(c.outcome)
            if self.log:
                self.log(c.outcome)


# --- the summary ----------------------------------------------------------------------------------
COLS = ("cases", "hit", "leak", "crash", "fail", "skip")


def _counts(outs: list[Outcome]) -> dict[str, int | str]:
    hits = [o.hit for o in outs if o.hit is not None]
    return {
        "cases": len(outs),
        "hit": str(sum(hits)) if hits else "-",
        "leak": sum(1 for o in outs if o.leaks),
        "crash": sum(1 for o in outs if o.crashes),
        "fail": sum(1 for o in outs if o.failures),
        "skip": sum(1 for o in outs if o.skipped),
    }


def summary_table(outcomes: Sequence[Outcome], runtimes: Sequence[str]) -> str:
    """Per group and runtime: cases, hits (SIGKILL landed while running), and the number of cases
    that leaked, crashed, failed (wrong behaviour) or were skipped; and who leaked where."""
    groups: list[str] = []
    for o in outcomes:
        if o.group not in groups:
            groups.append(o.group)
    cell = "".join(f"{c:>6}" for c in COLS)
    head1 = f"{'group':<22}" + "".join(f" | {rt:<{len(cell)}}" for rt in runtimes)
    head2 = f"{'':<22}" + f" | {cell}" * len(runtimes)
    compare = len(runtimes) > 1
    if compare:
        head1 += " | leaks"
        head2 += " |"
    lines = [head1, head2, "-" * len(head2 + (" " * 28 if compare else ""))]
    total: dict[str, list[Outcome]] = {rt: [] for rt in runtimes}
    for g in [*groups, "TOTAL"]:
        row = f"{g:<22}"
        leaked = []
        for rt in runtimes:
            outs = [o for o in outcomes if o.runtime == rt and (o.group == g or g == "TOTAL")]
            if g != "TOTAL":
                total[rt] += outs
            cnt = _counts(outs)
            row += " | " + "".join(f"{cnt[c]!s:>6}" for c in COLS)
            if cnt["leak"]:
                leaked.append(rt)
        if compare:
            if not leaked:
                note = ""
            elif len(leaked) == len(runtimes):
                note = "all leak"
            else:
                clean = [rt for rt in runtimes if rt not in leaked]
                note = f"{','.join(leaked)} leaks, {','.join(clean)} does not"
            row += f" | {note}"
        if g == "TOTAL":
            lines.append(lines[2])
        lines.append(row)
    return "\n".join(lines)


def problem_report(outcomes: Sequence[Outcome], per_group: int = 6) -> str:
    """Every case with a problem (at most `per_group` per runtime and group, then a count)."""
    out: list[str] = []
    shown: dict[tuple[str, str], int] = {}
    for o in outcomes:
        if o.clean:
            continue
        key = (o.runtime, o.group)
        shown[key] = shown.get(key, 0) + 1
        if shown[key] <= per_group:
            out.append(o.report())
    for (rt, g), n in shown.items():
        if n > per_group:
            out.append(f"[{rt}] {g}: ... and {n - per_group} more cases with problems")
    skipped = [o for o in outcomes if o.skipped]
    out += [f"[{o.runtime}] {o.group} {o.name}: SKIPPED: {o.skipped}" for o in skipped]
    return "\n".join(out)
