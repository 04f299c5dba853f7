"""docker and podman run options that become config.json fields, checked from inside the container
and in the cgroup: privileged, namespaces of the host or of another container, sysctl, ulimits,
devices, seccomp, no_new_privileges, shm size, id maps, cpu limits, a private cgroup namespace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.clients.engines import IMAGE, ContainerCli, Docker, Podman, cgroup_file
from tests.clients.test_cli_common import V2, needs_controllers, new_name
from tests.support.procfs import parse_status


def status_fields(engine: ContainerCli, *args: str) -> dict[str, str]:
    """/proc/self/status of `sh` in a container started with `args`, as a dict."""
    res = engine.cli("run", "--rm", *args, IMAGE, "cat", "/proc/self/status")
    assert res.code == 0, res
    return parse_status(res.out)


def missing_bounding_caps() -> list[int]:
    """Capabilities the kernel has that our bounding set lacks (a host that withholds some)."""
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    bnd = int(parse_status(Path("/proc/self/status").read_text())["CapBnd"], 16)
    return [c for c in range(last + 1) if not bnd & (1 << c)]


def test_privileged(engine: ContainerCli) -> None:
    missing = missing_bounding_caps()
    if isinstance(engine, Docker) and missing:
        # docker asks for every capability it knows, which this host cannot give: runc fails too
        # ("unable to apply caps"); railcar says which capability and why
        res = engine.cli("run", "--rm", "--privileged", IMAGE, "true")
        assert res.code == 125, res
        if engine.runtime_name == "railcar":
            assert "not in the runtime's own bounding set" in res.err, res
        pytest.skip(f"this host's bounding set lacks capabilities {missing}, which docker --privileged "
                    "requests (the clear refusal was checked)")
    st = status_fields(engine, "--privileged")
    assert st["Seccomp"] == "0" and int(st["CapEff"], 16) >= (1 << 38) - 1, st  # every cap up to CAP_PERFMON
    res = engine.cli("run", "--rm", "--privileged", IMAGE, "sh", "-c",
                     "test -c /dev/kmsg && grep -E ' /sys (sysfs|proc) ' /proc/mounts")  # fmt: skip
    assert res.code == 0 and "rw," in res.out, res  # host devices, and /sys writable


def test_default_confinement(engine: ContainerCli) -> None:
    st = status_fields(engine)
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "0", st
    st = status_fields(engine, "--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges")
    assert st["Seccomp"] == "0" and st["NoNewPrivs"] == "1", st


def test_host_pid_and_network_namespaces(engine: ContainerCli) -> None:
    res = engine.cli("run", "--rm", "--pid", "host", "--network", "host", IMAGE, "sh", "-c",
                     "echo $$; readlink /proc/self/ns/net")  # fmt: skip
    assert res.code == 0, res
    pid, netns = res.out.split()
    assert int(pid) > 2, res  # a pid of the host's (the engine's sandbox) namespace
    assert netns == engine.sandbox.net_ns, res  # the engine's own (its sandbox's) network namespace
    res = engine.cli("run", "--rm", "--network", "none", IMAGE, "sh", "-c", "ls /sys/class/net")
    assert (res.code, res.out.split()) == (0, ["lo"]), res


def test_ipc_namespace_of_another_container(engine: ContainerCli, names: list[str]) -> None:
    owner = new_name(names)
    opt = ["--ipc", "shareable"] if isinstance(engine, Docker) else []
    engine.run_detached(owner, *opt, IMAGE, "sleep", "1000")
    mine = engine.cli("exec", owner, "readlink", "/proc/self/ns/ipc").ok().out
    res = engine.cli("run", "--rm", "--ipc", f"container:{owner}", IMAGE, "readlink", "/proc/self/ns/ipc")
    assert (res.code, res.out) == (0, mine), res
    res = engine.cli("run", "--rm", IMAGE, "readlink", "/proc/self/ns/ipc")
    assert res.code == 0 and res.out != mine, res


def test_sysctl_and_ulimits(engine: ContainerCli) -> None:
    res = engine.cli("run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.msgmax=12345",
                     "--ulimit", "nofile=1234:2345", "--ulimit", "nproc=1024:1024", IMAGE, "sh", "-c",
                     "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax; ulimit -n; ulimit -Hn")  # fmt: skip
    assert (res.code, res.out.split()) == (0, ["1", "12345", "1234", "2345"]), res


def test_devices(engine: ContainerCli) -> None:
    # loop-control (10:237) is in neither engine's default device list: only its :r rule lets it in
    script = ("echo x > /dev/mynull && echo wrote; exec 3</dev/myloop && echo opened; "
              "(exec 4>/dev/myloop) 2>/dev/null || echo denied; (exec 5</dev/loop-control) 2>/dev/null || echo absent")
    res = engine.cli("run", "--rm", "--device", "/dev/null:/dev/mynull", "--device", "/dev/loop-control:/dev/myloop:r",
                     IMAGE, "sh", "-c", script)  # fmt: skip
    assert res.code == 0 and res.out.split() == ["wrote", "opened", "denied", "absent"], res


def test_shm_size(engine: ContainerCli) -> None:
    res = engine.cli("run", "--rm", "--shm-size", "2m", IMAGE, "sh", "-c", "grep ' /dev/shm ' /proc/mounts")
    assert res.code == 0 and "size=2048k" in res.out, res


def test_user_namespace_id_maps(podman: Podman) -> None:
    """Per-container id maps are podman's (docker maps ids daemon-wide only, with userns-remap)."""
    res = podman.cli("run", "--rm", "--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536", IMAGE, "sh", "-c",
                     "cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /tmp/f && stat -c %u /tmp/f")  # fmt: skip
    assert res.code == 0, res
    assert res.out.split() == ["0", "100000", "65536", "0", "100000", "65536", "0", "0"], res


def test_cpu_resources_in_cgroup(engine: ContainerCli, names: list[str]) -> None:
    needs_controllers("cpu", "cpuset")
    if V2:
        pytest.skip("v1 file names (cpu.cfs_quota_us, cpu.shares)")
    name = engine.run_detached(new_name(names), "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0",
                               IMAGE, "sleep", "1000")  # fmt: skip
    pid = engine.pid(name)
    assert cgroup_file(pid, "cpu", "cpu.cfs_quota_us").read_text().strip() == "50000"
    assert cgroup_file(pid, "cpu", "cpu.cfs_period_us").read_text().strip() == "100000"
    assert cgroup_file(pid, "cpu", "cpu.shares").read_text().strip() == "512"
    assert cgroup_file(pid, "cpuset", "cpuset.cpus").read_text().strip() == "0"
    res = engine.cli("exec", name, "sh", "-c", "grep Cpus_allowed_list /proc/self/status")
    assert res.code == 0 and res.out.split()[-1] == "0", res


def test_private_cgroup_namespace(engine: ContainerCli) -> None:
    res = engine.cli("run", "--rm", "--cgroupns", "private", IMAGE, "sh", "-c",
                     "readlink /proc/self/ns/cgroup; grep -E ':(memory|pids):' /proc/self/cgroup")  # fmt: skip
    assert res.code == 0, res
    ns, *lines = res.out.split()
    assert ns != os.readlink("/proc/self/ns/cgroup"), res
    assert lines and all(line.endswith(":/") for line in lines), res  # the container's cgroup is its root
