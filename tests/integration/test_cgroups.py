"""Real containers with linux.resources and linux.cgroupsPath: every limit read back from the host's
cgroup files and from inside (the container's own cgroup at /sys/fs/cgroup/<ctrl>), OOM events,
the pids limit against a fork bomb, pause/resume, update, events --stats, ps, kill --all, and no
cgroup directory left behind by delete, delete --force or a failed create.

Written for the machine's layout (v1 controllers, hugetlb on the cgroup2 mount at
/sys/fs/cgroup/unified), and for pure v1 or v2 where the files exist; each test skips what the host
lacks."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IS_REFERENCE, BundleFactory, Runtime, describe
from tests.support.bundle import Bundle, sh

CG = Path("/sys/fs/cgroup")
PARENT = "railcar-it"
SLEEP = ("sleep", "60")
MiB = 1 << 20
IS_V2 = (CG / "cgroup.controllers").exists()
# on this host's v2-only view (RAILCAR_CGROUP_VIEW=v2) only hugetlb: the v1 mounts hold the rest
V2_CONTROLLERS = set((CG / "cgroup.controllers").read_text().split()) if IS_V2 else set()


def v2_needs(*ctrls: str) -> None:
    """Skip on a cgroup2 hierarchy without these controllers (test_cgroups_v2.py checks that
    their settings are refused, naming the field)."""
    missing = [c for c in ctrls if IS_V2 and c not in V2_CONTROLLERS]
    if missing:
        pytest.skip(f"no {', '.join(missing)} controller in this cgroup2 hierarchy "
                    "(refused, naming the field: test_cgroups_v2.py)")


def where_v2_has(ctrl: str, **section: Any) -> dict[str, Any]:
    """linux.resources sections that need `ctrl`, or none where the cgroup2 hierarchy lacks it."""
    return {} if IS_V2 and ctrl not in V2_CONTROLLERS else section


def _v1(ctrl: str) -> bool:
    return not IS_V2 and (CG / ctrl / "cgroup.procs").exists()


def unified_has(ctrl: str) -> Path | None:
    """The cgroup2 mount holding `ctrl`, if any."""
    for mnt in (CG, CG / "unified"):
        try:
            if ctrl in (mnt / "cgroup.controllers").read_text().split():
                return mnt
        except OSError:
            continue
    return None


@pytest.fixture(scope="module", autouse=True)
def _drop_parent() -> Iterator[None]:
    """The tests' common parent, /railcar-it in each hierarchy, goes when empty."""
    yield
    for d in [*CG.glob(f"*/{PARENT}"), CG / PARENT]:
        try:
            d.rmdir()
        except OSError:
            pass


def cg_bundle(make_bundle: BundleFactory, args: Any = SLEEP, **resources: Any) -> tuple[Bundle, str]:
    """A bundle with a unique absolute cgroupsPath and these linux.resources (devices kept)."""
    path = f"/{PARENT}/{secrets.token_hex(5)}"
    b = make_bundle(list(args), linux={"cgroupsPath": path, "resources": resources})
    return b, path


def host(path: str, ctrl: str, name: str) -> Path:
    """A file of the container's cgroup as the host sees it (v1: per controller; v2: one dir)."""
    if IS_V2:
        return CG / path.strip("/") / name
    if ctrl == "unified":
        return CG / "unified" / path.strip("/") / name
    return CG / ctrl / path.strip("/") / name


def inside(ctrl: str, name: str) -> str:
    return f"/sys/fs/cgroup/{name}" if IS_V2 else f"/sys/fs/cgroup/{ctrl}/{name}"


def read_in(runtime: Runtime, cid: str, path: str) -> str:
    res = runtime.run("exec", cid, "cat", path, pipes=True)
    assert res.returncode == 0, f"cat {path} in {cid}: {res.stderr!r}"
    return res.stdout.strip()


