"""Invalid bundles and ids: `create` exits 1, says what is wrong, and leaves nothing behind."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BundleFactory, Runtime, describe, host_mountpoints
from tests.support.bundle import DEFAULT_SPEC, Bundle

M = f"mounts[{len(DEFAULT_SPEC['mounts'])}]"  # railcar's name for a mount appended to the defaults


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Callable[[Bundle], None]
    hint: str  # any runtime's message contains this (case-insensitive); "" = no common text
    railcar_hint: str  # railcar's message names the field/path like this


DELETE = object()


def setter(*path: str, value: object) -> Callable[[Bundle], None]:
    """Set (or, with DELETE, remove) config[path[0]][path[1]]..."""

    def mutate(b: Bundle) -> None:
        node = b.config
        for key in path[:-1]:
            node = node[key]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return mutate


def add_mount(**m: object) -> Callable[[Bundle], None]:
    return lambda b: b.config["mounts"].append(m)


def set_ns(index: int, **ns: object) -> Callable[[Bundle], None]:
    return lambda b: b.config["linux"]["namespaces"].__setitem__(index, ns)


def raw_config(text: str | None) -> Callable[[Bundle], None]:
    def mutate(b: Bundle) -> None:
        b.hand_written = True
        if text is None:
            b.config_path.unlink()
        else:
            b.config_path.write_text(text)

    return mutate


def rootfs_replaced(by_file: bool) -> Callable[[Bundle], None]:
    def mutate(b: Bundle) -> None:
        shutil.rmtree(b.rootfs)
        if by_file:
            b.rootfs.write_text("not a directory")

    return mutate


def no_uts_but_hostname(b: Bundle) -> None:
    b.drop_namespace("uts")


def userns_without_maps(b: Bundle) -> None:
    b.set_namespace("user")


CASES = [
    Case("missing-rootfs", rootfs_replaced(False), "rootfs", "root.path"),
    Case("rootfs-is-file", rootfs_replaced(True), "not a directory", "root.path"),
    Case("no-config", raw_config(None), "config.json", "config.json"),
    Case("bad-json", raw_config('{"ociVersion": '), "", "config.json"),
    Case("no-root", setter("root", value=DELETE), "root", "root"),
    Case("no-process", setter("process", value=DELETE), "process", "process"),
    Case("args-not-list", setter("process", "args", value="true"), "process.args", "process.args"),
    Case("args-empty", setter("process", "args", value=[]), "args", "process.args"),
    Case("hostname-not-string", setter("hostname", value=5), "hostname", "hostname"),
    Case("uid-negative", setter("process", "user", "uid", value=-1), "uid", "process.user.uid"),
    Case(
        "gids-not-list",
        setter("process", "user", "additionalGids", value="10"),
        "additionalGids",
        "process.user.additionalGids",
    ),
    Case("cwd-relative", setter("process", "cwd", value="rel/dir"), "cwd", "process.cwd"),
    Case(
        "unknown-rlimit",
        setter("process", "rlimits", value=[{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
        "RLIMIT_BOGUS",
        "process.rlimits[0].type",
    ),
    Case(
        "rlimit-soft-above-hard",
        setter("process", "rlimits", value=[{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]),
        "rlimit",
        "process.rlimits[0]",
    ),
    Case("unknown-namespace", set_ns(1, type="bogus"), "bogus", "linux.namespaces[1].type"),
    Case(
        "duplicate-namespace",
        lambda b: b.config["linux"]["namespaces"].append({"type": "pid"}),
        "pid",
        "linux.namespaces[5]",
    ),
    Case(
        "namespace-path-missing",
        set_ns(1, type="network", path="/nonexistent/ns/net"),
        "/nonexistent/ns/net",
        "linux.namespaces[1].path",
    ),
    Case(
        "namespace-path-wrong-type", set_ns(1, type="network", path="/proc/self/ns/ipc"), "", "linux.namespaces[1].path"
    ),
    Case("namespace-path-not-ns", set_ns(1, type="network", path="/etc/hostname"), "", "linux.namespaces[1].path"),
    Case("hostname-without-uts", no_uts_but_hostname, "hostname", "hostname"),
    Case("userns-without-maps", userns_without_maps, "mappings", "linux.uidMappings"),
    Case(
        "bind-source-missing",
        add_mount(destination="/mnt/x", type="bind", source="/nonexistent/src", options=["rbind"]),
        "/nonexistent/src",
        f"{M}.source",
    ),
    Case("unknown-fs-type", add_mount(destination="/mnt/x", type="nosuchfs", source="none"), "/mnt/x", M),
    Case("mount-without-destination", add_mount(type="tmpfs", source="tmpfs"), "", f"{M}.destination"),
    Case(
        "device-bad-type",
        setter("linux", "devices", value=[{"path": "/dev/x", "type": "q", "major": 1, "minor": 3}]),
        "type",
        "linux.devices[0].type",
    ),
    Case(
        "sysctl-not-namespaced",
        setter("linux", "sysctl", value={"kernel.nosuchknob": "1"}),
        "kernel.nosuchknob",
        "linux.sysctl",
    ),
]


def host_netns_with_net_sysctl(b: Bundle) -> None:
    """The network namespace joined by path is the runtime's own: its sysctls are the host's."""
    for ns in b.config["linux"]["namespaces"]:
        if ns["type"] == "network":
            ns["path"] = "/proc/self/ns/net"
    b.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}


CASES += [
    # not namespaced: written from the container, it would change the host (runc refuses it too)
    Case("sysctl-host-only", setter("linux", "sysctl", value={"vm.swappiness": "10"}), "vm.swappiness",
         'linux.sysctl["vm.swappiness"]: sysctl \'vm.swappiness\' is not in a separate kernel namespace'),
    Case("sysctl-kernel-hostname", setter("linux", "sysctl", value={"kernel.hostname": "x"}), "kernel.hostname",
         "conflicts with the \"hostname\" field"),
    Case("sysctl-net-in-host-netns", host_netns_with_net_sysctl, "net.ipv4.ip_forward",
         'linux.sysctl["net.ipv4.ip_forward"]'),
]
CASES.append(Case("json-nested-too-deeply", raw_config("[" * 100000 + "]" * 100000), "", "nested too deeply"))
# runc 1.1.5 accepts these (a relative destination only warns; a NUL fails only at exec; a lone
# surrogate becomes U+FFFD); railcar refuses them.
STRICT_CASES = [
    Case("nul-in-arg", setter("process", "args", value=["tr\0ue"]), "", "process.args[0]: must not contain a NUL"),
    Case("nul-in-root-path", setter("root", "path", value="rootfs\0x"), "", "root.path: must not contain a NUL"),
    Case(
        "nul-in-mount-destination",
        add_mount(destination="/mnt/x\0y", type="tmpfs", source="tmpfs"),
        "",
        f"{M}.destination: must not contain a NUL",
    ),
    Case("lone-surrogate-in-env", setter("process", "env", value=["A=\ud800"]), "", "process.env[0]: holds a lone"),
    Case(
        "mount-destination-relative",
        add_mount(destination="mnt/rel", type="tmpfs", source="tmpfs"),
        "",
        f"{M}.destination",
    ),
    Case(
        "device-path-relative",
        setter("linux", "devices", value=[{"path": "dev/x", "type": "c", "major": 1, "minor": 3}]),
        "",
        "linux.devices[0].path",
    ),
]


# --- errors that once said "internal error" or nothing useful (issue 20, item 9) ---------------------
HUGE = 2**40  # past any C int: an OverflowError once


def device(**d: object) -> Callable[[Bundle], None]:
    return setter("linux", "devices", value=[{"path": "/dev/x", "type": "c", "major": 1, "minor": 3, **d}])


def device_rule(**r: object) -> Callable[[Bundle], None]:
    rule = {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm", **r}
    return setter("linux", "resources", "devices", value=[{"allow": False, "access": "rwm"}, rule])


def root_symlink(target: str) -> Callable[[Bundle], None]:
    def mutate(b: Bundle) -> None:
        (b.path / "rootlink").symlink_to(target)
        b.config["root"]["path"] = "rootlink"

    return mutate


def root_through_symlink(b: Bundle) -> None:
    (b.path / "real").mkdir()
    b.rootfs.rename(b.path / "real/rootfs")
    (b.path / "sub").symlink_to("real")
    b.config["root"]["path"] = "sub/rootfs"


CASES += [
    # the kernel (and runc) refuses these rules when it is told them: both fail, naming the number
    Case("device-rule-major-huge", device_rule(major=HUGE), str(HUGE),
         f"linux.resources.devices[1].major: must be -1 (any) or between 0 and 4095 (the kernel's device "
         f"numbers have a 12-bit major), got {HUGE}"),
    Case("device-rule-minor-huge", device_rule(minor=HUGE), str(HUGE),
         f"linux.resources.devices[1].minor: must be -1 (any) or between 0 and 1048575 (the kernel's device "
         f"numbers have a 20-bit minor), got {HUGE}"),
    # runc: "invalid rootfs: not an absolute path, or a symlink"
    Case("root-path-symlink-to-host-root", root_symlink("/"), "symlink",
         "root.path: {bundle}/rootlink is a symlink (to /)"),
    Case("root-path-symlink-to-rootfs", root_symlink("rootfs"), "symlink",
         "root.path: {bundle}/rootlink is a symlink (to rootfs)"),
    Case("root-path-through-symlink", root_through_symlink, "symlink",
         "root.path: {bundle}/sub/rootfs goes through the symlink {bundle}/sub (to real)"),
    # runc: "unable to set memory limit to 65536 (current usage: ..., peak usage: ...)"
    Case("memory-limit-too-small", setter("linux", "resources", value={"memory": {"limit": 65536}}), "65536",
         "container process exited before it was ready: killed by the OOM killer "
         "(linux.resources.memory.limit 65536 is too small?)"),
]
# runc 1.1.5 truncates these device numbers to 32 bits and makes whatever device that gives (a major
# of 4096 makes 0:3), and starts a process that an RLIMIT_AS this small kills at once (exit 139)
STRICT_CASES += [
    Case("device-major-huge", device(major=HUGE), "",
         f"linux.devices[0].major: must be between 0 and 4095 (the kernel's device numbers have a 12-bit "
         f"major), got {HUGE}"),
    Case("device-major-4096", device(major=4096), "", "linux.devices[0].major: must be between 0 and 4095"),
    Case("device-minor-huge", device(minor=HUGE), "",
         f"linux.devices[0].minor: must be between 0 and 1048575 (the kernel's device numbers have a 20-bit "
         f"minor), got {HUGE}"),
    Case("device-minor-negative", device(minor=-1), "", "linux.devices[0].minor: must be between 0 and 1048575"),
    Case("rlimit-as-too-small",
         setter("process", "rlimits", value=[{"type": "RLIMIT_AS", "soft": 65536, "hard": 65536}]), "",
         "(process.rlimits RLIMIT_AS 65536 is too small?)"),  # killed by SIGSEGV here
]
ALL = [pytest.param(c, id=c.name) for c in CASES] + [
    pytest.param(c, id=c.name, marks=pytest.mark.railcar_only) for c in STRICT_CASES
]


def assert_nothing_left(runtime: Runtime, cid: str, mounts_before: list[str]) -> None:
    assert runtime.container_dirs() == [], "state dir left behind"
    assert host_mountpoints() == mounts_before, "mounts left behind"
    runtime.reap_zombies()
    strays = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in runtime.stray_processes()}
    assert strays == {}, "processes left behind"
    assert runtime.cgroup_dirs(cid) == [], "cgroup left behind"


def create_fails(runtime: Runtime, b: Bundle, cid: str) -> str:
    res = runtime.create(b, cid, check=False)
    assert res.returncode == 1, describe(res)
    assert res.stderr.strip(), "no error message"
    assert "Traceback" not in res.stderr
    return res.stderr


@pytest.mark.parametrize("case", ALL)
def test_bad_config(runtime: Runtime, make_bundle: BundleFactory, case: Case) -> None:
    b = make_bundle()
    case.mutate(b)
    cid = runtime.new_id()
    before = host_mountpoints()
    err = create_fails(runtime, b, cid)
    if case.hint:
        assert case.hint.lower() in err.lower(), err
    if runtime.is_railcar:
        assert case.railcar_hint.replace("{bundle}", str(b.path)) in err, err
    assert_nothing_left(runtime, cid, before)


@pytest.mark.parametrize("cid", ["a/b", "..", "has space", "x/../y"])
def test_bad_container_id(runtime: Runtime, make_bundle: BundleFactory, cid: str) -> None:
    before = host_mountpoints()
    err = create_fails(runtime, make_bundle(), cid)
    assert "invalid container id" in err.lower()
    assert_nothing_left(runtime, cid, before)


def escape_bundle(runtime: Runtime, make_bundle: BundleFactory) -> tuple[Bundle, Path]:
    """A rootfs whose /escape is a symlink to a host directory; a mount targets /escape/sub."""
    host = runtime.workdir / "host-target"
    host.mkdir()
    (host / "keep").write_text("host data")
    b = make_bundle(["ls", "/escape"])
    (b.rootfs / "escape").symlink_to(host)
    b.add_mount("/escape/sub", "tmpfs", "tmpfs")
    return b, host


def test_symlink_mount_target_stays_in_rootfs(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # runc resolves the symlink inside the rootfs and mounts there; railcar refuses (next test).
    # Either way the host directory must be untouched.
    b, host = escape_bundle(runtime, make_bundle)
    before = host_mountpoints()
    cid = runtime.new_id()
    res = runtime.create(b, cid, check=False)
    assert sorted(p.name for p in host.iterdir()) == ["keep"], "created something on the host"
    assert host_mountpoints() == before
    if res.returncode == 0:
        assert (b.rootfs / str(host).lstrip("/") / "sub").is_dir()
        runtime.delete(cid, force=True)
    else:
        assert res.returncode == 1, describe(res)
        assert_nothing_left(runtime, cid, before)


@pytest.mark.railcar_only
def test_symlink_mount_target_outside_rootfs_refused(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b, host = escape_bundle(runtime, make_bundle)
    before = host_mountpoints()
    cid = runtime.new_id()
    err = create_fails(runtime, b, cid)
    assert f"{M}.destination" in err and "/escape" in err, err
    assert sorted(p.name for p in host.iterdir()) == ["keep"]
    assert_nothing_left(runtime, cid, before)


def test_failed_start_leaves_created_container_alone(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # a failing create of a *second* id must not disturb an existing container
    ok = runtime.create_started(make_bundle(["sleep", "60"]))
    b = make_bundle()
    rootfs_replaced(False)(b)
    create_fails(runtime, b, runtime.new_id())
    assert runtime.status(ok) == "running"
    assert runtime.container_dirs() == [ok]
