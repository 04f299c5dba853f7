"""One sample of each measurement. A sample returns {metric key: value} or raises CommandFailed,
and leaves nothing behind either way (state, processes, cgroups)."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from railbench import bundle, cgroups, env, proc, trace
from railbench.proc import CommandFailed
from railbench.runtime import Runtime

INIT_TIMEOUT = 20.0  # seconds for a started /bin/true to exit
PARALLEL_CONTAINERS = 50
PARALLEL_WORKERS = 8
MEMORY_LOW = 64 * 1024
MEMORY_HIGH = 64 * 1024 * 1024
PAGE = 4096
MIB = 1024 * 1024

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Context:
    workdir: Path
    rootfs: Path
    base_spec: dict[str, Any]
    seccomp: dict[str, Any] | None
    docker: dict[str, Any] | None = None  # the recorded docker config.json (bundle.docker_config)
    bundles: dict[str, Path] = field(default_factory=dict)
    docker_runtimes: dict[str, Runtime] = field(default_factory=dict)  # see docker_runtime
    _ids: Iterator[int] = field(default_factory=itertools.count)

    @property
    def cgroup_parent(self) -> str:
        return f"/railcar-bench-{os.getpid()}"

    @property
    def id_prefix(self) -> str:
        return f"bench-{os.getpid()}-"

    def new_id(self) -> str:
        return f"{self.id_prefix}{next(self._ids)}"

    def pid_file(self, cid: str) -> Path:
        return self.workdir / "pids" / f"{cid}.pid"

    def prepare(self) -> None:
        (self.workdir / "pids").mkdir()
        self.bundles["plain"] = bundle.write_bundle(
            self.workdir / "bundle-plain", bundle.make_config(self.base_spec, self.rootfs)
        )
        if self.seccomp is not None:
            config = bundle.make_config(self.base_spec, self.rootfs, seccomp=self.seccomp)
            self.bundles["seccomp"] = bundle.write_bundle(self.workdir / "bundle-seccomp", config)
        if self.docker is not None:
            bundle.make_docker_files(self.workdir / "docker-files")

    def docker_runtime(self, rt: Runtime) -> Runtime:
        """`rt` with a --root of its own for the docker-config samples: railcar's seccomp cache
        there keeps docker's profile from the warm-up on, as under an engine, which sends the same
        profile for every container; the cold seccomp samples empty only the other root's cache."""
        if rt.name not in self.docker_runtimes:
            self.docker_runtimes[rt.name] = rt.with_own_root("docker")
        return self.docker_runtimes[rt.name]

    def docker_bundle(self, rt: Runtime, cid: str) -> tuple[Path, str]:
        """A bundle with a new docker config for container `cid` (as an engine writes one per
        container), and its cgroupsPath."""
        if self.docker is None:
            raise CommandFailed(f"no recorded docker config ({bundle.DOCKER_CONFIG})")
        cgroup = f"{self.cgroup_parent}/{cid}"
        config = bundle.make_docker_config(
            self.docker, self.rootfs, self.workdir / "docker-files", hostname=cid[-12:], cgroups_path=cgroup
        )
        return bundle.write_bundle(self.workdir / f"bundle-docker-{rt.name}", config), cgroup


@dataclass
class Launched:
    """A container after `create` + `start`: its init's pid and a pidfd to wait on."""

    cid: str
    pid: int
    pidfd: int
    create_ms: float
    start_ms: float


def _discard(rt: Runtime, cid: str, launched: Launched | None = None) -> None:
    """Best-effort removal after a failure: force-delete, then reap the init and close its pidfd."""
    rt.force_delete(cid)
    if launched is not None:
        if proc.wait_exit(launched.pidfd, INIT_TIMEOUT):
            _reap(launched.pid)
        os.close(launched.pidfd)