def check(runtime: Runtime, cid: str, path: str, ctrl: str, name: str, want: str) -> None:
    """The value as the host sees it and as the container sees it."""
    assert host(path, ctrl, name).read_text().strip() == want, f"host {host(path, ctrl, name)}"
    assert read_in(runtime, cid, inside(ctrl, name)) == want, f"inside {inside(ctrl, name)}"


def started(runtime: Runtime, b: Bundle) -> str:
    cid = runtime.new_id()
    runtime.create(b, cid)
    runtime.start(cid)
    return cid


def gone(runtime: Runtime, path: str) -> None:
    left = runtime.cgroup_dirs(path)
    assert left == [], f"cgroup directories left behind: {left}"


# --- limits, read back ---------------------------------------------------------------------------


def test_memory_limit_reservation_swap(runtime: Runtime, make_bundle: BundleFactory) -> None:
    if IS_V2:
        pytest.skip("v1 file names")
    if not (CG / "memory/memory.memsw.limit_in_bytes").exists():
        pytest.skip("no swap accounting (memory.memsw.*)")
    b, path = cg_bundle(make_bundle, memory={"limit": 64 * MiB, "reservation": 32 * MiB, "swap": 96 * MiB})
    cid = started(runtime, b)
    check(runtime, cid, path, "memory", "memory.limit_in_bytes", str(64 * MiB))
    check(runtime, cid, path, "memory", "memory.soft_limit_in_bytes", str(32 * MiB))
    check(runtime, cid, path, "memory", "memory.memsw.limit_in_bytes", str(96 * MiB))


def test_memory_limit_v2(runtime: Runtime, make_bundle: BundleFactory) -> None:
    if not IS_V2:
        pytest.skip("cgroup v2 only")
    v2_needs("memory")
    b, path = cg_bundle(make_bundle, memory={"limit": 64 * MiB, "reservation": 32 * MiB})
    cid = started(runtime, b)
    check(runtime, cid, path, "memory", "memory.max", str(64 * MiB))
    check(runtime, cid, path, "memory", "memory.low", str(32 * MiB))


def test_cpu_shares_quota_period_cpus(runtime: Runtime, make_bundle: BundleFactory) -> None:
    if IS_V2:
        pytest.skip("v1 file names")
    b, path = cg_bundle(make_bundle, cpu={"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"})
    cid = started(runtime, b)
    check(runtime, cid, path, "cpu", "cpu.shares", "512")
    check(runtime, cid, path, "cpu", "cpu.cfs_quota_us", "50000")
    check(runtime, cid, path, "cpu", "cpu.cfs_period_us", "100000")
    check(runtime, cid, path, "cpuset", "cpuset.cpus", "0")
    # the container's processes really are confined to cpu 0
    status = Path(f"/proc/{runtime.init_pid(cid)}/status").read_text()
    assert "Cpus_allowed_list:\t0\n" in status


def test_pids_limit(runtime: Runtime, make_bundle: BundleFactory) -> None:
    v2_needs("pids")
    b, path = cg_bundle(make_bundle, pids={"limit": 20})
    cid = started(runtime, b)
    check(runtime, cid, path, "pids", "pids.max", "20")


@pytest.mark.skipif(IS_REFERENCE and not IS_V2, reason="reference runtime gap: runc 1.1 looks for hugetlb among "
                    "the v1 controllers only: 'cannot set hugetlb limit: container could not join or create cgroup'")
def test_hugetlb_on_unified(runtime: Runtime, make_bundle: BundleFactory) -> None:
    mnt = unified_has("hugetlb")
    if mnt is None or not Path("/sys/kernel/mm/hugepages/hugepages-2048kB").is_dir():
        pytest.skip("no hugetlb controller on a cgroup2 mount, or no 2MB pages")
    b, path = cg_bundle(make_bundle, hugepageLimits=[{"pageSize": "2MB", "limit": 4 * MiB}])
    cid = started(runtime, b)
    ctrl = "" if IS_V2 else "unified"
    f = (mnt / path.strip("/") / "hugetlb.2MB.max")
    assert f.read_text().strip() == str(4 * MiB), f
    # runc on v2 mounts the whole hierarchy on /sys/fs/cgroup, not the container's own cgroup
    name = "hugetlb.2MB.max" if runtime.is_railcar or not IS_V2 else f"{path.strip('/')}/hugetlb.2MB.max"
    assert read_in(runtime, cid, inside(ctrl, name).replace("//", "/")) == str(4 * MiB)


