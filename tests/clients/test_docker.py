"""docker-only checks: the bridge network, --init, top, stats, the runtime registered."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.clients.engines import IMAGE, ContainerCli, Docker, v2_lacks


@pytest.fixture(scope="module")
def engine(docker: Docker) -> Docker:
    return docker


@pytest.fixture(scope="module")
def box(docker: Docker, names: list[str]) -> Iterator[str]:
    names.append("rc-docker-box")
    yield docker.run_detached("rc-docker-box", IMAGE, "sleep", "1000")


def test_runtimes_registered(docker: Docker) -> None:
    res = docker.cli("info", "--format", "{{json .Runtimes}} {{.DefaultRuntime}}").ok()
    assert '"railcar"' in res.out and '"runc"' in res.out, res
    assert res.out.split()[-1] == docker.runtime_name, res


def test_bridge_network_reaches_gateway(docker: Docker) -> None:
    """The default bridge (docker0 in the sandbox netns) works: needs the libnetwork-setkey prestart hook."""
    script = "ip -4 addr show eth0; gw=$(ip route | awk '/^default/ {print $3}'); echo gw=$gw; ping -c 1 -W 5 $gw"
    res = docker.cli("run", "--rm", IMAGE, "sh", "-c", script)
    assert res.code == 0 and "inet 172.17." in res.out and "gw=172.17.0.1" in res.out, res
    assert "1 packets received" in res.out, res


def ps_table(out: str) -> list[tuple[str, str]]:
    return [tuple(line.split(None, 1)) for line in out.splitlines()[1:]]  # type: ignore[misc]


def test_init_with_runc_layout(docker: Docker) -> None:
    """docker-init (tini) as pid 1, no complaint: runc, or railcar with runtimeArgs ["--no-init"]."""
    runtime = "runc" if docker.runtime_name == "runc" else "railcar-noinit"
    res = docker.cli("run", "--rm", "--init", "--runtime", runtime, IMAGE, "ps", "-o", "pid,comm")
    assert res.code == 0 and res.err == "", res
    pid, comm = ps_table(res.out)[0]
    assert pid == "1" and "init" in comm, res


def test_init_under_railcars_init(docker: Docker) -> None:
    """railcar's own init is pid 1 and reaps; docker-init runs as pid 2 and only warns that it is not pid 1."""
    if docker.runtime_name != "railcar":
        pytest.skip("railcar's init layout")
    res = docker.cli("run", "--rm", "--init", IMAGE, "ps", "-o", "pid,comm")
    assert res.code == 0, res
    table = ps_table(res.out)
    assert table[0] == ("1", "railcar-init") and table[1][0] == "2" and "init" in table[1][1], res
    assert res.err == "" or "Tini is not running as PID 1" in res.err, res


def test_user_process_pid(docker: Docker) -> None:
    """runc: the process is pid 1; railcar: its init is pid 1 and the process pid 2, unless --no-init."""
    script = ["sh", "-c", "echo $$; cat /proc/1/comm; true"]
    if docker.runtime_name == "runc":
        res = docker.cli("run", "--rm", IMAGE, *script)
        assert (res.code, res.out) == (0, "1\nsh\n"), res
        return
    res = docker.cli("run", "--rm", IMAGE, *script)
    assert (res.code, res.out) == (0, "2\nrailcar-init\n"), res
    res = docker.cli("run", "--rm", "--runtime", "railcar-noinit", IMAGE, *script)
    assert (res.code, res.out) == (0, "1\nsh\n"), res


def test_top(docker: Docker, box: str) -> None:
    res = docker.cli("top", box)
    assert res.code == 0 and "sleep 1000" in res.out, res


def test_stats_no_stream(docker: Docker, box: str) -> None:
    res = docker.cli("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", box)
    assert res.code == 0, res
    name, pids, mem = res.out.split(" ", 2)
    assert name == box, res
    # the shim reads pids.current and memory.current itself: 0 where the v2 hierarchy lacks them
    assert int(pids) >= 1 or v2_lacks("pids"), res
    assert not mem.startswith("0B") or v2_lacks("memory"), res


def test_exec_runs_in_container_namespaces(docker: ContainerCli, box: str) -> None:
    pid = docker.pid(box)
    res = docker.cli("exec", box, "sh", "-c", "readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt")
    assert res.code == 0, res
    assert res.out.split() == [os.readlink(f"/proc/{pid}/ns/pid"), os.readlink(f"/proc/{pid}/ns/mnt")], res