def _reap(pid: int) -> int | None:
    """Reap an exited init if it is our child (we are a subreaper); its exit code, None if not ours."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status)


def _open_init(pid_file: Path) -> tuple[int, int]:
    """(pid, pidfd) of the init named in a --pid-file."""
    try:
        pid = int(pid_file.read_text().strip())
        return pid, os.pidfd_open(pid)  # still blocked before exec: the pid cannot be reused yet
    except (OSError, ValueError) as exc:
        raise CommandFailed(f"{pid_file}: {exc}") from exc


def _run_container(rt: Runtime, ctx: Context, kind: str, *global_args: str) -> proc.Outcome:
    """`run` of a new container from bundle `kind`: "plain", "seccomp", or "docker" (a new docker
    config for this container, whose cgroup is removed afterwards)."""
    cid = ctx.new_id()
    cgroup = None
    try:
        if kind == "docker":
            path, cgroup = ctx.docker_bundle(rt, cid)
        else:
            path = ctx.bundles[kind]
        return rt.call(*global_args, "run", "--bundle", str(path), cid).check()
    except BaseException:
        rt.force_delete(cid)
        raise
    finally:
        if cgroup is not None:
            cgroups.remove(cgroup)  # the runtime removed it already; a failed run may not have


def sample_run(ctx: Context, rt: Runtime) -> dict[str, float]:
    out = _run_container(rt, ctx, "plain")
    values = {"run_ms": out.wall_ms, "run_cpu_ms": out.cpu_ms}
    if out.maxrss_kib is not None:
        values["run_maxrss_mib"] = out.maxrss_kib / 1024
    return values


def sample_seccomp(ctx: Context, rt: Runtime, cold: bool) -> dict[str, float]:
    if "seccomp" not in ctx.bundles:
        raise CommandFailed("no docker seccomp profile found (tests/data or bench/data)")
    if cold:
        rt.clear_seccomp_cache()
    out = _run_container(rt, ctx, "seccomp")
    return {"seccomp_cold_ms" if cold else "seccomp_warm_ms": out.wall_ms}


def sample_docker(ctx: Context, rt: Runtime) -> dict[str, float]:
    return {"docker_run_ms": _run_container(ctx.docker_runtime(rt), ctx, "docker").wall_ms}


def traces(rt: Runtime) -> bool:
    """railcar and its variants have --trace-startup (their --version names the interpreter)."""
    return rt.name.startswith("railcar") or rt.launcher is not None


def sample_trace(ctx: Context, rt: Runtime, kind: str) -> dict[str, float]:
    """`--trace-startup run` (railcar only): the interpreter's start and railcar's own work
    (railbench/trace.py); {} for other runtimes. The run's wall time is not a sample: tracing
    costs a little."""
    if not traces(rt):
        return {}
    out = _run_container(ctx.docker_runtime(rt) if kind == "docker" else rt, ctx, kind, "--trace-startup")
    try:
        phases = trace.phases(out.stderr)
    except trace.TraceError as exc:
        raise CommandFailed(f"{rt.name}: {exc}") from None
    suffix = "" if kind == "plain" else f"_{kind}"
    return {f"trace_{name}{suffix}_ms": ms for name, ms in phases.items()}


def _create_start(ctx: Context, rt: Runtime, cid: str) -> Launched:
    pid_file = ctx.pid_file(cid)
    launched = None
    try:
        create = rt.call("create", "--bundle", str(ctx.bundles["plain"]), "--pid-file", str(pid_file), cid)
        create.check()
        pid, pidfd = _open_init(pid_file)
        launched = Launched(cid, pid, pidfd, create.wall_ms, 0.0)
        launched.start_ms = rt.call("start", cid).check().wall_ms
        return launched
    except BaseException:
        _discard(rt, cid, launched)
        raise


def _await_init(launched: Launched) -> float:
    """Wait until the started init exits and reap it; the wait in ms."""
    start = time.perf_counter()
    try:
        if not proc.wait_exit(launched.pidfd, INIT_TIMEOUT):
            raise CommandFailed(f"{launched.cid}: init {launched.pid} still running after {INIT_TIMEOUT}s")
        waited = (time.perf_counter() - start) * 1000
        code = _reap(launched.pid)
    finally:
        os.close(launched.pidfd)
    if code not in (0, None):
        raise CommandFailed(f"{launched.cid}: /bin/true exited {code}")
    return waited


def _finish(rt: Runtime, launched: Launched) -> tuple[float, float]:
    """Wait for the init, then `delete`; (wait ms, delete ms). Force-deletes on failure."""
    try:
        waited = _await_init(launched)
        return waited, rt.call("delete", launched.cid).check().wall_ms
    except BaseException:
        rt.force_delete(launched.cid)
        raise


def sample_lifecycle(ctx: Context, rt: Runtime) -> dict[str, float]:
    """containerd's sequence: create, start, wait for the init to exit, delete."""
    launched = _create_start(ctx, rt, ctx.new_id())
    waited, deleted = _finish(rt, launched)
    return {
        "create_ms": launched.create_ms,
        "start_ms": launched.start_ms,
        "wait_ms": waited,
        "delete_ms": deleted,
        "lifecycle_ms": launched.create_ms + launched.start_ms + deleted,
    }


SampleFn = Callable[[Context, Runtime], dict[str, float]]
# The floor under any runtime that starts CPython: a bare interpreter (railcar's launcher embeds
# Debian's), sampled in the same rounds so the ratios below the table compare like with like.
FLOOR_ARGV = ("/usr/bin/python3", "-I", "-S", "-c", "pass")


