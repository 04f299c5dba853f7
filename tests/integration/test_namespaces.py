"""Namespaces: new ones, shared ones, joined by path, user namespace mappings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BundleFactory, RunIn, Runtime, describe, host_mountpoints, reference_gap
from tests.support.bundle import Bundle, sh
from tests.support.procfs import ns_link

# config type -> /proc/PID/ns name
NS_FILES = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt", "cgroup": "cgroup"}
SHOW_NS = sh("for n in pid net ipc uts mnt cgroup user; do echo $n=$(readlink /proc/self/ns/$n); done")


def ns_inside(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def holder(runtime: Runtime, *unshare_flags: str) -> int:
    """A sleeping process holding fresh namespaces; returns its pid once they exist."""
    p = runtime.spawn(["unshare", *unshare_flags, "sleep", "60"])
    runtime.wait_until(lambda: ns_link("net", p.pid) != ns_link("net"), 5, "unshare to run")
    return p.pid


def test_new_namespaces(run_in: RunIn) -> None:
    inside = ns_inside(run_in(SHOW_NS).stdout)
    for ns in ("pid", "net", "ipc", "uts", "mnt"):
        assert inside[ns] != ns_link(ns), ns
    assert inside["user"] == ns_link("user")


def test_cgroup_namespace(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b = make_bundle(sh("readlink /proc/self/ns/cgroup; cat /proc/self/cgroup"))
    b.set_namespace("cgroup")
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    link, *cgroups = res.stdout.splitlines()
    assert link != ns_link("cgroup")
    assert all(line.endswith(":/") for line in cgroups), cgroups


@pytest.mark.parametrize("dropped", ["network", "uts", "ipc", "pid"])
def test_namespace_left_out_is_shared(runtime: Runtime, make_bundle: BundleFactory, dropped: str) -> None:
    b = make_bundle(SHOW_NS)
    b.drop_namespace(dropped)
    if dropped == "uts":
        del b.config["hostname"]  # a hostname needs a private UTS namespace
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    assert ns_inside(res.stdout)[NS_FILES[dropped]] == ns_link(NS_FILES[dropped])


@pytest.mark.parametrize("ns_type, flag", [("network", "--net"), ("ipc", "--ipc"), ("uts", "--uts")])
def test_join_namespace_by_path(runtime: Runtime, make_bundle: BundleFactory, ns_type: str, flag: str) -> None:
    pid = holder(runtime, "--net", flag)
    b = make_bundle(SHOW_NS)
    b.set_namespace(ns_type, f"/proc/{pid}/ns/{NS_FILES[ns_type]}")
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    assert ns_inside(res.stdout)[NS_FILES[ns_type]] == ns_link(NS_FILES[ns_type], pid)


def test_join_network_namespace_of_another_container(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # pods: a second container joins the first one's network namespace via /proc/<pid>/ns/net
    first = runtime.create_started(make_bundle(["sleep", "60"]))
    pid = runtime.init_pid(first)
    b = make_bundle(SHOW_NS)
    b.set_namespace("network", f"/proc/{pid}/ns/net")
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    assert ns_inside(res.stdout)["net"] == ns_link("net", pid)


def test_uts_hostname_does_not_leak_to_host(run_in: RunIn) -> None:
    before = open("/proc/sys/kernel/hostname").read()
    run_in(["hostname"], hostname="leak-check")
    assert open("/proc/sys/kernel/hostname").read() == before


USERNS_MAPPING = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def test_user_namespace_mappings(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b = make_bundle(
        sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c %u:%g /bin/busybox; echo hi > /tmp/f")
    )
    b.set_namespace("user")
    b.config["linux"].update(uidMappings=USERNS_MAPPING, gidMappings=USERNS_MAPPING)
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "cgroup"]
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    lines = [" ".join(line.split()) for line in res.stdout.splitlines()]
    assert lines[:2] == ["0 100000 65536", "0 100000 65536"]
    assert lines[2:4] == ["0", "0"]
    assert lines[4] == "65534:65534"  # host root is unmapped: the overflow ids
    created = b.rootfs / "tmp/f"
    assert (created.stat().st_uid, created.stat().st_gid) == (100000, 100000)


def test_user_namespace_owns_its_namespaces_files(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """The other namespaces are made by the container's root, not by the runtime's: the ipc
    namespace's /dev/mqueue belongs to root inside, as with runc (not to the overflow id)."""
    b = make_bundle(sh("stat -c %u:%g /dev/mqueue /proc/sys/kernel/shmmax"))
    b.set_namespace("user")
    b.config["linux"].update(uidMappings=USERNS_MAPPING, gidMappings=USERNS_MAPPING)
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "cgroup"]
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    # uid 0 inside (runc 1.1.5 leaves the group at the overflow id; railcar gives 0:0)
    assert [x.split(":")[0] for x in res.stdout.split()] == ["0", "0"], res.stdout


def test_user_namespace_new_inode(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b = make_bundle(SHOW_NS)
    b.set_namespace("user")
    b.config["linux"].update(uidMappings=USERNS_MAPPING, gidMappings=USERNS_MAPPING)
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "cgroup"]
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    assert ns_inside(res.stdout)["user"] != ns_link("user")


