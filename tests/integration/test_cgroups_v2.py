"""cgroup v2 paths, with real containers: cgroup.freeze, cgroup.kill, the eBPF device filter,
v2 hugetlb, linux.resources.unified, statistics from the core v2 files, and a clear refusal
(naming the field) of every resource the v2 hierarchy lacks. Each is checked at the cgroup's
files on the host and from inside the container.

These run where /sys/fs/cgroup is cgroup2. On this hybrid host that is the v2-only view
(RAILCAR_CGROUP_VIEW=v2, tests/support/cgroupview.py), which test_cgroup_views.py runs from the
normal suite. Its hierarchy has hugetlb as its only controller (the v1 mounts hold the others),
so memory, cpu, cpuset, pids, io... are refused here and their tests skip; on a full v2 host the
refusal tests skip instead.

runc 1.1.5's results on the same tests sit beside railcar's: `IS_REFERENCE` branches assert what
runc does, reference_gap marks what it does not do (with how it fails)."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IS_REFERENCE, BundleFactory, Runtime, describe, reference_gap
from tests.support.bundle import Bundle, sh

CG = Path("/sys/fs/cgroup")
IS_V2 = (CG / "cgroup.controllers").exists()
CONTROLLERS = set((CG / "cgroup.controllers").read_text().split()) if IS_V2 else set()
PARENT = "railcar-it-v2"
MiB = 1 << 20
HUGE_2MB = Path("/sys/kernel/mm/hugepages/hugepages-2048kB").is_dir()

if not IS_V2:
    pytest.skip("cgroup v2 only: /sys/fs/cgroup is not cgroup2 here (test_cgroup_views.py runs this module in a "
                "v2-only view)", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def _drop_parent() -> Any:
    yield
    try:
        (CG / PARENT).rmdir()
    except OSError:
        pass


def has(ctrl: str) -> bool:
    return ctrl in CONTROLLERS


def needs(*ctrls: str) -> None:
    missing = [c for c in ctrls if not has(c)]
    if missing:
        pytest.skip(f"the cgroup2 hierarchy has no {', '.join(missing)} controller here "
                    f"(controllers: {' '.join(sorted(CONTROLLERS)) or 'none'})")


def needs_hugetlb() -> None:
    needs("hugetlb")
    if not HUGE_2MB:
        pytest.skip("no 2MB huge pages on this kernel")


def bundle(make_bundle: BundleFactory, args: Any = ("sleep", "60"), **linux: Any) -> tuple[Bundle, str, Path]:
    """A bundle with a fresh absolute cgroupsPath; (bundle, cgroupsPath, its host directory)."""
    path = f"/{PARENT}/{secrets.token_hex(5)}"
    b = make_bundle(list(args), linux={"cgroupsPath": path, **linux})
    return b, path, CG / path.strip("/")


def started(runtime: Runtime, b: Bundle) -> str:
    cid = runtime.new_id()
    runtime.create(b, cid)
    runtime.start(cid)
    return cid


def own(runtime: Runtime, path: str) -> str:
    """Where the container's own cgroup is inside it, with no cgroup namespace: railcar mounts that
    cgroup itself on /sys/fs/cgroup; runc 1.1.5 mounts the whole hierarchy there (see
    test_container_sees_its_own_cgroup2), so its own is /sys/fs/cgroup/<cgroupsPath>."""
    return "/sys/fs/cgroup" if runtime.is_railcar else "/sys/fs/cgroup" + path


def inside(runtime: Runtime, cid: str, script: str) -> str:
    res = runtime.run("exec", cid, "sh", "-c", script, pipes=True)
    assert res.returncode == 0, describe(res)
    return res.stdout.strip()


def events(d: Path) -> dict[str, str]:
    return dict(line.split() for line in (d / "cgroup.events").read_text().splitlines())


def procs(d: Path) -> list[int]:
    return [int(p) for p in (d / "cgroup.procs").read_text().split()]


def gone(runtime: Runtime, path: str) -> None:
    left = runtime.cgroup_dirs(path)
    assert left == [], f"cgroup directories left behind: {left}"


# --- the container's view ---------------------------------------------------------------------------


def test_container_sees_its_own_cgroup2(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """Inside (no cgroup namespace), /sys/fs/cgroup is a read-only cgroup2 mount of the container's
    own cgroup: its cgroup.procs lists the container's processes, its controllers are the parent's.
    runc 1.1.5 mounts the whole hierarchy instead: the container sees every cgroup of the host."""
    b, path, d = bundle(make_bundle)
    cid = started(runtime, b)
    before = procs(d)
    assert runtime.init_pid(cid) in before
    assert sorted(json.loads(runtime.run("ps", "--format", "json", cid, check=True).stdout)) == sorted(before)
    out = inside(runtime, cid, "grep ' /sys/fs/cgroup ' /proc/self/mountinfo; cat /sys/fs/cgroup/cgroup.controllers; "
                               "wc -w < /sys/fs/cgroup/cgroup.procs; mkdir /sys/fs/cgroup/x 2>/dev/null || echo RO; "
                               f"test -e /sys/fs/cgroup/{PARENT} && echo HOST-TREE || echo OWN")
    mnt, *rest = out.splitlines()
    assert " - cgroup2 " in mnt and "ro" in mnt.split()[5].split(","), mnt
    assert rest[-2] == "RO", out
    if IS_REFERENCE:
        assert rest[-1] == "HOST-TREE", out
        return
    assert rest[-1] == "OWN", out
    assert rest[0].split() == (d / "cgroup.controllers").read_text().split(), out
    assert int(rest[1]) >= len(before) + 1, out  # and the exec'd sh (and its wc)


def test_cgroup_namespace(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """With a cgroup namespace the container's cgroup is its root: /proc/self/cgroup says 0::/ and
    /sys/fs/cgroup is that cgroup (both runtimes)."""
    b, path, d = bundle(make_bundle)
    b.set_namespace("cgroup")
    cid = started(runtime, b)
    out = inside(runtime, cid, "cat /proc/self/cgroup; cat /sys/fs/cgroup/cgroup.freeze; "
                               f"test -e /sys/fs/cgroup/{PARENT} && echo HOST-TREE || echo OWN")
    assert out.splitlines()[-3:] == ["0::/", "0", "OWN"], out
    assert os.readlink(f"/proc/{runtime.init_pid(cid)}/ns/cgroup") != os.readlink("/proc/self/ns/cgroup")


@pytest.mark.parametrize("cgroupns", [True, False], ids=["cgroupns", "no-cgroupns"])
def test_host_network_namespace(runtime: Runtime, make_bundle: BundleFactory, cgroupns: bool) -> None:
    """No network namespace of its own (docker/podman --network host, a pod's containers): /sys is
    then the host's, bound with the host's cgroup2 mount in it. The container still starts and sees
    its own cgroup (railcar failed here with `mount cgroup to /sys/fs/cgroup (type cgroup2): device
    or resource busy` when it had a cgroup namespace)."""
    b, path, d = bundle(make_bundle)
    b.drop_namespace("network")
    if cgroupns:
        b.set_namespace("cgroup")
    cid = started(runtime, b)
    where = "/sys/fs/cgroup" if cgroupns else own(runtime, path)
    out = inside(runtime, cid, f"cat {where}/cgroup.freeze; readlink /proc/self/ns/net")
    assert out.split() == ["0", os.readlink("/proc/self/ns/net")], out


# --- freezer: cgroup.freeze ---------------------------------------------------------------------------

COUNTER = sh("i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done")


def _count(b: Bundle) -> int:
    try:
        return int((b.rootfs / "tmp/count").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def test_pause_writes_cgroup_freeze(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """pause: cgroup.freeze 1 and cgroup.events `frozen 1`, and nothing inside moves; resume: 0 and
    0, and the counter inside goes on."""
    b, path, d = bundle(make_bundle, COUNTER)
    cid = started(runtime, b)
    runtime.wait_until(lambda: _count(b) >= 2, 10, "the counter")
    runtime.run("pause", cid, check=True)
    try:
        assert (d / "cgroup.freeze").read_text().strip() == "1"
        assert events(d)["frozen"] == "1"
        assert runtime.status(cid) == "paused"
        n = _count(b)
        time.sleep(0.4)
        assert _count(b) == n, "the counter moved while paused"
    finally:
        runtime.run("resume", cid, check=True)
    assert (d / "cgroup.freeze").read_text().strip() == "0"
    assert events(d)["frozen"] == "0"
    assert runtime.status(cid) == "running"
    runtime.wait_until(lambda: _count(b) > n, 10, "the counter to go on after resume")
    assert inside(runtime, cid, f"cat {own(runtime, path)}/cgroup.freeze") == "0"


def test_exec_into_a_paused_container_refused(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """A process joining a frozen cgroup would freeze at once: exec into a paused container is refused
    (nothing hangs), the cgroup stays frozen, and exec works again after resume."""
    b, _, d = bundle(make_bundle)
    cid = started(runtime, b)
    runtime.run("pause", cid, check=True)
    try:
        res = runtime.run("exec", cid, "true", pipes=True, timeout=10)
        assert res.returncode != 0 and "paused" in res.stderr, describe(res)
        assert events(d)["frozen"] == "1"
    finally:
        runtime.run("resume", cid, check=True)
    inside(runtime, cid, "true")


# --- cgroup.kill ----------------------------------------------------------------------------------------


def test_kill_all_reaches_sub_cgroups(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """kill --all empties the whole subtree, a process moved to a sub-cgroup included (cgroup.kill
    kills the subtree), ps lists that process too, and delete removes the sub-cgroup."""
    b, path, d = bundle(make_bundle, sh("sleep 60 & sleep 60 & echo ready; wait"))
    cid = started(runtime, b)
    runtime.wait_output(cid, "ready")
    runtime.wait_until(lambda: len(procs(d)) >= 3, 10, "three processes")
    assert (d / "cgroup.kill").exists()
    sub = d / "sub"
    sub.mkdir()
    moved = next(p for p in procs(d) if p != runtime.init_pid(cid))
    (sub / "cgroup.procs").write_text(str(moved))
    assert procs(sub) == [moved]
    listed = json.loads(runtime.run("ps", "--format", "json", cid, check=True).stdout)
    assert moved in listed and runtime.init_pid(cid) in listed, listed
    runtime.kill(cid, "KILL", all_=True)
    runtime.wait_until(lambda: not procs(d) and not procs(sub), 10, "an empty subtree")
    assert events(d)["populated"] == "0"
    runtime.wait_status(cid, "stopped")
    runtime.delete(cid)
    gone(runtime, path)


def test_delete_force_of_a_paused_container(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """A frozen cgroup is killed and removed in one go (no thaw needed for cgroup.kill)."""
    b, path, d = bundle(make_bundle, sh("sleep 60 & sleep 60 & echo ready; wait"))
    cid = started(runtime, b)
    runtime.wait_output(cid, "ready")
    runtime.run("pause", cid, check=True)
    pids = procs(d)
    runtime.delete(cid, force=True)
    gone(runtime, path)
    for pid in pids:
        runtime.wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, f"pid {pid} to die")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


# --- the eBPF device filter -----------------------------------------------------------------------------

SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine)
BPF_PROG_QUERY, BPF_CGROUP_DEVICE = 16, 6
_libc = ctypes.CDLL(None, use_errno=True)


def device_programs(d: Path) -> int:
    """How many BPF_CGROUP_DEVICE programs are attached to the cgroup directory itself."""
    if SYS_BPF is None:
        pytest.skip(f"bpf(2) syscall number unknown on {os.uname().machine}")
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        attr = (ctypes.c_uint32 * 32)()  # union bpf_attr, the query struct: target_fd, attach_type, ...
        attr[0], attr[1] = fd, BPF_CGROUP_DEVICE
        if _libc.syscall(SYS_BPF, BPF_PROG_QUERY, ctypes.byref(attr), ctypes.sizeof(attr)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"BPF_PROG_QUERY {d}: {os.strerror(err)}")
        return int(attr[6])  # prog_cnt, after the 8-byte-aligned prog_ids at offset 16
    finally:
        os.close(fd)


# kmsg (1:11) is in no default rule: a node of it made inside can be made (c *:* m) but not opened
KMSG = "mknod /tmp/kmsg c 1 11 && echo MADE; (: > /tmp/kmsg) 2>/dev/null && echo OPENED || echo DENIED"
MKNOD = {"capabilities": {k: ["CAP_MKNOD"] for k in ("bounding", "effective", "permitted")}}


def test_default_device_rules_are_an_ebpf_filter(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """`runc spec`'s rules (deny all) plus runc's default list become an eBPF program attached to the
    container's cgroup: /dev/null and /dev/zero work, a node of another device cannot be opened."""
    b, _, d = bundle(make_bundle, sh(f"echo x > /dev/null && head -c 3 /dev/zero | wc -c; {KMSG}; sleep 60"),
                     resources={"devices": [{"allow": False, "access": "rwm"}]})
    b.config["process"].update(MKNOD)
    cid = started(runtime, b)
    runtime.wait_output(cid, "DENIED")
    assert device_programs(d) >= 1
    assert runtime.output(cid).split() == ["3", "MADE", "DENIED"], runtime.output(cid)


def test_device_filter_access_bits(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """A device allowed for reading only (loop-control, 10:237, in no default rule): a node of it
    made inside opens for reading, not for writing."""
    rules = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 237, "access": "r"}]
    script = ("mknod /tmp/lc c 10 237; (exec 3</tmp/lc) && echo READ; "
              "(exec 4>/tmp/lc) 2>/dev/null && echo WROTE || echo NOWRITE; sleep 60")
    b, _, d = bundle(make_bundle, sh(script), resources={"devices": rules})
    b.config["process"].update(MKNOD)
    cid = started(runtime, b)
    runtime.wait_output(cid, "WRITE")
    assert runtime.output(cid).split() == ["READ", "NOWRITE"], runtime.output(cid)
    assert device_programs(d) >= 1


