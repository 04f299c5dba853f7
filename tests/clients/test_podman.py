"""podman-only checks: a pod whose containers share one network namespace (joined by path)."""

from __future__ import annotations

import os

import pytest

from tests.clients.engines import IMAGE, Podman
from tests.support import cgroupview


@pytest.fixture(scope="module")
def engine(podman: Podman) -> Podman:
    return podman


def test_pod_shares_network_namespace(podman: Podman, names: list[str]) -> None:
    pod = "rc-pod"
    # On cgroup v2 with cgroupfs, podman 4.3 attaches a deny-all eBPF device filter to the pod's own
    # cgroup when it makes it (runc's fs2 manager, empty device rules), so no container under it can
    # open /dev/null (runc: "error reopening /dev/null inside container: open /dev/null: operation not
    # permitted"; railcar: "mknod /dev/null: operation not permitted"). Without the pod as cgroup parent:
    share = ["--share-parent=false"] if cgroupview.current() == "v2" else []
    podman.cli("pod", "create", "--name", pod, *share).ok()
    try:
        a = podman.run_detached("rc-pod-a", "--pod", pod, IMAGE, "sleep", "1000")
        b = podman.run_detached("rc-pod-b", "--pod", pod, IMAGE, "sleep", "1000")
        names += [a, b]
        infra = podman.cli("pod", "inspect", pod, "-f", "{{.InfraContainerID}}").ok().out.strip()
        nets = {os.readlink(f"/proc/{podman.pid(c)}/ns/net") for c in (infra, a, b)}
        utss = {os.readlink(f"/proc/{podman.pid(c)}/ns/uts") for c in (infra, a, b)}
        assert len(nets) == 1 and nets != {os.readlink("/proc/self/ns/net")}, nets
        assert len(utss) == 1, utss
        # and the containers see each other's loopback: a listens, b connects
        podman.cli("exec", "-d", a, "sh", "-c", "echo hi-from-a | nc -l -p 7777").ok()
        res = podman.cli(
            "exec", b, "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do nc 127.0.0.1 7777 && exit; sleep 0.2; done"
        )
        assert res.code == 0 and "hi-from-a" in res.out, res
    finally:
        podman.cli("pod", "rm", "-f", "-t", "0", pod)