def test_new_network_namespace_has_loopback_up(run_in: RunIn) -> None:
    # as in runc: lo is up, so 127.0.0.1 works inside a fresh network namespace
    res = run_in(sh("cat /sys/class/net/lo/operstate /sys/class/net/lo/flags;"
                    " nc -l -p 4444 > /tmp/got & sleep 0.3;"
                    " echo over-lo | nc -w 2 127.0.0.1 4444; wait; cat /tmp/got"))
    lines = res.stdout.split()
    assert int(lines[1], 16) & 1, res.stdout  # IFF_UP
    assert lines[-1] == "over-lo", res.stdout


@reference_gap("runc 1.1.5 and crun 1.8.1 bind the rootfs from inside the user namespace, whose "
               "root cannot traverse a 0700 directory: 'rootfs: bind mount ...: permission denied'")
def test_user_namespace_bundle_in_a_private_directory(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """A bundle under a 0700 directory owned by host root (os.MkdirTemp, podman, CI systems make
    them): the rootfs and the bind sources are opened on the host side, before the child enters
    the user namespace, so the container's mapped root never walks that path."""
    private = runtime.workdir / "private"
    data = private / "data"
    data.mkdir(parents=True)
    (data / "note").write_text("from a private dir\n")
    b = make_bundle(sh("cat /data/note; ls /bin/busybox; id -u"))
    b.set_namespace("user")
    b.config["linux"].update(uidMappings=USERNS_MAPPING, gidMappings=USERNS_MAPPING)
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "cgroup"]
    b.add_mount("/data", "bind", str(data), ["rbind", "ro"])
    (b.rootfs / "data").mkdir()  # the rootfs belongs to host root: the mapped root cannot mkdir there
    moved = private / "bundle"
    b.path.rename(moved)
    b.path = moved
    private.chmod(0o700)
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    assert res.stdout.split("\n")[:3] == ["from a private dir", "/bin/busybox", "0"], describe(res)


def _without_mount_ns(b: Bundle) -> None:
    b.drop_namespace("mount")
    for key in ("maskedPaths", "readonlyPaths"):
        b.config["linux"].pop(key, None)


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path) + "/"
    return [m for m in host_mountpoints() if m.startswith(prefix)]


def test_no_mount_namespace_runs_and_leaves_no_mount(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """No "mount" in linux.namespaces: the container shares the runtime's mount namespace (its
    mounts are made there, under the rootfs, and it is chrooted, as runc does); delete unmounts
    them, which runc does not."""
    b = make_bundle(sh("readlink /proc/self/ns/mnt; ls /bin/busybox; grep -c ' /proc ' /proc/self/mountinfo;"
                       " sleep 60"))
    _without_mount_ns(b)
    cid = runtime.new_id()
    runtime.create(b, cid)
    runtime.start(cid)
    runtime.wait_output(cid, "/bin/busybox")
    lines = runtime.output(cid).split()
    assert lines[0] == ns_link("mnt"), "the container's mount namespace is not the runtime's"
    assert _mounts_under(b.rootfs), "its mounts (/proc, /dev ...) are made in the runtime's namespace"
    res = runtime.run("exec", cid, "sh", "-c", "ls /bin/busybox; readlink /proc/self/ns/mnt", pipes=True)
    assert res.returncode == 0 and res.stdout.split() == ["/bin/busybox", ns_link("mnt")], describe(res)
    runtime.delete(cid, force=True)
    if runtime.is_railcar:  # runc 1.1.5 leaves them mounted on the host
        assert _mounts_under(b.rootfs) == []


@pytest.mark.railcar_only
@pytest.mark.parametrize("field,value", [("maskedPaths", ["/proc/kcore"]), ("readonlyPaths", ["/proc/sys"]),
                                         ("rootfsPropagation", "shared")])
def test_no_mount_namespace_refuses_what_would_change_the_hosts_mounts(
        runtime: Runtime, make_bundle: BundleFactory, field: str, value: object) -> None:
    b = make_bundle(["true"])
    _without_mount_ns(b)
    b.config["linux"][field] = value
    res = runtime.run_container(b)
    assert res.returncode == 1, describe(res)
    assert f"linux.{field}: needs a mount namespace" in res.stderr, describe(res)
    assert _mounts_under(b.rootfs) == []


@pytest.mark.skipif(not Path("/proc/self/ns/time").exists(), reason="this kernel has no time namespaces")
@reference_gap("runc 1.1.5 has no time namespaces")
@pytest.mark.parametrize("userns", [False, True], ids=["no-userns", "userns"])
def test_time_namespace_offsets(runtime: Runtime, make_bundle: BundleFactory, userns: bool) -> None:
    """linux.timeOffsets shift the container's boottime clock (with a user namespace or without)."""
    b = make_bundle(["cat", "/proc/uptime"])
    b.set_namespace("time")
    b.config["linux"]["timeOffsets"] = {"boottime": {"secs": 864000, "nanosecs": 0}}  # 10 days
    if userns:
        b.set_namespace("user")
        b.config["linux"].update(uidMappings=USERNS_MAPPING, gidMappings=USERNS_MAPPING)
        b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "cgroup"]
    host = float(Path("/proc/uptime").read_text().split()[0])
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    inside = float(res.stdout.split()[0])
    assert 864000 - 60 < inside - host < 864000 + 60, (host, inside)