def test_allow_all_devices(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """`a *:* rwm` allowed: any node made inside can be opened."""
    b, _, d = bundle(make_bundle, sh(f"{KMSG}; sleep 60"), resources={"devices": [{"allow": True, "access": "rwm"}]})
    b.config["process"].update(MKNOD)
    cid = started(runtime, b)
    runtime.wait_output(cid, "MADE")
    runtime.wait_until(lambda: "OPENED" in runtime.output(cid) or "DENIED" in runtime.output(cid), 10, "the open")
    assert runtime.output(cid).split() == ["MADE", "OPENED"], runtime.output(cid)
    if runtime.is_railcar:
        assert device_programs(d) == 0  # railcar attaches no program that would allow everything


# --- hugetlb ---------------------------------------------------------------------------------------------


def test_hugetlb_limit_and_update(runtime: Runtime, make_bundle: BundleFactory) -> None:
    needs_hugetlb()
    b, path, d = bundle(make_bundle, resources={"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MiB}]})
    cid = started(runtime, b)
    assert (d / "hugetlb.2MB.max").read_text().strip() == str(4 * MiB)
    assert inside(runtime, cid, f"cat {own(runtime, path)}/hugetlb.2MB.max") == str(4 * MiB)
    if (d / "hugetlb.2MB.rsvd.max").exists() and runtime.is_railcar:  # runc 1.1.5 leaves rsvd.max at max
        assert (d / "hugetlb.2MB.rsvd.max").read_text().strip() == str(4 * MiB)
    new = {"hugepageLimits": [{"pageSize": "2MB", "limit": 8 * MiB}]}
    runtime.run("update", "--resources", "-", cid, input=json.dumps(new), check=True)
    want = str(4 * MiB) if IS_REFERENCE else str(8 * MiB)  # runc 1.1.5's update leaves hugetlb alone
    assert (d / "hugetlb.2MB.max").read_text().strip() == want
    assert inside(runtime, cid, f"cat {own(runtime, path)}/hugetlb.2MB.max") == want


def test_hugetlb_unknown_page_size_refused(runtime: Runtime, make_bundle: BundleFactory) -> None:
    needs("hugetlb")
    b, path, _ = bundle(make_bundle, resources={"hugepageLimits": [{"pageSize": "3MB", "limit": 4 * MiB}]})
    cid = runtime.new_id()
    res = runtime.create(b, cid, check=False)
    assert res.returncode == 1, describe(res)
    if runtime.is_railcar:
        assert ("linux.resources.hugepageLimits[0].pageSize: hugepage size '3MB' is not supported by this kernel "
                "(available: 2MB") in res.stderr, res.stderr
    else:  # runc names the file
        assert "hugetlb.3MB.max: no such file or directory" in res.stderr, res.stderr
    gone(runtime, path)


def test_hugetlb_in_stats(runtime: Runtime, make_bundle: BundleFactory) -> None:
    needs_hugetlb()
    b, _, _ = bundle(make_bundle, resources={"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MiB}]})
    cid = started(runtime, b)
    data = json.loads(runtime.run("events", "--stats", cid, pipes=True, check=True).stdout)["data"]
    assert "2MB" in data["hugetlb"], data["hugetlb"]
    assert data["hugetlb"]["2MB"].get("failcnt", 0) == 0


# --- linux.resources.unified --------------------------------------------------------------------------


def test_unified_writes_files_as_given(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """Core files (cgroup.max.descendants) and a controller's (hugetlb) are written as given, read
    back on the host and inside, and enforced: a third sub-cgroup is refused."""
    unified = {"cgroup.max.descendants": "2"}
    if has("hugetlb") and HUGE_2MB:
        unified["hugetlb.2MB.max"] = str(6 * MiB)
    b, path, d = bundle(make_bundle, resources={"unified": unified})
    cid = started(runtime, b)
    for name, value in unified.items():
        assert (d / name).read_text().strip() == value, name
        assert inside(runtime, cid, f"cat {own(runtime, path)}/{name}") == value, name
    (d / "a").mkdir()
    (d / "b").mkdir()
    with pytest.raises(OSError) as exc:
        (d / "c").mkdir()
    assert exc.value.errno == errno.EAGAIN


def test_unified_update(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b, path, d = bundle(make_bundle, resources={"unified": {"cgroup.max.depth": "3"}})
    cid = started(runtime, b)
    assert (d / "cgroup.max.depth").read_text().strip() == "3"
    res = runtime.run("update", "--resources", "-", cid, input=json.dumps({"unified": {"cgroup.max.depth": "1"}}))
    assert res.returncode == 0, describe(res)
    assert (d / "cgroup.max.depth").read_text().strip() == "1"
    assert inside(runtime, cid, f"cat {own(runtime, path)}/cgroup.max.depth") == "1"


def test_unified_file_of_a_missing_controller_refused(runtime: Runtime, make_bundle: BundleFactory) -> None:
    needs_missing("memory")
    b, path, _ = bundle(make_bundle, resources={"unified": {"memory.max": str(64 * MiB)}})
    cid = runtime.new_id()
    res = runtime.create(b, cid, check=False)
    assert res.returncode == 1, describe(res)
    if runtime.is_railcar:
        assert ('linux.resources.unified.memory.max: the memory controller is not available in the unified '
                'hierarchy') in res.stderr, res.stderr
    else:
        assert 'unified resource \\"memory.max\\" can\'t be set: controller \\"memory\\" not available' in res.stderr, \
            res.stderr
    gone(runtime, path)
    assert runtime.run("state", cid).returncode == 1


# --- statistics from the core v2 files --------------------------------------------------------------


def test_stats_from_core_files(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """events --stats with no cpu controller: cpu usage comes from cpu.stat, which every cgroup2
    directory has; the controllers the hierarchy has add theirs."""
    b, _, d = bundle(make_bundle, sh("x=0; while :; do x=$((x+1)); done"))
    cid = started(runtime, b)
    runtime.wait_until(lambda: int(dict(ln.split() for ln in (d / "cpu.stat").read_text().splitlines())
                                    ["usage_usec"]) > 100000, 10, "0.1 s of cpu")
    ev = json.loads(runtime.run("events", "--stats", cid, pipes=True, check=True).stdout)
    assert ev["type"] == "stats" and ev["id"] == cid
    assert ev["data"]["cpu"]["usage"]["total"] >= 100000 * 1000
    if has("pids"):
        assert ev["data"]["pids"]["current"] >= 1
    if has("memory"):
        assert ev["data"]["memory"]["usage"]["usage"] > 0


# --- what this hierarchy lacks: refused, naming the field ------------------------------------------------

# (controller, linux.resources, the field the error names)
MISSING = [
    ("memory", {"memory": {"limit": 64 * MiB}}, "linux.resources.memory.limit"),
    ("memory", {"memory": {"reservation": 32 * MiB}}, "linux.resources.memory.reservation"),
    ("memory", {"memory": {"swap": 128 * MiB, "limit": 64 * MiB}}, "linux.resources.memory.limit"),
    ("cpu", {"cpu": {"shares": 512}}, "linux.resources.cpu.shares"),
    ("cpu", {"cpu": {"quota": 50000, "period": 100000}}, "linux.resources.cpu.quota"),
    ("cpuset", {"cpu": {"cpus": "0"}}, "linux.resources.cpu.cpus"),
    ("cpuset", {"cpu": {"mems": "0"}}, "linux.resources.cpu.mems"),
    ("pids", {"pids": {"limit": 20}}, "linux.resources.pids.limit"),
    ("io", {"blockIO": {"weight": 500}}, "linux.resources.blockIO.weight"),
    ("rdma", {"rdma": {"mlx5_0": {"hcaHandles": 3}}}, "linux.resources.rdma"),
]
MISSING_IDS = ["memory.limit", "memory.reservation", "memory.swap", "cpu.shares", "cpu.quota", "cpu.cpus",
               "cpu.mems", "pids.limit", "blockIO.weight", "rdma"]


def needs_missing(ctrl: str) -> None:
    if has(ctrl):
        pytest.skip(f"this cgroup2 hierarchy has the {ctrl} controller: nothing to refuse")


@pytest.mark.parametrize("ctrl, resources, field", MISSING, ids=MISSING_IDS)
def test_missing_controller_refused(runtime: Runtime, make_bundle: BundleFactory, ctrl: str,
                                    resources: dict[str, Any], field: str) -> None:
    """create fails with an error naming the field and the controller; nothing is left behind."""
    needs_missing(ctrl)
    b, path, _ = bundle(make_bundle, resources=resources)
    cid = runtime.new_id()
    res = runtime.create(b, cid, check=False)
    assert res.returncode == 1, describe(res)
    if runtime.is_railcar:
        assert f"railcar: {field}: the {ctrl} cgroup controller is not available on this host" in res.stderr, \
            res.stderr
    else:  # runc refuses too, naming the cgroup file it could not open (not the field)
        assert "no such file or directory" in res.stderr, res.stderr
    gone(runtime, path)
    assert runtime.run("state", cid).returncode == 1
    assert cid not in runtime.container_dirs()


@reference_gap("runc 1.1.5 ignores linux.resources.network on cgroup v2: create succeeds, no class id is set")
def test_net_cls_refused(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """linux.resources.network has no v2 counterpart."""
    b, path, _ = bundle(make_bundle, resources={"network": {"classID": 0x100001}})
    res = runtime.create(b, runtime.new_id(), check=False)
    assert res.returncode == 1, describe(res)
    assert ("linux.resources.network.classID: not supported on cgroup v2 (there is no net_cls controller)"
            in res.stderr), res.stderr
    gone(runtime, path)


@pytest.mark.parametrize("flag, value, field, ctrl", [
    ("--memory", "64m", "linux.resources.memory.limit", "memory"),
    ("--pids-limit", "30", "linux.resources.pids.limit", "pids"),
    ("--cpu-share", "512", "linux.resources.cpu.shares", "cpu"),
    ("--cpuset-cpus", "0", "linux.resources.cpu.cpus", "cpuset"),
], ids=["memory", "pids-limit", "cpu-share", "cpuset-cpus"])
def test_update_of_a_missing_controller_refused(runtime: Runtime, make_bundle: BundleFactory, flag: str,
                                                value: str, field: str, ctrl: str) -> None:
    """update fails naming the field; the container runs on, unchanged."""
    needs_missing(ctrl)
    b, _, d = bundle(make_bundle)
    cid = started(runtime, b)
    res = runtime.run("update", flag, value, cid, pipes=True)
    assert res.returncode == 1, describe(res)
    if runtime.is_railcar:
        assert f"{field}: the {ctrl} cgroup controller is not available on this host" in res.stderr, res.stderr
    else:  # runc names the file it could not open
        assert "no such file or directory" in res.stderr, res.stderr
    assert runtime.status(cid) == "running"
    assert runtime.init_pid(cid) in procs(d)
