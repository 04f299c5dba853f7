"""Fixtures for the integration suite: the runtime under test, bundles, cleanup.

The runtime comes from $RAILCAR_TEST_RUNTIME (default <repo>/bin/railcar). Against runc or crun,
tests marked `railcar_only` are skipped. Every test gets its own --root, work dir and container ids;
its finalizer force-deletes containers, kills leftover processes, unmounts and removes cgroups.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from tests.support import cgroupview
from tests.support.bundle import Bundle, copy_rootfs, make_config, make_rootfs
from tests.support.cgroupfs import remove_cgroups

REPO = Path(__file__).resolve().parent.parent
RUNTIME = os.environ.get("RAILCAR_TEST_RUNTIME") or str(REPO / "bin" / "railcar")
RUNTIME = shutil.which(RUNTIME) or RUNTIME
IS_REFERENCE = Path(RUNTIME).name in ("runc", "crun")
TIMEOUT = 20.0  # any single runtime invocation
RUN_TIMEOUT = 30.0  # a foreground `run`
PR_SET_CHILD_SUBREAPER = 36
MS_BIND, MS_SHARED, MNT_DETACH = 0x1000, 0x100000, 2
VALID_ID = re.compile(r"[A-Za-z0-9_+.-]+")
_libc = ctypes.CDLL(None, use_errno=True)


def pytest_configure(config: pytest.Config) -> None:
    # Callers (containerd-shim, conmon) are child subreapers: detached inits get reparented to us.
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    # RAILCAR_CGROUP_VIEW=v2: the whole run (and every engine it starts) in a cgroup v2-only view,
    # entered before any test module is imported (see tests/support/cgroupview.py)
    try:
        _VIEW[:] = [cgroupview.enter_from_env()]
    except (OSError, ValueError) as e:
        raise pytest.UsageError(str(e)) from None


_VIEW: list[str] = []


def pytest_report_header(config: pytest.Config) -> list[str]:
    note = " (a reference runtime: railcar_only tests are skipped)" if IS_REFERENCE else ""
    return [f"runtime under test: {RUNTIME}{note}", *filter(None, _VIEW)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not IS_REFERENCE:
        return
    skip = pytest.mark.skip(reason=f"railcar_only: {Path(RUNTIME).name} is a reference runtime")
    for item in items:
        if "railcar_only" in item.keywords:
            item.add_marker(skip)


def reference_gap(reason: str) -> pytest.MarkDecorator:
    """Skip a test that runc/crun are known to fail on this machine (the reason says how)."""
    return pytest.mark.skipif(IS_REFERENCE, reason=f"reference runtime gap: {reason}")


class RuntimeCallFailed(AssertionError):
    pass


def describe(res: subprocess.CompletedProcess[str]) -> str:
    cmd = " ".join(map(str, res.args))
    return f"{cmd}\n  exit {res.returncode}\n  stdout: {res.stdout!r}\n  stderr: {res.stderr!r}"


def _remap_fds(fds: dict[int, int]) -> Callable[[], None]:
    def child() -> None:
        for target, src in fds.items():
            os.dup2(src, target)  # dup2 leaves the target inheritable (no CLOEXEC)

    return child


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, ppid) of a pid, None if gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def _glob(base: Path, pattern: str) -> list[Path]:
    """Path.glob over a cgroup tree that other processes change meanwhile: a directory that
    vanishes between listing and reading is skipped, not an error."""
    for _ in range(10):
        try:
            return list(base.glob(pattern))
        except FileNotFoundError:
            continue
    return []


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def host_mountpoints() -> list[str]:
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]


def cgroup_mounts() -> list[tuple[Path, str]]:
    """(mount point, our own cgroup inside it) for every cgroup v1/v2 mount."""
    own: dict[frozenset[str], str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        own[frozenset(ctrls.split(",")) if ctrls else frozenset()] = path
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        fstype, _, sopts = post.split()[:3]
        if fstype not in ("cgroup", "cgroup2"):
            continue
        key = frozenset() if fstype == "cgroup2" else frozenset(sopts.split(",")) - {"rw", "ro"}
        path = next((p for k, p in own.items() if k == key), "/")
        root, mp = pre.split()[3:5]
        rel = path[len(root) :] if root != "/" and path.startswith(root) else path
        found.append((Path(mp), rel))
    return found


def io_name(name: str) -> str:
    """A file-name-safe form of a (possibly invalid) container id."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def host_mount(target: Path, source: str = "none", fstype: str | None = None, flags: int = 0) -> None:
    """mount(2) on the host, only under a test's work dir (its cleanup unmounts). No mount(8):
    it would leave /run/mount behind."""
    fs = fstype.encode() if fstype else None
    if _libc.mount(source.encode(), str(target).encode(), fs, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def unmount_under(path: Path) -> None:
    prefix = str(path) + "/"
    for mp in sorted((m for m in host_mountpoints() if m.startswith(prefix)), key=len, reverse=True):
        _libc.umount2(mp.encode(), MNT_DETACH)


class Runtime:
    """The runtime binary bound to one test's private --root and work dir."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.root = workdir / "state"
        self.io = workdir / "io"
        self.io.mkdir(parents=True)
        self.ids: list[str] = []
        self.cgroups: list[str] = []
        self.helpers: list[subprocess.Popen[bytes]] = []
        self._calls = count()

    @property
    def is_railcar(self) -> bool:
        return not IS_REFERENCE

    def new_id(self) -> str:
        cid = f"it-{secrets.token_hex(5)}"
        self.ids.append(cid)
        return cid

    def pid_file(self, cid: str) -> Path:
        return self.workdir / f"{cid}.pid"

    # --- raw invocation -------------------------------------------------------------------------
    def run(
        self,
        *args: str,
        check: bool = False,
        input: str | None = None,
        timeout: float = TIMEOUT,
        fds: dict[int, int] | None = None,
        pipes: bool = False,
        io: str | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`runtime --root R args...`. Output goes to files (io/<io>.out/.err) unless `pipes`:
        a created container inherits them, and pipes would keep us waiting for its exit.
        `fds` maps a child fd number to one of ours (left inheritable)."""
        argv = [self.binary, "--root", str(self.root), *args]
        name = io_name(io) if io else f"call{next(self._calls)}"
        extra: dict[str, Any] = {"cwd": cwd}
        if fds:
            extra.update(preexec_fn=_remap_fds(fds), close_fds=False)
        stdin = None if input is not None else subprocess.DEVNULL
        data = input.encode() if input is not None else None
        try:
            if pipes:
                proc = subprocess.run(argv, stdin=stdin, input=data, capture_output=True, timeout=timeout, **extra)
                out, err = proc.stdout, proc.stderr
            else:
                with open(self.io / f"{name}.out", "wb") as fo, open(self.io / f"{name}.err", "wb") as fe:
                    proc = subprocess.run(argv, stdin=stdin, input=data, stdout=fo, stderr=fe, timeout=timeout, **extra)
                out, err = (self.io / f"{name}.out").read_bytes(), (self.io / f"{name}.err").read_bytes()
        except subprocess.TimeoutExpired:
            raise RuntimeCallFailed(f"timed out after {timeout}s: {' '.join(argv)}") from None
        res = subprocess.CompletedProcess(
            argv, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
        )
        if check and res.returncode != 0:
            raise RuntimeCallFailed(describe(res))
        return res

    def popen(self, *args: str, io: str) -> subprocess.Popen[bytes]:
        """Start `runtime --root R args...` without waiting; output in io/<io>.out/.err."""
        io = io_name(io)
        with open(self.io / f"{io}.out", "wb") as fo, open(self.io / f"{io}.err", "wb") as fe:
            return subprocess.Popen(
                [self.binary, "--root", str(self.root), *args], stdin=subprocess.DEVNULL, stdout=fo, stderr=fe
            )

    def io_text(self, io: str, stream: str = "out") -> str:
        return (self.io / f"{io_name(io)}.{stream}").read_text(errors="replace")

    # --- commands -------------------------------------------------------------------------------
    def create(
        self, bundle: Bundle, cid: str, *extra: str, pid_file: bool = True, check: bool = True, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        """`create`; the container's stdout/stderr land in io/<cid>.out/.err (see `output`)."""
        self._prepare(bundle, cid)
        opts = ["--bundle", str(bundle.path)]
        if pid_file:
            opts += ["--pid-file", str(self.pid_file(cid))]
        return self.run("create", *opts, *extra, cid, check=check, io=cid, **kw)

    def start(self, cid: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("start", cid, check=check)

    def state(self, cid: str) -> dict[str, Any]:
        res = self.run("state", cid, check=True)
        try:
            return json.loads(res.stdout)  # type: ignore[no-any-return]
        except ValueError as e:
            raise RuntimeCallFailed(f"state is not JSON ({e}): {describe(res)}") from None

    def status(self, cid: str) -> str:
        return str(self.state(cid)["status"])

    def try_status(self, cid: str) -> str | None:
        """The status, or None while the container does not (yet) exist."""
        res = self.run("state", cid)
        return str(json.loads(res.stdout)["status"]) if res.returncode == 0 else None

    def kill(
        self, cid: str, sig: str | None = "KILL", all_: bool = False, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`kill [--all] ID [SIG]` (sig=None: the runtime's default signal)."""
        return self.run("kill", *(["--all"] if all_ else []), cid, *([sig] if sig else []), check=check)

    def delete(self, cid: str, force: bool = False, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("delete", *(["--force"] if force else []), cid, check=check)

    def run_container(
        self,
        bundle: Bundle,
        *extra: str,
        cid: str | None = None,
        timeout: float = RUN_TIMEOUT,
        **kw: Any,
    ) -> subprocess.CompletedProcess[str]:
        """Foreground `run --bundle B [extra] ID` with stdio pipes; returns once the container exits."""
        cid = cid or self.new_id()
        self._prepare(bundle, cid)
        return self.run("run", "--bundle", str(bundle.path), *extra, cid, pipes=True, timeout=timeout, **kw)

    def create_started(self, bundle: Bundle, *extra: str) -> str:
        """Create and start a container; returns its id."""
        cid = self.new_id()
        self.create(bundle, cid, *extra)
        self.start(cid)
        return cid

    # --- observation ----------------------------------------------------------------------------
    def output(self, cid: str) -> str:
        """What a created container wrote to its stdout so far."""
        return self.io_text(cid)

    def wait_output(self, cid: str, text: str, timeout: float = 10.0) -> None:
        self.wait_until(lambda: text in self.output(cid), timeout, f"{text!r} on {cid}'s stdout")

    def init_pid(self, cid: str) -> int:
        return int(self.pid_file(cid).read_text())

    def container_dirs(self) -> list[str]:
        """Sorted names of the directories under --root (one per container)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name != "@railcar")

    def wait_until(self, pred: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.02)

    def wait_status(self, cid: str, want: str, timeout: float = 10.0) -> None:
        self.wait_until(lambda: self.try_status(cid) == want, timeout, f"{cid} to be {want}")

    def wait_exit(self, pid: int, timeout: float = 10.0) -> int | None:
        """Reap a container init (reparented to us as subreaper): its exit code (-N for signal N),
        or None if it was not our child."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                self.wait_until(lambda: _proc_stat(pid) is None, max(0.1, deadline - time.monotonic()))
                return None
            if done:
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > deadline:
                raise AssertionError(f"pid {pid} still alive after {timeout}s")
            time.sleep(0.02)

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """A helper process (e.g. a namespace holder) killed at cleanup."""
        p = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self.helpers.append(p)
        return p

    def stray_processes(self) -> list[int]:
        """Live processes left over: our non-helper children (orphaned container processes are
        reparented to us) and anything whose root directory is inside this test's work dir."""
        me, helpers = os.getpid(), {h.pid for h in self.helpers}
        found = []
        for pid in all_pids():
            st = _proc_stat(pid)
            if st is None or st[0] == "Z" or pid in helpers:
                continue
            try:
                inside = os.readlink(f"/proc/{pid}/root").startswith(str(self.workdir) + "/")
            except OSError:
                inside = False
            if st[1] == me or inside:
                found.append(pid)
        return found

    @staticmethod
    def reap_zombies() -> None:
        """Reap zombie children, as a subreaper must (the runtime's orphans end up here)."""
        me = os.getpid()
        for pid in all_pids():
            st = _proc_stat(pid)
            if st and st == ("Z", me):
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass

    @staticmethod
    def cgroup_dirs(rel: str) -> list[Path]:
        """Existing cgroup dirs, in every hierarchy, for a cgroupsPath `rel` (absolute: from the
        hierarchy root; relative: under our own cgroup too) or a container id (any dir of that
        name up to three levels down: runc's default is <our cgroup>/<id>, railcar's /railcar/<id>)."""
        parts = rel.strip("/").split("/")
        if any(p in ("", ".", "..") for p in parts):
            return []  # never walk out of a hierarchy
        found: list[Path] = []
        for mnt, own in cgroup_mounts():
            base = mnt / own.strip("/")
            cands = [base / rel.strip("/"), mnt / rel.strip("/")]
            if len(parts) == 1:
                cands += _glob(mnt, f"*/{rel}") + _glob(mnt, f"*/*/{rel}")
            for c in cands:
                if c.is_dir() and c not in found and c not in (mnt, base):
                    found.append(c)
        return found

    def _prepare(self, bundle: Bundle, cid: str) -> None:
        """Write config.json; remember the id and any cgroupsPath for cleanup."""
        bundle.write()
        if cid not in self.ids:
            self.ids.append(cid)
        cg = bundle.config.get("linux", {}).get("cgroupsPath")
        if cg and cg not in self.cgroups:
            self.cgroups.append(cg)

    # --- cleanup --------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Force-delete, kill, reap, unmount, remove cgroups; raise at the end if something stuck."""
        ids = set(self.ids) | set(self.container_dirs())
        for cid in ids:
            try:
                self.run("delete", "--force", cid, timeout=10)
            except (RuntimeCallFailed, OSError):  # e.g. the binary is being rebuilt
                pass
        for h in self.helpers:
            h.kill()
            h.wait(timeout=10)
        for _ in range(100):
            self.reap_zombies()
            strays = self.stray_processes()
            if not strays:
                break
            for pid in strays:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        unmount_under(self.workdir)
        errors = []
        for rel in {c for c in ids if VALID_ID.fullmatch(c) and ".." not in c} | set(self.cgroups):
            errors += remove_cgroups(self.cgroup_dirs(rel))
        if errors:
            raise AssertionError("cleanup: " + "; ".join(errors))


@pytest.fixture(scope="session")
def session_dir() -> Iterator[Path]:
    # Not under pytest's 0700 tmp root: a user-namespaced container must be able to traverse it.
    d = Path(tempfile.mkdtemp(prefix="railcar-it-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    unmount_under(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def base_rootfs(session_dir: Path) -> Path:
    path = session_dir / "rootfs-base"
    make_rootfs(path)
    return path


@pytest.fixture(scope="session")
def runtime_binary() -> str:
    if not os.access(RUNTIME, os.X_OK):
        pytest.exit(f"runtime {RUNTIME} is not executable: build it or set RAILCAR_TEST_RUNTIME", 2)
    return RUNTIME


_test_counter = count()


@pytest.fixture
def workdir(session_dir: Path, request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]
    d = session_dir / f"{next(_test_counter):03d}-{name}"
    d.mkdir()
    d.chmod(0o755)
    return d


@pytest.fixture
def runtime(runtime_binary: str, workdir: Path) -> Iterator[Runtime]:
    rt = Runtime(runtime_binary, workdir)
    try:
        yield rt
    finally:
        rt.cleanup()
        if not any(m.startswith(str(workdir) + "/") for m in host_mountpoints()):
            shutil.rmtree(workdir, ignore_errors=True)


BundleFactory = Callable[..., Bundle]


@pytest.fixture
def make_bundle(runtime: Runtime, base_rootfs: Path) -> BundleFactory:
    """make_bundle(args, **overrides) -> Bundle with a private rootfs copy (config not yet final:
    tests may edit `bundle.config`; create/run write it)."""
    n = count()

    def factory(args: Sequence[str] = ("true",), **overrides: Any) -> Bundle:
        path = runtime.workdir / f"bundle{next(n)}"
        path.mkdir()
        copy_rootfs(base_rootfs, path / "rootfs")
        b = Bundle(path, make_config(args, **overrides))
        b.write()
        return b

    return factory


RunIn = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_in(runtime: Runtime, make_bundle: BundleFactory) -> RunIn:
    """run_in(args, *run_flags, expect=0, **overrides): run a fresh container to completion and
    assert its exit code (expect=None: any)."""

    def go(
        args: Sequence[str], *flags: str, expect: int | None = 0, **overrides: Any
    ) -> subprocess.CompletedProcess[str]:
        res = runtime.run_container(make_bundle(args, **overrides), *flags)
        if expect is not None and res.returncode != expect:
            raise AssertionError(f"expected exit {expect}: {describe(res)}")
        return res

    return go