# --- enforcement ---------------------------------------------------------------------------------


@contextlib.contextmanager
def watching_events(runtime: Runtime, cid: str, go: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`events` on the container, started before it allocates: it waits for the `go` file, touched
    once events printed its first stats line, which comes right after it read the oom baseline (a
    fixed sleep was too short on a loaded machine: the oom came first and went unseen)."""
    ev = runtime.popen("events", "--interval", "1s", cid, io="events")
    try:
        runtime.wait_until(lambda: '"stats"' in runtime.io_text("events") or ev.poll() is not None, 20,
                           "events to start")
        assert ev.poll() is None, runtime.io_text("events", "err")
        go.touch()
        yield ev
    finally:
        if ev.poll() is None:
            ev.kill()
            ev.wait(timeout=10)


def test_oom_kill_reported_by_events(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # the inner sh holding 100 MB in a variable is OOM-killed (its oom_score_adj makes it the victim whatever the
    # timing), the container's own sh survives and says so
    script = ("while [ ! -e /tmp/go ]; do sleep 0.05; done; "
              "head -c 100000000 /dev/zero | tr '\\0' x | "
              "sh -c 'echo 1000 > /proc/self/oom_score_adj; x=$(cat); echo allocated'; "
              "echo inner exit $?; sleep 60")
    v2_needs("memory")
    b, path = cg_bundle(make_bundle, sh(script), memory={"limit": 16 * MiB, "swap": 16 * MiB})
    cid = started(runtime, b)
    with watching_events(runtime, cid, b.rootfs / "tmp/go"):
        try:
            runtime.wait_until(lambda: '"oom"' in runtime.io_text("events"), 20, "an oom event")
        except AssertionError as e:
            raise AssertionError(f"{e}; events: {runtime.io_text('events')[-600:]!r} "
                                 f"{runtime.io_text('events', 'err')!r}; container: {runtime.output(cid)!r}; "
                                 f"oom_control: {host(path, 'memory', 'memory.oom_control').read_text()!r}") from None
        runtime.wait_output(cid, "inner exit", 20)
    ooms = [json.loads(ln) for ln in runtime.io_text("events").splitlines() if '"oom"' in ln]
    assert ooms and ooms[0]["type"] == "oom" and ooms[0]["id"] == cid
    assert "inner exit 137" in runtime.output(cid)  # SIGKILLed by the OOM killer
    assert "allocated" not in runtime.output(cid)
    assert runtime.status(cid) == "running"
    if not IS_V2:
        assert "oom_kill 0" not in host(path, "memory", "memory.oom_control").read_text()


def test_events_reports_the_oom_that_kills_the_container(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """The container's own process is the OOM victim: events says so before it ends."""
    script = ("echo 1000 > /proc/self/oom_score_adj; while [ ! -e /tmp/go ]; do sleep 0.05; done; "
              "x=$(head -c 100000000 /dev/zero | tr '\\0' x); echo allocated")
    v2_needs("memory")
    b, path = cg_bundle(make_bundle, sh(script), memory={"limit": 16 * MiB, "swap": 16 * MiB})
    cid = started(runtime, b)
    with watching_events(runtime, cid, b.rootfs / "tmp/go") as ev:
        runtime.wait_until(lambda: '"oom"' in runtime.io_text("events") or ev.poll() is not None, 20,
                           "an oom event")
        runtime.wait_status(cid, "stopped", 20)
        if runtime.is_railcar:  # railcar's events ends with the container; runc's goes on
            assert ev.wait(timeout=10) == 0, runtime.io_text("events", "err")
    assert runtime.status(cid) == "stopped"
    assert "allocated" not in runtime.output(cid)
    ooms = [json.loads(ln) for ln in runtime.io_text("events").splitlines() if '"oom"' in ln]
    assert ooms and ooms[0] == {"type": "oom", "id": cid}, runtime.io_text("events")


@pytest.mark.railcar_only
def test_events_sleeps_until_the_kernel_wakes_it(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """Between stats, `events` waits on the kernel (an OOM notification fd, the init's pidfd), not
    on a timer: idle for a second and a half it hardly wakes (polling every 0.2 s woke 7 times)."""
    v2_needs("memory")
    b, _ = cg_bundle(make_bundle, ["sleep", "60"], memory={"limit": 64 * MiB})
    cid = started(runtime, b)
    ev = runtime.popen("events", "--interval", "60s", cid, io="events")
    try:
        runtime.wait_until(lambda: '"stats"' in runtime.io_text("events") or ev.poll() is not None, 20,
                           "events to start")
        assert ev.poll() is None, runtime.io_text("events", "err")
        time.sleep(0.3)

        def switches() -> int:
            status = Path(f"/proc/{ev.pid}/status").read_text()
            return sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)

        before = switches()
        time.sleep(1.5)
        assert switches() - before <= 2, "events woke up while nothing happened"
        runtime.kill(cid, "KILL")
        assert ev.wait(timeout=5) == 0  # the init's exit wakes it at once
    finally:
        if ev.poll() is None:
            ev.kill()
            ev.wait(timeout=10)


def test_pids_limit_stops_fork_bomb(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # busybox sh gives up at the first failed fork: the bomb runs in a child shell
    script = ("sh -c 'i=0; while [ $i -lt 60 ]; do i=$((i+1)); sleep 60 & done' 2>/tmp/err; "
              "echo bombed; exec sleep 60")
    v2_needs("pids")
    b, path = cg_bundle(make_bundle, sh(script), pids={"limit": 20})
    cid = started(runtime, b)
    runtime.wait_output(cid, "bombed", 20)
    assert "can't fork" in (b.rootfs / "tmp/err").read_text()
    assert runtime.status(cid) == "running"  # the container survives its bomb
    assert int(host(path, "pids", "pids.current").read_text()) <= 20
    assert len(json.loads(runtime.run("ps", "--format", "json", cid, check=True).stdout)) <= 20


# --- pause / resume ------------------------------------------------------------------------------

COUNTER = sh("i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done")


def _count(b: Bundle) -> int:
    try:
        return int((b.rootfs / "tmp/count").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def test_pause_and_resume(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b, path = cg_bundle(make_bundle, COUNTER)
    cid = started(runtime, b)
    runtime.wait_until(lambda: _count(b) >= 2, 10, "the counter")
    runtime.run("pause", cid, check=True)
    try:
        assert runtime.status(cid) == "paused"
        listed = json.loads(runtime.run("list", "--format", "json", check=True).stdout)
        assert [c["status"] for c in listed if c["id"] == cid] == ["paused"]
        if not IS_V2:
            assert host(path, "freezer", "freezer.state").read_text().strip() == "FROZEN"
        n = _count(b)
        time.sleep(0.5)
        assert _count(b) == n, "the counter moved while paused"
    finally:
        runtime.run("resume", cid, check=True)
    assert runtime.status(cid) == "running"
    runtime.wait_until(lambda: _count(b) > n, 10, "the counter to go on after resume")


def test_pause_and_resume_refuse_the_wrong_state(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """runc's rules: pause a running (or created) container, resume a paused one."""
    b, _ = cg_bundle(make_bundle, ["sleep", "60"])
    cid = started(runtime, b)
    res = runtime.run("resume", cid)
    assert res.returncode == 1 and "container not paused" in res.stderr, describe(res)
    runtime.run("pause", cid, check=True)
    try:
        res = runtime.run("pause", cid)
        assert res.returncode == 1 and "container not running" in res.stderr, describe(res)
        assert runtime.status(cid) == "paused"
    finally:
        runtime.run("resume", cid, check=True)
    assert runtime.status(cid) == "running"


def test_ps_passes_on_the_error_of_ps(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b, _ = cg_bundle(make_bundle, ["sleep", "60"])
    cid = started(runtime, b)
    res = runtime.run("ps", cid, "-o", "nosuchformat")
    assert res.returncode == 1, describe(res)
    assert "exit status 1" in res.stderr and "nosuchformat" in res.stderr, describe(res)


# --- update --------------------------------------------------------------------------------------


def test_update_resources_from_stdin(runtime: Runtime, make_bundle: BundleFactory) -> None:
    if IS_V2:
        pytest.skip("v1 file names")
    b, path = cg_bundle(make_bundle, memory={"limit": 64 * MiB}, cpu={"shares": 512}, pids={"limit": 50})
    cid = started(runtime, b)
    new = {"memory": {"limit": 128 * MiB}, "pids": {"limit": 0}, "cpu": {"shares": 0}}
    runtime.run("update", "--resources", "-", cid, input=json.dumps(new), check=True)
    check(runtime, cid, path, "memory", "memory.limit_in_bytes", str(128 * MiB))
    check(runtime, cid, path, "pids", "pids.max", "50")  # 0: unchanged
    check(runtime, cid, path, "cpu", "cpu.shares", "512")  # 0: unchanged


def test_update_flags(runtime: Runtime, make_bundle: BundleFactory) -> None:
    if IS_V2:
        pytest.skip("v1 file names")
    b, path = cg_bundle(make_bundle, memory={"limit": 64 * MiB}, cpu={"shares": 512}, pids={"limit": 50})
    cid = started(runtime, b)
    runtime.run("update", "--memory", str(96 * MiB), "--pids-limit", "30", cid, check=True)
    check(runtime, cid, path, "memory", "memory.limit_in_bytes", str(96 * MiB))
    check(runtime, cid, path, "pids", "pids.max", "30")
    check(runtime, cid, path, "cpu", "cpu.shares", "512")  # absent: unchanged


@pytest.mark.parametrize("size, want", [("100M", 100 * MiB), ("96m", 96 * MiB), ("1g", 1024 * MiB),
                                        ("131072k", 128 * MiB)])
def test_update_memory_with_units(runtime: Runtime, make_bundle: BundleFactory, size: str, want: int) -> None:
    """docker and runc users write sizes with units (go-units' RAMInBytes)."""
    if IS_V2:
        pytest.skip("v1 file names")
    b, path = cg_bundle(make_bundle, memory={"limit": 64 * MiB})
    cid = started(runtime, b)
    runtime.run("update", "--memory", size, cid, check=True)
    check(runtime, cid, path, "memory", "memory.limit_in_bytes", str(want))


def test_update_stopped_container_fails(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b, path = cg_bundle(make_bundle, ("true",), **where_v2_has("pids", pids={"limit": 50}))
    cid = started(runtime, b)
    runtime.wait_status(cid, "stopped")
    res = runtime.run("update", "--pids-limit", "30", cid, pipes=True)
    assert res.returncode == 1, res


# --- events --stats, ps --------------------------------------------------------------------------


def test_events_stats(runtime: Runtime, make_bundle: BundleFactory) -> None:
    v2_needs("memory", "pids")  # without them: test_cgroups_v2.py::test_stats_from_core_files
    b, path = cg_bundle(make_bundle, sh("x=0; while :; do x=$((x+1)); done"), memory={"limit": 64 * MiB})
    cid = started(runtime, b)
    time.sleep(0.5)  # burn some cpu
    res = runtime.run("events", "--stats", cid, pipes=True, check=True)
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1, res.stdout
    ev = json.loads(lines[0])
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert data["cpu"]["usage"]["total"] > 0
    assert data["memory"]["usage"]["usage"] > 0
    assert data["memory"]["usage"]["limit"] == 64 * MiB
    assert data["pids"]["current"] >= 1


def test_ps_json_lists_host_pids(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b, path = cg_bundle(make_bundle, sh("sleep 60 & sleep 60 & echo ready; wait"))
    cid = started(runtime, b)
    runtime.wait_output(cid, "ready")
    runtime.wait_until(lambda: len(json.loads(runtime.run("ps", "--format", "json", cid).stdout)) >= 3, 10,
                       "three processes")
    pids = json.loads(runtime.run("ps", "--format", "json", cid, check=True).stdout)
    assert runtime.init_pid(cid) in pids
    procs = {int(p) for p in host(path, "pids", "cgroup.procs").read_text().split()}
    assert set(pids) == procs
    for p in pids:
        assert Path(f"/proc/{p}").exists()


def test_kill_all(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b, path = cg_bundle(make_bundle, sh("sleep 60 & sleep 60 & echo ready; wait"))
    cid = started(runtime, b)
    runtime.wait_output(cid, "ready")
    runtime.wait_until(lambda: len(host(path, "pids", "cgroup.procs").read_text().split()) >= 3, 10, "children")
    runtime.kill(cid, "KILL", all_=True)
    runtime.wait_until(lambda: not host(path, "pids", "cgroup.procs").read_text().split(), 10, "an empty cgroup")
    runtime.wait_status(cid, "stopped")
    runtime.delete(cid)
    gone(runtime, path)


# --- nothing left behind -------------------------------------------------------------------------


def test_delete_removes_cgroups(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b, path = cg_bundle(make_bundle, ("true",), **where_v2_has("pids", pids={"limit": 50}),
                        **where_v2_has("memory", memory={"limit": 64 * MiB}))
    cid = started(runtime, b)
    assert runtime.cgroup_dirs(path), "no cgroup directory made"
    runtime.wait_status(cid, "stopped")
    runtime.delete(cid)
    gone(runtime, path)


def test_delete_force_running_removes_cgroups(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b, path = cg_bundle(make_bundle, sh("sleep 60 & sleep 60"), **where_v2_has("pids", pids={"limit": 50}))
    cid = started(runtime, b)
    pid = runtime.init_pid(cid)
    runtime.delete(cid, force=True)
    gone(runtime, path)
    assert runtime.run("state", cid).returncode == 1
    runtime.wait_exit(pid)


def test_delete_force_paused_removes_cgroups(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b, path = cg_bundle(make_bundle, SLEEP)
    cid = started(runtime, b)
    runtime.run("pause", cid, check=True)
    runtime.delete(cid, force=True)
    gone(runtime, path)


def test_failed_create_bad_cpuset_leaves_nothing(runtime: Runtime, make_bundle: BundleFactory) -> None:
    if not (_v1("cpuset") or IS_V2):
        pytest.skip("no cpuset controller")
    v2_needs("cpuset")
    b, path = cg_bundle(make_bundle, SLEEP, cpu={"cpus": "999"})
    cid = runtime.new_id()
    res = runtime.create(b, cid, check=False)
    assert res.returncode == 1, res
    if runtime.is_railcar:
        assert "cpus" in res.stderr, res.stderr
    gone(runtime, path)
    assert cid not in runtime.container_dirs()
    assert runtime.run("state", cid).returncode == 1
    assert not os.path.exists(runtime.pid_file(cid))


def test_pause_of_a_created_container(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """runc's order: paused before created; start refuses, resume brings back 'created'."""
    b, _ = cg_bundle(make_bundle, ["sleep", "60"])
    cid = runtime.new_id()
    runtime.create(b, cid)
    runtime.run("pause", cid, check=True)
    try:
        assert runtime.status(cid) == "paused"
        res = runtime.start(cid, check=False)
        assert res.returncode == 1 and "paused" in res.stderr, describe(res)
    finally:
        runtime.run("resume", cid, check=True)
    assert runtime.status(cid) == "created"
    runtime.start(cid)
    assert runtime.status(cid) == "running"