def sample_floor() -> float | None:
    """Wall ms of one bare interpreter start and exit; None when there is no /usr/bin/python3."""
    if not os.access(FLOOR_ARGV[0], os.X_OK):
        return None
    out = proc.run(FLOOR_ARGV, 10.0)
    return out.wall_ms if out.ok else None


SAMPLED: tuple[tuple[str, SampleFn], ...] = (
    ("run", sample_run),
    ("seccomp_cold", lambda ctx, rt: sample_seccomp(ctx, rt, cold=True)),
    ("seccomp_warm", lambda ctx, rt: sample_seccomp(ctx, rt, cold=False)),
    ("lifecycle", sample_lifecycle),
    ("docker", sample_docker),
    ("trace", lambda ctx, rt: sample_trace(ctx, rt, "plain")),
    ("trace_docker", lambda ctx, rt: sample_trace(ctx, rt, "docker")),
)


def _pool_map(fn: Callable[[T], R], items: Iterable[T], stop: threading.Event) -> list[R]:
    """fn over items on PARALLEL_WORKERS threads; on interruption, stop and kill what runs."""
    with ThreadPoolExecutor(PARALLEL_WORKERS) as pool:
        try:
            return list(pool.map(fn, items))
        except BaseException:
            stop.set()
            proc.kill_inflight()
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def parallel(ctx: Context, rt: Runtime) -> dict[str, Any]:
    """PARALLEL_CONTAINERS create+start on PARALLEL_WORKERS threads, then teardown and a leak check."""
    ids = [ctx.new_id() for _ in range(PARALLEL_CONTAINERS)]
    stop = threading.Event()

    def launch(cid: str) -> Launched | str:
        if stop.is_set():
            return f"{cid}: interrupted"
        try:
            return _create_start(ctx, rt, cid)
        except CommandFailed as exc:
            return str(exc)

    def finish(item: Launched | str) -> str | None:
        if isinstance(item, str):
            return None
        try:
            _finish(rt, item)
        except CommandFailed as exc:
            return str(exc)
        return None

    start = time.perf_counter()
    launched = _pool_map(launch, ids, stop)
    elapsed = time.perf_counter() - start
    teardown_errors = [e for e in _pool_map(finish, launched, stop) if e]
    launch_errors = [x for x in launched if isinstance(x, str)]
    errors = launch_errors + teardown_errors
    return {
        "containers": PARALLEL_CONTAINERS,
        "workers": PARALLEL_WORKERS,
        "seconds": elapsed,
        "per_second": (PARALLEL_CONTAINERS - len(launch_errors)) / elapsed,
        "failed": len(errors),
        "errors": errors[:5],
        "strays_reaped": env.reap_strays(),
        "leaked_state": [cid for cid in rt.state_ids() if cid in ids],
        "leaked_processes": env.live_children(),
        "leaked_cgroups": [str(p) for p in cgroups.find(ctx.id_prefix) if p.name in ids],
    }


def _memory_try(ctx: Context, rt: Runtime, limit: int) -> proc.Outcome:
    cid = ctx.new_id()
    cgroup = f"{ctx.cgroup_parent}/{cid}"
    config = bundle.make_config(ctx.base_spec, ctx.rootfs, memory_limit=limit, cgroups_path=cgroup)
    path = bundle.write_bundle(ctx.workdir / f"bundle-memory-{rt.name}", config)
    try:
        return rt.call("run", "--bundle", str(path), cid)  # an OOM kill shows as a non-zero exit
    finally:
        if cid in rt.state_ids():
            rt.force_delete(cid)
        cgroups.remove(cgroup)


def memory_min(ctx: Context, rt: Runtime) -> dict[str, Any]:
    """Bisect (to a page) the smallest memory limit (= swap limit) under which `run` succeeds."""
    tries: list[dict[str, Any]] = []

    def works(limit: int) -> bool:
        out = _memory_try(ctx, rt, limit)
        tries.append({"limit": limit, "ok": out.ok, **({} if out.ok else {"error": out.describe()})})
        return out.ok

    if not works(MEMORY_HIGH) and not works(MEMORY_HIGH):  # a second chance before giving up
        return {"min_bytes": None, "tries": tries, "note": f"fails even at {MEMORY_HIGH // MIB} MiB"}
    low, high = MEMORY_LOW, MEMORY_HIGH
    if works(low):
        return {"min_bytes": low, "tries": tries}
    while high - low > PAGE:
        mid = low + (high - low) // PAGE // 2 * PAGE
        if works(mid):
            high = mid
        else:
            low = mid
    return {"min_bytes": high, "tries": tries}
