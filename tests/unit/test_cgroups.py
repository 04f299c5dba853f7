"""railcar.cgroups: layout detection and path mapping from recorded samples, linux.resources
validation, resource mapping on fake cgroup trees, and real cgroups (as root) on this machine."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from railcar import cgroups
from railcar.cgroups import Layout, Manager, detect, devices, resolve_path
from railcar.cgroups.blkio import blkio_weight_to_io_weight
from railcar.cgroups.cpu import shares_to_weight
from railcar.cgroups.devices.program import assemble
from railcar.cgroups.manager import HybridManager, V1Manager, V2Manager
from railcar.errors import RailcarError, SpecError

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")


def sample(name: str) -> tuple[str, str]:
    with open(os.path.join(DATA, f"mountinfo-{name}.txt")) as f:
        mi = f.read()
    with open(os.path.join(DATA, f"mountinfo-{name}-cgroup.txt")) as f:
        pc = f.read()
    return mi, pc


# ---------------------------------------------------------------------------------------------
# detect()


def test_detect_v1_comounted() -> None:
    mi, pc = sample("v1")
    lay = detect(mi, pc)
    assert lay.kind == "v1"
    assert lay.v2 == ""
    assert lay.v2_controllers == set()
    assert lay.v1["cpu"] == lay.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert lay.v1["net_cls"] == lay.v1["net_prio"] == "/sys/fs/cgroup/net_cls,net_prio"
    assert lay.v1["name=systemd"] == "/sys/fs/cgroup/systemd"
    assert lay.v1["cpuset"] == "/sys/fs/cgroup/cpuset"   # "clone_children" is an option
    assert "clone_children" not in lay.v1 and "xattr" not in lay.v1
    assert set(lay.v1) == {"cpu", "cpuacct", "net_cls", "net_prio", "memory", "blkio", "pids",
                           "freezer", "devices", "cpuset", "perf_event", "hugetlb", "rdma",
                           "name=systemd"}
    assert lay.own_v1["memory"] == "/user.slice/user-1000.slice/session-2.scope"
    assert lay.own_v1["cpu"] == lay.own_v1["cpuacct"] == "/user.slice"
    assert lay.own_v1["name=systemd"] == "/user.slice/user-1000.slice/session-2.scope"


def test_detect_v2() -> None:
    mi, pc = sample("v2")
    lay = detect(mi, pc, "cpuset cpu io memory hugetlb pids rdma misc\n")
    assert lay.kind == "v2"
    assert lay.v1 == {}
    assert lay.v2 == "/sys/fs/cgroup"
    assert lay.v2_controllers == {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma",
                                  "misc"}
    assert lay.own_v2 == "/user.slice/user-1000.slice/session-3.scope"


def test_detect_hybrid_recorded_from_this_machine() -> None:
    mi, pc = sample("hybrid")
    lay = detect(mi, pc, "hugetlb\n")
    assert lay.kind == "hybrid"
    assert lay.v2 == "/sys/fs/cgroup/unified"
    assert lay.v2_controllers == {"hugetlb"}
    # cpu and cpuacct are separate mounts here
    assert lay.v1["cpu"] == "/sys/fs/cgroup/cpu"
    assert lay.v1["cpuacct"] == "/sys/fs/cgroup/cpuacct"
    assert "hugetlb" not in lay.v1
    assert set(lay.v1) == {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                           "pids", "name=systemd"}
    assert lay.own_v1["memory"] == "/session/1"
    assert lay.own_v2 == "/"


def test_detect_live_matches_mountinfo() -> None:
    lay = detect()
    with open("/proc/self/mountinfo") as f:
        mi = f.read()
    has2 = " - cgroup2 " in mi
    has1 = " - cgroup " in mi
    assert lay.kind == {(True, True): "hybrid", (True, False): "v1", (False, True): "v2"}[
        (has1, has2)]
    for mp in set(lay.v1.values()) | ({lay.v2} if lay.v2 else set()):
        assert os.path.isfile(mp + "/cgroup.procs")


def test_detect_container_mount_root() -> None:
    mi, pc = sample("v1-container")
    lay = detect(mi, pc)
    assert lay.kind == "v1"
    assert lay.roots["/sys/fs/cgroup/memory"] == "/docker/4f1e7c9a2b"
    # an absolute path goes straight under the mountpoint (which shows /docker/<id>)
    cg = cgroups.at("/x", "id", False, lay)
    assert cg.v1["memory"] == "/sys/fs/cgroup/memory/x"
    # a relative path is relative to our own cgroup, which *is* the mount root here
    cg = cgroups.at("sub/x", "id", False, lay)
    assert cg.v1["memory"] == "/sys/fs/cgroup/memory/sub/x"
    assert cg.v1["cpu"] == cg.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/sub/x"


def test_detect_no_cgroups() -> None:
    with pytest.raises(RailcarError, match="no cgroup filesystem"):
        detect("27 1 254:0 / / rw - ext4 /dev/vda rw\n", "")


def test_detect_escaped_mountpoint_and_duplicate_mounts() -> None:
    mi = (
        "40 31 0:37 /sub /mnt/other\\040place rw - cgroup cgroup rw,memory\n"
        "41 31 0:37 / /sys/fs/cgroup/mem\\040ory rw - cgroup cgroup rw,memory\n"
        "42 31 0:38 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    )
    lay = detect(mi, "")
    # the mount showing the whole hierarchy wins; \040 is a space
    assert lay.v1["memory"] == "/sys/fs/cgroup/mem ory"
    assert lay.kind == "v1"


def test_detect_v1_named_systemd_only_plus_v2_is_hybrid() -> None:
    mi = ("30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
          "31 30 0:27 / /run/legacy rw - cgroup cgroup rw,name=systemd\n")
    lay = detect(mi, "", "cpu memory pids")
    assert lay.kind == "hybrid"
    cg = cgroups.at("/a", "id", False, lay)
    assert cg.v1 == {"name=systemd": "/run/legacy/a"}
    assert cg.v2 == "/sys/fs/cgroup/a"


# ---------------------------------------------------------------------------------------------
# resolve_path()


def test_resolve_path_cgroupfs() -> None:
    assert resolve_path("", "abc", False) == "/railcar/abc"
    assert resolve_path("/a/b", "abc", False) == "/a/b"
    assert resolve_path("/a//b/../c/", "abc", False) == "/a/c"
    assert resolve_path("//a", "abc", False) == "/a"
    assert resolve_path("a/b", "abc", False) == "a/b"
    assert resolve_path("../../a", "abc", False) == "a"     # cannot climb out
    assert resolve_path("system.slice:x:y", "abc", False) == "system.slice:x:y"
    for bad in ("/", "/..", ".", "a/.."):
        with pytest.raises(RailcarError, match="linux.cgroupsPath"):
            resolve_path(bad, "abc", False)


def test_resolve_path_systemd() -> None:
    assert resolve_path("", "abc", True) == "/system.slice/railcar-abc.scope"
    assert resolve_path("system.slice:docker:abc", "x", True) == "/system.slice/docker-abc.scope"
    assert resolve_path("machine.slice:libpod:abc", "x", True) == (
        "/machine.slice/libpod-abc.scope")
    assert resolve_path("a-b-c.slice:p:n", "x", True) == (
        "/a.slice/a-b.slice/a-b-c.slice/p-n.scope")
    assert resolve_path("user-1000.slice:p:n", "x", True) == (
        "/user.slice/user-1000.slice/p-n.scope")
    assert resolve_path("-.slice:p:n", "x", True) == "/p-n.scope"
    assert resolve_path(":p:n", "x", True) == "/system.slice/p-n.scope"
    assert resolve_path("system.slice::n", "x", True) == "/system.slice/n.scope"
    assert resolve_path("system.slice:p:sub.slice", "x", True) == "/system.slice/sub.slice"


@pytest.mark.parametrize("bad", [
    "/abs/path", "a:b", "a:b:c:d", "system:p:n", "a--b.slice:p:n", "-a.slice:p:n",
    "a-.slice:p:n", "a/b.slice:p:n", "system.slice:p:", "system.slice:p:a/b", ".slice:p:n",
])
def test_resolve_path_systemd_invalid(bad: str) -> None:
    with pytest.raises(RailcarError, match=r"^linux\.cgroupsPath: "):
        resolve_path(bad, "x", True)


# ---------------------------------------------------------------------------------------------
# path mapping per hierarchy


def test_paths_v1_comounted_one_dir() -> None:
    lay = detect(*sample("v1"))
    cg = cgroups.at("/ctr/x", "x", False, lay)
    assert cg.v1["cpu"] == cg.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/ctr/x"
    assert cg.v1["name=systemd"] == "/sys/fs/cgroup/systemd/ctr/x"
    assert cg.v2 == ""
    dirs = cg.dirs()
    assert len(dirs) == len(set(dirs)) == len(set(lay.v1.values()))
    assert cg.procs_files() == [d + "/cgroup.procs" for d in dirs]


def test_paths_v1_relative_to_own_cgroup() -> None:
    lay = detect(*sample("v1"))
    cg = cgroups.at("ctr/x", "x", False, lay)
    assert cg.v1["memory"] == (
        "/sys/fs/cgroup/memory/user.slice/user-1000.slice/session-2.scope/ctr/x")
    assert cg.v1["cpu"] == "/sys/fs/cgroup/cpu,cpuacct/user.slice/ctr/x"
    assert cg.v1["freezer"] == "/sys/fs/cgroup/freezer/ctr/x"


def test_paths_v2() -> None:
    lay = detect(*sample("v2"), "cpu memory pids")
    cg = cgroups.at("", "abc", False, lay)
    assert cg.v1 == {}
    assert cg.v2 == "/sys/fs/cgroup/railcar/abc"
    assert cg.procs_files() == ["/sys/fs/cgroup/railcar/abc/cgroup.procs"]
    cg = cgroups.at("rel", "abc", False, lay)
    assert cg.v2 == "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/rel"
    cg = cgroups.at("system.slice:docker:abc", "abc", True, lay)
    assert cg.v2 == "/sys/fs/cgroup/system.slice/docker-abc.scope"


def test_paths_hybrid() -> None:
    lay = detect(*sample("hybrid"), "hugetlb")
    cg = cgroups.at("/r/x", "x", False, lay)
    assert cg.v1["cpu"] == "/sys/fs/cgroup/cpu/r/x"
    assert cg.v1["cpuacct"] == "/sys/fs/cgroup/cpuacct/r/x"
    assert cg.v2 == "/sys/fs/cgroup/unified/r/x"
    assert len(cg.procs_files()) == 10
    assert cg.procs_files()[-1] == "/sys/fs/cgroup/unified/r/x/cgroup.procs"
    assert cg.where("hugetlb") == ("/sys/fs/cgroup/unified/r/x", 2)
    assert cg.where("memory") == ("/sys/fs/cgroup/memory/r/x", 1)
    rel = cgroups.at("r/x", "x", False, lay)
    assert rel.v1["memory"] == "/sys/fs/cgroup/memory/session/1/r/x"
    assert rel.v1["pids"] == "/sys/fs/cgroup/pids/r/x"


def test_state_roundtrip() -> None:
    lay = detect(*sample("hybrid"), "hugetlb")
    cg = cgroups.at("/r/x", "x", False, lay)
    st = json.loads(json.dumps(cg.to_state()))
    assert set(st) == {"kind", "path", "v1", "v2", "v2_controllers", "inodes"}
    assert st["inodes"] == {}  # nothing made yet: no inode to record
    cg.inodes = {d: i for i, d in enumerate(cg.dirs(), 100)}
    back = cgroups.from_state(json.loads(json.dumps(cg.to_state())))
    assert back.kind == "hybrid" and back.path == "/r/x"
    assert back.v1 == cg.v1 and back.v2 == cg.v2 and back.v2_controllers == {"hugetlb"}
    assert back.dirs() == cg.dirs() and back.inodes == cg.inodes


# ---------------------------------------------------------------------------------------------
# conversions and device rules


def test_conversions() -> None:
    assert shares_to_weight(0) == 0
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000
    assert blkio_weight_to_io_weight(10) == 1
    assert blkio_weight_to_io_weight(1000) == 10000


def test_device_emulation() -> None:
    _, rules = devices.parse([{"allow": False, "access": "rwm"},
                              {"allow": True, "type": "c", "major": 4, "minor": 1,
                               "access": "rw"},
                              {"allow": False, "type": "c", "major": 4, "minor": 1,
                               "access": "w"},
                              {"allow": True, "type": "b", "major": 8, "access": "r"}],
                             "linux.resources.devices")
    allow, exc = devices.emulate(rules + list(devices.DEFAULT_RULES))
    assert allow is False
    assert exc[("c", 4, 1)] == devices.ACC_R
    assert exc[("b", 8, -1)] == devices.ACC_R
    assert devices.rule_text(("c", -1, -1), exc[("c", -1, -1)]) == "c *:* m"
    assert devices.rule_text(("c", 1, 3), exc[("c", 1, 3)]) == "c 1:3 rwm"
    # no rules at all: runc's default list and nothing more (its emulator starts from deny-all)
    allow, exc = devices.emulate(list(devices.DEFAULT_RULES))
    assert allow is False and exc[("c", 1, 3)] == devices.ACC_ALL and ("c", 1, 11) not in exc
    assert len(exc) == len(devices.DEFAULT_RULES)
    # a later "a" rule resets
    allow, exc = devices.emulate(devices.parse(
        [{"allow": False}, {"allow": True, "type": "c", "major": 1, "minor": 1},
         {"allow": True, "type": "a"}, {"allow": False, "type": "b", "access": "m"}],
        "linux.resources.devices")[1])
    assert allow is True and exc == {("b", -1, -1): devices.ACC_M}
    prog = assemble(False, {("c", 1, 3): 7, ("c", 136, -1): 6})
    assert len(prog) % 8 == 0 and len(prog) > 8 * 6


@pytest.mark.parametrize("rule,field", [
    ({"allow": "yes"}, "linux.resources.devices[0].allow"),
    ({"allow": True, "type": "x"}, "linux.resources.devices[0].type"),
    ({"allow": True, "access": "rwx"}, "linux.resources.devices[0].access"),
    ({"allow": True, "major": "1"}, "linux.resources.devices[0].major"),
    ({"allow": True, "major": 1 << 40}, "linux.resources.devices[0].major: must be -1 (any) or between 0 and 4095"),
    ({"allow": True, "minor": 1 << 20}, "linux.resources.devices[0].minor: must be -1 (any) or between 0 and 1048575"),
])
def test_device_rule_errors(rule: dict, field: str) -> None:
    with pytest.raises(RailcarError, match="^" + re.escape(field)):
        cgroups.validate_resources({"devices": [rule]})


# ---------------------------------------------------------------------------------------------
# resource mapping on fake cgroup directories (plain files standing in for cgroupfs)


def fake_v2(tmp_path: str, files: dict[str, str]) -> Manager:
    d = os.path.join(tmp_path, "v2")
    os.makedirs(d, exist_ok=True)
    for name, val in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(val)
    ctrls = set((files.get("cgroup.controllers") or "").split())
    return V2Manager("v2", "/x", {}, d, ctrls)


def rd(cg: Manager, name: str) -> str:
    d = cg.v2 or next(iter(cg.v1.values()))
    with open(os.path.join(d, name)) as f:
        return f.read()


V2_FILES = {
    "cgroup.controllers": "cpuset cpu io memory hugetlb pids",
    "cpu.max": "max 100000", "cpu.weight": "100", "cpu.idle": "0", "cpu.max.burst": "0",
    "memory.max": "max", "memory.swap.max": "max", "memory.low": "0", "memory.current": "4096",
    "pids.max": "max", "io.max": "", "io.weight": "default 100", "cpuset.cpus": "",
    "cpuset.mems": "", "hugetlb.2MB.max": "max", "hugetlb.1GB.max": "max",
}


# a fake cgroup directory cannot take an eBPF device filter: these tests allow every device (with
# no rules, runc's default list would be put in a filter)
ALLOW_ALL_DEVICES = {"devices": [{"allow": True, "access": "rwm"}]}


def test_v2_mapping(tmp_path: str) -> None:
    cg = fake_v2(tmp_path, V2_FILES)
    cg.apply({**ALLOW_ALL_DEVICES, "memory": {"limit": 1 << 30, "swap": 3 << 29, "reservation": 1 << 20},
               "cpu": {"shares": 1024, "quota": 50000, "period": 200000, "cpus": "0-1",
                       "mems": "0", "burst": 1000},
               "pids": {"limit": -1},
               "blockIO": {"weight": 500,
                           "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}]},
               "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
               "unified": {"cpu.weight": "77"}}, create=True)
    assert rd(cg, "memory.max") == str(1 << 30)
    assert rd(cg, "memory.swap.max") == str(1 << 29)       # swap - limit
    assert rd(cg, "memory.low") == str(1 << 20)
    assert rd(cg, "cpu.max") == "50000 200000"
    assert rd(cg, "cpu.weight") == "77"                     # unified wins, applied last
    assert rd(cg, "cpu.max.burst") == "1000"
    assert rd(cg, "pids.max") == "max"
    assert rd(cg, "io.weight") == str(blkio_weight_to_io_weight(500))
    assert rd(cg, "io.max") == "8:0 rbps=1000"
    assert rd(cg, "cpuset.cpus") == "0-1"
    assert rd(cg, "hugetlb.2MB.max") == "4194304"
    # update: only what is given changes; quota kept when only the period changes
    cg.update({"cpu": {"period": 100000, "shares": 0}, "memory": {"limit": 0},
               "pids": {"limit": 0}})
    assert rd(cg, "cpu.max") == "50000 100000"
    assert rd(cg, "memory.max") == str(1 << 30)
    assert rd(cg, "pids.max") == "max"
    cg.update({"cpu": {"quota": -1}, "memory": {"limit": -1}})
    assert rd(cg, "cpu.max") == "max 100000"
    assert rd(cg, "memory.max") == "max"
    assert rd(cg, "memory.swap.max") == "max"
    cg.update({"cpu": {"shares": 2}})
    assert rd(cg, "cpu.weight") == "1"


def test_v2_errors(tmp_path: str) -> None:
    cg = fake_v2(tmp_path, V2_FILES)
    cases = [
        ({"memory": {"swap": 100}}, r"^linux\.resources\.memory\.swap: unable to set swap"),
        ({"memory": {"limit": 200, "swap": 100}}, r"memory\.swap: memory\+swap limit"),
        ({"memory": {"kernel": 1 << 20}}, r"memory\.kernel: .*not supported on cgroup v2"),
        ({"cpu": {"realtimeRuntime": 1000}}, r"cpu\.realtimeRuntime: .*cgroup v2"),
        ({"network": {"classID": 5}}, r"network\.classID: not supported on cgroup v2"),
        ({"rdma": {"mlx5_0": {"hcaHandles": 2}}}, r"^linux\.resources\.rdma: the rdma cgroup"),
        ({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]},
         r"hugepageLimits\[0\]\.pageSize: hugepage size '3MB' .*available: 2MB, 1GB"),
        ({"unified": {"misc.max": "x"}}, r"unified\.misc\.max: the misc controller"),
        ({"unified": {"../etc": "x"}}, r"invalid cgroup file name"),
        ({"blockIO": {"leafWeight": 100}}, r"blockIO\.leafWeight: not supported on cgroup v2"),
        ({"memory": {"limit": "1"}}, r"memory\.limit: must be an integer"),
        ({"memory": {"swappiness": 101}}, r"memory\.swappiness: invalid value"),
    ]
    for res, pat in cases:
        with pytest.raises(RailcarError, match=pat):
            cg.apply({**ALLOW_ALL_DEVICES, **res}, create=True)
    # checkBeforeUpdate refuses a limit under the current usage
    with pytest.raises(RailcarError, match=r"memory\.limit: .*lower than the current usage"):
        cg.update({"memory": {"limit": 1024, "checkBeforeUpdate": True}})


def test_v1_fake_unified_refused(tmp_path: str) -> None:
    d = os.path.join(tmp_path, "mem")
    os.makedirs(d)
    cg = V1Manager("v1", "/x", {"memory": d}, "", set())
    with pytest.raises(RailcarError, match=r"^linux\.resources\.unified: cannot be used on "
                       r"cgroup v1"):
        cg.apply({"unified": {"memory.max": "1"}}, create=True)
    with pytest.raises(RailcarError, match=r"^linux\.resources\.pids\.limit: the pids cgroup "
                       r"controller is not available"):
        cg.apply({"pids": {"limit": 5}}, create=True)


# ---------------------------------------------------------------------------------------------
# the package's seams: implementations by layout kind, linux.resources validation, freezers


def test_implementation_by_kind() -> None:
    assert cgroups.from_state({"kind": "v2", "v2": "/sys/fs/cgroup/x"}).__class__ is V2Manager
    assert cgroups.from_state({"kind": "hybrid"}).__class__ is HybridManager
    assert cgroups.from_state({"kind": "v1"}).__class__ is V1Manager
    # a salvaged state (kind unknown, directories only) is handled as plain directories
    cg = cgroups.from_state({"kind": "", "path": "", "v1": {"dir0": "/a/x", "dir1": "/b/x"}, "v2": ""})
    assert cg.__class__ is V1Manager and cg.dirs() == ["/a/x", "/b/x"]
    assert cg.freezer_file() == ("", 0) and cg.where("memory") == ("", 0)
    for kind, cls in (("v1", V1Manager), ("v2", V2Manager), ("hybrid", HybridManager)):
        lay = detect(*sample(kind), "hugetlb")
        assert cgroups.at("/r/x", "x", False, lay).__class__ is cls


def test_hybrid_where_v1_first() -> None:
    cg = HybridManager("hybrid", "/x", {"memory": "/m/x", "hugetlb": "/h/x"}, "/u/x", {"hugetlb", "pids"})
    assert cg.where("hugetlb") == ("/h/x", 1)      # mounted in both: v1's
    assert cg.where("pids") == ("/u/x", 2)
    assert cg.where("memory") == ("/m/x", 1)
    assert cg.where("io") == ("", 0)
    with pytest.raises(RailcarError, match=r"^f: the io cgroup controller is not available on this host$"):
        cg.need("io", "f")


@pytest.mark.parametrize("res,msg", [
    (5, "linux.resources: must be an object, got 5"),
    ({"memory": {"limit": "1g"}}, 'linux.resources.memory.limit: must be an integer, got "1g"'),
    ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness: invalid value 101 (valid range is 0-100)"),
    ({"cpu": {"shares": -2}}, "linux.resources.cpu.shares: must be between 0 and 18446744073709551615, got -2"),
    ({"cpu": {"cpus": 2}}, "linux.resources.cpu.cpus: must be a string, got 2"),
    ({"devices": [{"allow": True, "type": "x"}]},
     "linux.resources.devices[0].type: must be \"a\", \"b\" or \"c\", got 'x'"),
    ({"devices": [{"access": "r"}]}, "linux.resources.devices[0].allow: is required"),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0}]}},
     "linux.resources.blockIO.throttleReadBpsDevice[0].rate: is required"),
    ({"hugepageLimits": [{"pageSize": "", "limit": 1}]},
     'linux.resources.hugepageLimits[0].pageSize: required (e.g. "2MB")'),
    ({"network": {"priorities": [{"name": "", "priority": 1}]}},
     "linux.resources.network.priorities[0]: name and priority are required"),
    ({"unified": {"memory.max": 1}}, 'linux.resources.unified["memory.max"]: must be a string, got 1'),
    ({"unified": {".x": "1"}}, "linux.resources.unified..x: invalid cgroup file name"),
    ({"rdma": {"mlx4_0": {"hcaHandles": "2"}}},
     'linux.resources.rdma["mlx4_0"].hcaHandles: must be an integer, got "2"'),
    # the first bad field in the object's order is the one named
    ({"pids": {"limit": "x"}, "memory": {"limit": "y"}}, 'linux.resources.pids.limit: must be an integer, got "x"'),
])
def test_validate_resources_errors(res: object, msg: str) -> None:
    with pytest.raises(SpecError) as ei:  # a config error, whichever module found it
        cgroups.validate_resources(res)  # type: ignore[arg-type]
    assert str(ei.value) == msg


def test_validate_resources() -> None:
    cgroups.validate_resources({"memory": {"limit": 0}, "cpu": {"quota": -1}, "pids": {"limit": -1}})
    with pytest.raises(RailcarError) as ei:
        cgroups.validate_resources({"memory": {"limit": "1g"}}, "resources")
    assert str(ei.value) == 'resources.memory.limit: must be an integer, got "1g"'
    # null sections and fields are dropped, as everywhere in config.json; unknown keys are kept
    res = {"memory": None, "pids": {"limit": None}, "intelRdt": None, "future": {"x": 1}}
    cgroups.validate_resources(res)
    assert res == {"pids": {}, "intelRdt": None, "future": {"x": 1}}


def test_parse_resources_order() -> None:
    res = {"unified": {"pids.max": "3"}, "pids": {"limit": 5}, "cpu": {"shares": 2, "cpus": "0"},
           "memory": {"limit": 1 << 20}, "pids2": {}}
    got = [mod.__name__.rsplit(".", 1)[1] for mod, _cfg in cgroups.parse_resources(res)]
    assert got == ["cpuset", "memory", "cpu", "pids", "unified"]
    assert got == [n for n in cgroups.ORDER if n in got]
    # nothing to set: left out (0 leaves a value unchanged), but for the device rules on create
    assert cgroups.parse_resources({"pids": {"limit": 0}, "cpu": {"cpus": ""}}) == []
    [(mod, (field, rules))] = cgroups.parse_resources({}, create=True)
    assert mod is devices and field == "linux.resources.devices" and rules == []


def test_update_is_validated(tmp_path: str) -> None:
    cg = fake_v2(tmp_path, V2_FILES)
    with pytest.raises(RailcarError) as ei:
        cg.update({"cpu": {"period": "100ms"}})
    assert str(ei.value) == 'linux.resources.cpu.period: must be an integer, got "100ms"'
    with pytest.raises(RailcarError, match=r"^linux\.resources\.devices\[0\]\.access: must be a combination"):
        cg.update({"devices": [{"allow": True, "access": "x"}]})
    cg.update({"devices": [{"allow": False}]})  # valid: and, as in runc, left alone by update


def test_v1_devices_writes(tmp_path: str) -> None:
    d = os.path.join(tmp_path, "devices")
    os.makedirs(d)
    for name in ("devices.allow", "devices.deny", "devices.list"):
        with open(os.path.join(d, name), "w") as f:
            f.write("a *:* rwm\n" if name == "devices.list" else "")
    cg = V1Manager("v1", "/x", {"devices": d}, "", set())
    cg.apply(ALLOW_ALL_DEVICES, create=True)  # allow-all, and the cgroup allows all: nothing to write
    assert rd(cg, "devices.allow") == rd(cg, "devices.deny") == ""
    # no rules: deny all, then runc's default list (its emulator's start), one write(2) a rule
    # through one open file (a plain file here collects them; the cgroup file takes each)
    cg.apply({}, create=True)
    assert rd(cg, "devices.deny") == "a"
    runc_default = ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm",
                    "c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"]
    assert rd(cg, "devices.allow") == "".join(runc_default)
    cg.apply({"devices": [{"allow": False}, {"allow": True, "type": "c", "major": 10, "minor": 229}]}, create=True)
    assert rd(cg, "devices.deny") == "a"
    assert rd(cg, "devices.allow") == "c 10:229 rwm" + "".join(runc_default)  # the config's first
    assert devices.rule_text(("b", 8, -1), devices.ACC_R | devices.ACC_M) == "b 8:* rm"


def test_v1_and_hybrid_freezers(tmp_path: str) -> None:
    fz = os.path.join(tmp_path, "freezer")
    uni = os.path.join(tmp_path, "unified")
    os.makedirs(fz)
    os.makedirs(uni)
    for path, val in ((fz + "/freezer.state", "THAWED"), (uni + "/cgroup.freeze", "0")):
        with open(path, "w") as f:
            f.write(val)
    cg = V1Manager("v1", "/x", {"freezer": fz}, "", set())
    assert cg.freezer_file() == (fz + "/freezer.state", 1) and not cg.frozen()
    cg.freeze()
    assert cg.frozen()
    cg.thaw()
    assert not cg.frozen()
    hy = HybridManager("hybrid", "/x", {"memory": fz}, uni, set())  # no v1 freezer: cgroup.freeze
    assert hy.freezer_file() == (uni + "/cgroup.freeze", 2) and not hy.frozen()
    hy.thaw()
    with open(uni + "/cgroup.freeze", "w") as f:
        f.write("1")
    assert hy.frozen()
    nofz = V1Manager("v1", "/x", {"memory": fz}, "", set())
    with pytest.raises(RailcarError, match="^cgroups: cannot pause: no freezer cgroup on this host$"):
        nofz.freeze()
    assert not nofz.frozen()


def test_device_program_shape() -> None:
    """One block per exception: type test, access test unless all, then major and minor."""
    prog = assemble(True, {})
    assert len(prog) == 8 * 8                       # 6 loads + verdict + exit
    prog = assemble(False, {("c", 1, 3): devices.ACC_ALL, ("b", -1, -1): devices.ACC_M})
    assert len(prog) == 8 * (6 + (1 + 2 + 2) + (1 + 3 + 2) + 2)
    assert prog[-16:-8] == bytes([0xB4, 0, 0, 0, 0, 0, 0, 0])  # r0 = 0: deny by default


# ---------------------------------------------------------------------------------------------
# real cgroups on this machine (root)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
_counter = itertools.count()


def _thaw_and_kill(d: str) -> None:
    for top, _dirs, _files in os.walk(d, topdown=False):
        for name, val in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            try:
                with open(os.path.join(top, name), "w") as f:
                    f.write(val)
            except OSError:
                pass
        try:
            with open(os.path.join(top, "cgroup.procs")) as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except OSError:
                        pass
        except OSError:
            pass


def _rm(d: str) -> None:
    for top, _dirs, _files in os.walk(d, topdown=False):
        for _ in range(100):
            try:
                os.rmdir(top)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)


class Env:
    """Unique cgroup names and child processes; everything is removed at teardown."""

    def __init__(self) -> None:
        self.layout = detect()
        self.names: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def name(self) -> str:
        n = f"/railcar-test-{os.getpid()}-{next(_counter)}"
        self.names.append(n)
        return n

    def spawn(self, script: str, **kw: object) -> subprocess.Popen:
        p = subprocess.Popen(["/bin/sh", "-c", script], **kw)  # type: ignore[call-overload]
        self.procs.append(p)
        return p

    def mountpoints(self) -> list[str]:
        mps = set(self.layout.v1.values())
        if self.layout.v2:
            mps.add(self.layout.v2)
        return sorted(mps)

    def leftovers(self, name: str) -> list[str]:
        return [mp + name for mp in self.mountpoints() if os.path.exists(mp + name)]

    def cleanup(self) -> None:
        for name in self.names:
            for mp in self.mountpoints():      # thaw + kill everywhere before any rmdir
                _thaw_and_kill(mp + name)
            for mp in self.mountpoints():
                _rm(mp + name)
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


@pytest.fixture
def env() -> object:
    e = Env()
    try:
        yield e
    finally:
        e.cleanup()


def readf(d: str, name: str) -> str:
    with open(os.path.join(d, name)) as f:
        return f.read().strip()


def proc_cgroups(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cgroup") as f:
        return [line.split(":", 2)[2] for line in f.read().splitlines()]


def _v1(env: Env, *ctrls: str) -> None:
    missing = [c for c in ctrls if c not in env.layout.v1]
    if missing:
        pytest.skip(f"v1 controllers not mounted: {missing}")


@needs_root
def test_real_create_limits_add_and_destroy(env: Env) -> None:
    _v1(env, "memory", "pids", "cpu", "cpuset", "devices")
    name = env.name()
    res = {
        "memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 32 << 20},
        "pids": {"limit": 20},
        "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"},
        "devices": [{"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 4, "minor": 64, "access": "rw"}],
    }
    cg = cgroups.create(name, "x", False, res)
    assert cg.path == name
    for d in cg.dirs():
        assert os.path.isdir(d)
    v1 = cg.v1
    assert readf(v1["memory"], "memory.limit_in_bytes") == str(64 << 20)
    if os.path.exists(v1["memory"] + "/memory.memsw.limit_in_bytes"):
        assert readf(v1["memory"], "memory.memsw.limit_in_bytes") == str(96 << 20)
    assert readf(v1["memory"], "memory.soft_limit_in_bytes") == str(32 << 20)
    assert readf(v1["pids"], "pids.max") == "20"
    assert readf(v1["cpu"], "cpu.shares") == "512"
    assert readf(v1["cpu"], "cpu.cfs_quota_us") == "20000"
    assert readf(v1["cpu"], "cpu.cfs_period_us") == "100000"
    assert readf(v1["cpuset"], "cpuset.cpus") == "0"
    assert readf(v1["cpuset"], "cpuset.mems") == "0"
    devs = readf(v1["devices"], "devices.list").splitlines()
    assert "c 1:3 rwm" in devs and "c 1:9 rwm" in devs and "c 136:* rwm" in devs
    assert "c 4:64 rw" in devs and "a *:* rwm" not in devs
    # a real process joins every hierarchy
    p = env.spawn("exec sleep 1000")
    cg.add(p.pid)
    assert cg.pids() == [p.pid]
    for pf in cg.procs_files():
        assert str(p.pid) in readf(os.path.dirname(pf), "cgroup.procs").split()
    paths = proc_cgroups(p.pid)
    assert all(x == name for x in paths), paths
    st = cg.stats()
    assert st["pids"]["current"] == 1 and st["pids"]["limit"] == 20
    assert st["memory"]["usage"]["limit"] == 64 << 20
    assert st["cpuset"]["cpus"] == [0]
    # persisted state is enough to find and destroy it
    cg2 = cgroups.from_state(json.loads(json.dumps(cg.to_state())))
    cg2.destroy(kill=True)
    assert p.wait(timeout=5) == -signal.SIGKILL
    assert env.leftovers(name) == []
    cg2.destroy(kill=True)          # missing directories are fine


@needs_root
def test_real_cpuset_copied_from_parent(env: Env) -> None:
    _v1(env, "cpuset")
    name = env.name()
    cg = cgroups.create(name + "/nested/leaf", "x", False, None)
    parent = readf(env.layout.v1["cpuset"], "cpuset.cpus")
    assert readf(cg.v1["cpuset"], "cpuset.cpus") == parent
    assert readf(env.layout.v1["cpuset"] + name, "cpuset.mems") != ""
    p = env.spawn("exec sleep 1000")
    cg.add(p.pid)                   # would fail with ENOSPC on empty cpus/mems
    cg.destroy(kill=True)
    assert p.wait(timeout=5) == -signal.SIGKILL
    assert env.leftovers(name + "/nested/leaf") == []


DEVICE_CASES = [
    # the spec's usual deny-all: runc's default rules keep /dev/null, /dev/full, ... usable
    ([{"allow": False, "access": "rwm"}], "null-ok kmsg-r-denied kmsg-w-denied full-w-ok"),
    # no rules: runc's default list only (its emulator starts from deny-all)
    ([], "null-ok kmsg-r-denied kmsg-w-denied full-w-ok"),
    # a deny list after allow-all: only opening /dev/kmsg for writing is refused
    ([{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 11, "access": "w"}],
     "null-ok kmsg-r-ok kmsg-w-denied full-w-ok"),
    # the default rules come last (as in runc): denying /dev/full does not stick
    ([{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 7}],
     "null-ok kmsg-r-ok kmsg-w-ok full-w-ok"),
    # allow list with a later partial deny
    ([{"allow": False}, {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "rw"},
      {"allow": False, "type": "c", "major": 1, "minor": 11, "access": "w"}],
     "null-ok kmsg-r-ok kmsg-w-denied full-w-ok"),
]
DEVICE_SCRIPT = ("read x; (exec 3</dev/null) 2>/dev/null && echo null-ok || echo null-denied; "
                 "(exec 3</dev/kmsg) 2>/dev/null && echo kmsg-r-ok || echo kmsg-r-denied; "
                 "(exec 3>>/dev/kmsg) 2>/dev/null && echo kmsg-w-ok || echo kmsg-w-denied; "
                 "(exec 3>/dev/full) 2>/dev/null && echo full-w-ok || echo full-w-denied")


def _check_devices(env: Env, cg: Manager, want: str) -> None:
    p = env.spawn(DEVICE_SCRIPT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    cg.add(p.pid)
    out, _ = p.communicate(b"go\n", timeout=10)
    assert out.decode().split() == want.split()


@needs_root
@pytest.mark.parametrize("rules,want", DEVICE_CASES)
def test_real_devices_enforced_v1(env: Env, rules: list, want: str) -> None:
    _v1(env, "devices")
    cg = cgroups.create(env.name(), "x", False, {"devices": rules})
    _check_devices(env, cg, want)
    cg.destroy(kill=True)


@needs_root
@pytest.mark.parametrize("rules,want", DEVICE_CASES)
def test_real_devices_enforced_v2_bpf(env: Env, rules: list, want: str) -> None:
    cg = cgroups.create(env.name(), "x", False, {"devices": rules}, layout=_v2_only_layout(env))
    _check_devices(env, cg, want)
    cg.destroy(kill=True)


@needs_root
def test_real_update_leaves_unspecified_unchanged(env: Env) -> None:
    _v1(env, "memory", "pids", "cpu")
    cg = cgroups.create(env.name(), "x", False, {
        "memory": {"limit": 64 << 20}, "pids": {"limit": 20},
        "cpu": {"shares": 512, "quota": 20000, "period": 100000}})
    m, c = cg.v1["memory"], cg.v1["cpu"]
    cg.update({"memory": {"limit": 128 << 20}})
    assert readf(m, "memory.limit_in_bytes") == str(128 << 20)
    assert readf(cg.v1["pids"], "pids.max") == "20"
    assert readf(c, "cpu.shares") == "512"
    assert readf(c, "cpu.cfs_quota_us") == "20000"
    cg.update({"memory": {"limit": 0}, "pids": {"limit": 0}, "cpu": {"shares": 0, "quota": 0,
                                                                     "period": 0}})
    assert readf(m, "memory.limit_in_bytes") == str(128 << 20)
    assert readf(cg.v1["pids"], "pids.max") == "20"
    assert readf(c, "cpu.shares") == "512"
    assert readf(c, "cpu.cfs_quota_us") == "20000"
    cg.update({"cpu": {"period": 50000}, "pids": {"limit": -1}})
    assert readf(c, "cpu.cfs_period_us") == "50000"
    assert readf(c, "cpu.cfs_quota_us") == "20000"
    assert readf(cg.v1["pids"], "pids.max") == "max"
    if os.path.exists(m + "/memory.memsw.limit_in_bytes"):
        # raise both with swap ordering handled (swap first when growing)
        cg.update({"memory": {"limit": 256 << 20, "swap": 512 << 20}})
        assert readf(m, "memory.memsw.limit_in_bytes") == str(512 << 20)
        cg.update({"memory": {"limit": 32 << 20, "swap": 48 << 20}})
        assert readf(m, "memory.limit_in_bytes") == str(32 << 20)
        assert readf(m, "memory.memsw.limit_in_bytes") == str(48 << 20)
    cg.destroy()


def _counter_proc(env: Env, cg: Manager, path: str) -> subprocess.Popen:
    """A shell that counts into a file, started only once it is inside cg (a child forked
    before the move would stay outside and keep counting)."""
    p = env.spawn(f'read x; i=0; while :; do i=$((i+1)); echo $i > {path}.tmp; '
                  f'mv -f {path}.tmp {path}; done', stdin=subprocess.PIPE)
    cg.add(p.pid)
    assert p.stdin is not None
    p.stdin.write(b"go\n")
    p.stdin.flush()
    return p


def _read_counter(path: str) -> int:
    for _ in range(100):
        try:
            with open(path) as f:
                s = f.read().strip()
            if s:
                return int(s)
        except OSError:
            pass
        time.sleep(0.01)
    raise AssertionError("counter never written")


@needs_root
def test_real_freeze_thaw(env: Env, tmp_path: str) -> None:
    cg = cgroups.create(env.name(), "x", False, None)
    path = os.path.join(str(tmp_path), "counter")
    p = _counter_proc(env, cg, path)
    _read_counter(path)
    assert not cg.frozen()
    cg.freeze()
    assert cg.frozen()
    a = _read_counter(path)
    time.sleep(0.3)
    assert _read_counter(path) == a
    cg.thaw()
    assert not cg.frozen()
    time.sleep(0.3)
    assert _read_counter(path) > a
    # destroy(kill) on a frozen cgroup still kills
    cg.freeze()
    cg.destroy(kill=True)
    assert p.wait(timeout=5) == -signal.SIGKILL
    assert env.leftovers(cg.path) == []


@needs_root
def test_real_stats_busy_process(env: Env) -> None:
    cg = cgroups.create(env.name(), "x", False, {"pids": {"limit": 50}})
    p = env.spawn("while :; do :; done")
    cg.add(p.pid)
    time.sleep(0.5)
    st = cg.stats()
    json.dumps(st)
    assert st["cpu"]["usage"]["total"] > 10_000_000        # > 10 ms of cpu, in ns
    assert st["cpu"]["usage"]["user"] + st["cpu"]["usage"]["kernel"] > 0
    if "percpu" in st["cpu"]["usage"]:
        assert sum(st["cpu"]["usage"]["percpu"]) > 0
    assert st["pids"]["current"] == 1
    assert st["memory"]["usage"]["limit"] > 0
    assert "raw" in st["memory"]
    for key in ("cpu", "memory", "pids", "blkio", "hugetlb"):
        assert isinstance(st[key], dict)
    for e in st["hugetlb"].values():
        assert "failcnt" in e
    cg.destroy(kill=True)
    assert env.leftovers(cg.path) == []


@needs_root
def test_real_destroy_kill_children_no_dirs_left(env: Env) -> None:
    name = env.name()
    cg = cgroups.create(name, "x", False, None)
    p = env.spawn("read x; sleep 1000 & sleep 1000 & wait", stdin=subprocess.PIPE)
    cg.add(p.pid)
    p.stdin.write(b"go\n")
    p.stdin.flush()
    # the container makes a sub-cgroup of its own (like systemd inside would)
    sub = cg.v1.get("pids", cg.v2) + "/inner"
    os.mkdir(sub)
    kid = env.spawn("exec sleep 1000")
    for pf in cg.procs_files():
        with open(pf, "w") as f:
            f.write(str(kid.pid))
    with open(sub + "/cgroup.procs", "w") as f:
        f.write(str(kid.pid))
    deadline = time.time() + 5
    while len(cg.pids()) < 4 and time.time() < deadline:
        time.sleep(0.01)
    assert len(cg.pids()) == 4         # sh, 2 sleeps, the one in inner/
    cg.destroy(kill=True)
    assert p.wait(timeout=5) == -signal.SIGKILL
    assert kid.wait(timeout=5) == -signal.SIGKILL
    assert env.leftovers(name) == []


@needs_root
def test_real_destroy_kill_v1_freezer_path(env: Env) -> None:
    """Without a unified hierarchy (pure v1 view of this host): freeze, SIGKILL, thaw."""
    _v1(env, "freezer")
    lay = env.layout
    v1only = Layout("v1", dict(lay.v1), "", set(), lay.roots, lay.own_v1, "/")
    name = env.name()
    cg = cgroups.create(name, "x", False, None, layout=v1only)
    assert cg.v2 == "" and cg.kind == "v1"
    p = env.spawn("read x; sleep 1000 & sleep 1000 & wait", stdin=subprocess.PIPE)
    cg.add(p.pid)
    p.stdin.write(b"go\n")
    p.stdin.flush()
    deadline = time.time() + 5
    while len(cg.pids()) < 3 and time.time() < deadline:
        time.sleep(0.01)
    assert len(cg.pids()) == 3
    cg.destroy(kill=True)
    assert p.wait(timeout=5) == -signal.SIGKILL
    assert env.leftovers(name) == []


@needs_root
def test_real_errors_clean_up(env: Env) -> None:
    _v1(env, "cpuset", "cpu")
    name = env.name()
    with pytest.raises(RailcarError) as ei:
        cgroups.create(name, "x", False, {"cpu": {"cpus": "bogus"}})
    assert str(ei.value) == (f"linux.resources.cpu.cpus: write "
                             f"{env.layout.v1['cpuset']}{name}/cpuset.cpus: invalid argument")
    assert env.leftovers(name) == []
    with pytest.raises(RailcarError, match=r"^linux\.resources\.cpu\.shares: the maximum "
                       r"allowed cpu-shares is \d+"):
        cgroups.create(name, "x", False, {"cpu": {"shares": 10_000_000}})
    assert env.leftovers(name) == []
    with pytest.raises(RailcarError, match=r"^linux\.resources\.hugepageLimits\[0\]\.pageSize: "
                       r"hugepage size '3MB' is not supported"):
        cgroups.create(name, "x", False, {"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]})
    assert env.leftovers(name) == []
    # nested: intermediate directories made by a failed create go too
    with pytest.raises(RailcarError):
        cgroups.create(name + "/a/b", "x", False, {"cpu": {"cpus": "99"}})
    assert env.leftovers(name) == []


@needs_root
def test_real_unsupported_on_this_host(env: Env) -> None:
    lay = env.layout
    name = env.name()
    cases = []
    if "net_cls" not in lay.v1:
        cases.append(({"network": {"classID": 0x100001}},
                      r"^linux\.resources\.network\.classID: .*net_cls"))
    if "net_prio" not in lay.v1:
        cases.append(({"network": {"priorities": [{"name": "eth0", "priority": 5}]}},
                      r"^linux\.resources\.network\.priorities: .*net_prio"))
    if "rdma" not in lay.v1 and "rdma" not in lay.v2_controllers:
        cases.append(({"rdma": {"mlx5_0": {"hcaHandles": 3}}},
                      r"^linux\.resources\.rdma: the rdma cgroup controller is not available"))
    if "blkio" in lay.v1 and not os.path.exists(lay.v1["blkio"] + "/blkio.leaf_weight"):
        cases.append(({"blockIO": {"leafWeight": 300}},
                      r"^linux\.resources\.blockIO\.leafWeight: not supported by this kernel"))
    if "memory" in lay.v1 and lay.kind == "hybrid":
        cases.append(({"unified": {"memory.max": "1"}},
                      r"^linux\.resources\.unified\.memory\.max: the memory controller is not "
                      r"available in the unified hierarchy \(it is mounted as cgroup v1\)"))
    if not cases:
        pytest.skip("everything is supported here")
    for res, pat in cases:
        with pytest.raises(RailcarError, match=pat):
            cgroups.create(name, "x", False, res)
        assert env.leftovers(name) == []


@needs_root
def test_real_hybrid_hugetlb_on_unified(env: Env) -> None:
    lay = env.layout
    if lay.kind != "hybrid" or "hugetlb" not in lay.v2_controllers:
        pytest.skip("needs hugetlb on the unified mount of a hybrid host")
    cg = cgroups.create(env.name(), "x", False, {
        "hugepageLimits": [{"pageSize": "2MB", "limit": 8 << 20}],
        "unified": {"hugetlb.1GB.max": str(1 << 30)}})
    assert "hugetlb" in cg.v2_controllers
    assert readf(cg.v2, "hugetlb.2MB.max") == str(8 << 20)
    assert readf(cg.v2, "hugetlb.1GB.max") == str(1 << 30)
    st = cg.stats()
    assert set(st["hugetlb"]) >= {"2MB", "1GB"}
    cg.update({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]})
    assert readf(cg.v2, "hugetlb.2MB.max") == str(4 << 20)
    p = env.spawn("exec sleep 1000")
    cg.add(p.pid)
    assert proc_cgroups(p.pid)[-1] == cg.path      # 0::<path>
    cg.destroy(kill=True)
    assert env.leftovers(cg.path) == []


@needs_root
def test_real_blkio_and_misc_v1(env: Env) -> None:
    _v1(env, "blkio", "memory", "cpu")
    st = os.stat("/")
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    res: dict = {"blockIO": {"throttleReadBpsDevice": [
        {"major": major, "minor": minor, "rate": 1 << 20}]},
        "memory": {"swappiness": 10, "disableOOMKiller": False}}
    cg = cgroups.create(env.name(), "x", False, res)
    b = cg.v1["blkio"]
    assert readf(b, "blkio.throttle.read_bps_device") == f"{major}:{minor} {1 << 20}"
    assert readf(cg.v1["memory"], "memory.swappiness") == "10"
    if os.path.exists(b + "/blkio.weight") or os.path.exists(b + "/blkio.bfq.weight"):
        cg.update({"blockIO": {"weight": 300}})
        wf = "blkio.weight" if os.path.exists(b + "/blkio.weight") else "blkio.bfq.weight"
        assert readf(b, wf).split()[-1] == "300"
    if os.path.exists(cg.v1["cpu"] + "/cpu.idle"):
        cg.update({"cpu": {"idle": 1}})
        assert readf(cg.v1["cpu"], "cpu.idle") == "1"
        cg.update({"cpu": {"idle": 0, "shares": 256}})
        assert readf(cg.v1["cpu"], "cpu.idle") == "0"
        assert readf(cg.v1["cpu"], "cpu.shares") == "256"
    cg.destroy()


@needs_root
def test_real_oom_count(env: Env) -> None:
    _v1(env, "memory")
    limit = 32 << 20
    mem: dict = {"limit": limit}
    if os.path.exists(env.layout.v1["memory"] + "/memory.memsw.limit_in_bytes"):
        mem["swap"] = limit
    cg = cgroups.create(env.name(), "x", False, {"memory": mem})
    assert cg.oom_count() == 0
    p = subprocess.Popen([sys.executable, "-S", "-c",
                          "import sys; sys.stdin.readline(); b = b'x' * (256 << 20)"],
                         stdin=subprocess.PIPE)
    env.procs.append(p)
    cg.add(p.pid)
    p.communicate(b"go\n", timeout=30)
    assert p.returncode == -signal.SIGKILL
    assert cg.oom_count() >= 1
    mst = cg.stats()["memory"]
    assert mst["usage"]["failcnt"] >= 0        # this kernel's v1 memcg does not count it
    assert mst["usage"]["max"] >= limit - (1 << 20)
    cg.destroy(kill=True)


def _v2_only_layout(env: Env) -> Layout:
    lay = env.layout
    if not lay.v2:
        pytest.skip("no cgroup2 mount")
    return Layout("v2", {}, lay.v2, set(lay.v2_controllers), lay.roots, {}, lay.own_v2)


@needs_root
def test_real_v2_bpf_devices_freeze_kill(env: Env, tmp_path: str) -> None:
    """The unified hierarchy alone (cgroup v2 code paths on a real kernel): eBPF device filter,
    cgroup.freeze, cgroup.kill."""
    lay = _v2_only_layout(env)
    name = env.name()
    cg = cgroups.create(name, "x", False, {"devices": [{"allow": False, "access": "rwm"}]},
                       layout=lay)
    assert cg.kind == "v2" and cg.v1 == {}
    p = env.spawn("read x; (exec 3</dev/null) && echo null-ok; (exec 3</dev/kmsg) 2>/dev/null "
                  "&& echo kmsg-ok || echo kmsg-denied; (exec 3>/dev/full) && echo full-ok",
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    cg.add(p.pid)
    out, _ = p.communicate(b"go\n", timeout=10)
    assert out.split() == [b"null-ok", b"kmsg-denied", b"full-ok"]
    # cgroup.freeze
    path = os.path.join(str(tmp_path), "counter")
    q = _counter_proc(env, cg, path)
    _read_counter(path)
    cg.freeze()
    assert cg.frozen()
    a = _read_counter(path)
    time.sleep(0.3)
    assert _read_counter(path) == a
    cg.thaw()
    time.sleep(0.3)
    assert _read_counter(path) > a
    st = cg.stats()
    assert st["cpu"]["usage"]["total"] > 0
    # cgroup.kill, even while frozen
    cg.freeze()
    cg.destroy(kill=True)
    assert q.wait(timeout=5) == -signal.SIGKILL
    assert not os.path.exists(cg.v2)


@needs_root
def test_real_v2_allowlist_bpf_partial_access(env: Env) -> None:
    lay = _v2_only_layout(env)
    cg = cgroups.create(env.name(), "x", False, {"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}]}, layout=lay)
    p = env.spawn("read x; (exec 3</dev/kmsg) 2>/dev/null && echo r-ok || echo r-denied; "
                  "(exec 3<>/dev/kmsg) 2>/dev/null && echo rw-ok || echo rw-denied",
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    cg.add(p.pid)
    out, _ = p.communicate(b"go\n", timeout=10)
    assert out.split() == [b"r-ok", b"rw-denied"]
    cg.destroy(kill=True)


@needs_root
def test_attach_device_filter_errors(tmp_path: str) -> None:
    """railcar._core.attach_device_filter: bpf(2) from the C core; a failed step is named."""
    import errno

    from railcar import _core

    with pytest.raises(OSError) as ei:
        _core.attach_device_filter(os.path.join(str(tmp_path), "missing"), assemble(False, {}))
    assert ei.value.errno == errno.ENOENT and str(ei.value).startswith("[Errno 2] open: ")
    with pytest.raises(OSError) as ei:  # a directory, but not a cgroup's
        _core.attach_device_filter(str(tmp_path), assemble(False, {}))
    assert ei.value.errno != 0 and "BPF_PROG_ATTACH: " in str(ei.value)
    with pytest.raises(OSError) as ei:  # the verifier refuses a program that does not exit
        _core.attach_device_filter(str(tmp_path), assemble(False, {})[:-8])
    assert "BPF_PROG_LOAD: " in str(ei.value)
