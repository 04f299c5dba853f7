"""Kubernetes: pods on the runtime under test through containerd's CRI plugin, driven as the kubelet
drives it (runtime.v1 over gRPC; no kubelet or crictl on this machine, see tests/support/cri).

A private containerd 1.6 with the CRI plugin (CriContainerd in engines.py) runs in a mount + network
namespace of its own, with a runtime handler `railcar` whose BinaryName is the runtime under test
(bin/railcar, or runc with RAILCAR_CLIENT_RUNTIME=runc), a busybox image and a sandbox image of one
static pause binary, both imported locally. Each CRI call is checked from outside (the runtime's
own `state`, cgroup files, /proc of the container's processes, the log file on the host) and from
inside (ExecSync, /proc/self/status, the container's own output). Pods and containers are removed
as the kubelet removes them, and then nothing may be left: processes, cgroups, mounts, runtime state.

Run alone: `.venv/bin/python -m pytest tests/clients/test_cri.py` (RAILCAR_CLIENT_RUNTIME=runc: on runc).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.clients import engines
from tests.clients.conftest import Session
from tests.clients.engines import CriContainerd, Sandbox, cgroup_file, cgroup_roots, wait_for
from tests.support.procfs import parse_limits, parse_mountinfo, parse_status

K8S_NAMESPACE = "railcar-test"  # the Kubernetes namespace of the pods (metadata only)
CAP = {"CHOWN": 0, "KILL": 5, "NET_BIND_SERVICE": 10, "NET_RAW": 13, "SYS_TIME": 25}
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) (.*)$")
MiB = 1 << 20
# what the kubelet sends for every unprivileged container (procMount Default: its defaultMaskedPaths
# and defaultReadonlyPaths); containerd 1.6 masks nothing by itself when the lists come empty
MASKED_PATHS = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware")  # fmt: skip
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


@dataclass
class Pod:
    id: str
    uid: str
    config: Any  # runtime.v1 PodSandboxConfig
    host_network: bool
    containers: list[str] = field(default_factory=list)


class Kubelet:
    """What the kubelet does over CRI, with the checks of what is left afterwards."""

    def __init__(self, engine: CriContainerd, client: Any) -> None:
        self.engine = engine
        self.client = client
        self.api = client.api
        self.pods: list[Pod] = []
        self.baseline_mounts: set[str] = set()

    # --- calls ------------------------------------------------------------------------------------
    def call(self, method: str, **fields: Any) -> Any:
        """<method>Request(**fields) -> <method>Response (fields named as in runtime.v1)."""
        return self.client.call(method, getattr(self.api, f"{method}Request")(**fields))

    def run_pod(
        self,
        name: str,
        *,
        host_network: bool = True,
        share_pids: bool = False,
        host_pids: bool = False,
        userns: Any = None,
        sysctls: dict[str, str] | None = None,
    ) -> Pod:
        api = self.api
        uid = secrets.token_hex(6)
        log_dir = self.engine.logs / f"{K8S_NAMESPACE}_{name}_{uid}"
        log_dir.mkdir(parents=True)  # the kubelet makes the pod's log directory
        config = api.PodSandboxConfig(
            metadata=api.PodSandboxMetadata(name=name, uid=uid, namespace=K8S_NAMESPACE, attempt=0),
            hostname="" if host_network else name,  # as the kubelet: the node's for host-network pods
            log_directory=str(log_dir),
            labels={"io.kubernetes.pod.name": name, "railcar-test": "1"},
            annotations={"railcar.test/annotation": f"pod {name}"},
        )
        config.linux.cgroup_parent = f"/{self.engine.cgroup_top}/pod{uid}"
        config.linux.sysctls.update(sysctls or {})
        ns = config.linux.security_context.namespace_options
        ns.network = api.NODE if host_network else api.POD
        # what the kubelet sends for a v1 pod: CONTAINER, or POD for shareProcessNamespace: true
        ns.pid = api.NODE if host_pids else api.POD if share_pids else api.CONTAINER
        ns.ipc = api.POD
        if userns is not None:
            ns.userns_options.CopyFrom(userns)
        resp = self.call("RunPodSandbox", config=config, runtime_handler=self.engine.handler)
        pod = Pod(resp.pod_sandbox_id, uid, config, host_network)
        self.pods.append(pod)
        return pod

    def create(
        self,
        pod: Pod,
        name: str,
        command: Sequence[str],
        *,
        envs: dict[str, str] | None = None,
        mounts: Sequence[Any] = (),
        working_dir: str = "",
        resources: Any = None,
        security: Any = None,
        tty: bool = False,
    ) -> str:
        api = self.api
        (Path(pod.config.log_directory) / name).mkdir(exist_ok=True)  # the kubelet's per-container log dir
        config = api.ContainerConfig(
            metadata=api.ContainerMetadata(name=name, attempt=0),
            image=api.ImageSpec(image=self.engine.image_ref),
            command=list(command),
            working_dir=working_dir,
            envs=[api.KeyValue(key=k, value=v) for k, v in (envs or {}).items()],
            mounts=list(mounts),
            labels={"io.kubernetes.container.name": name},
            annotations={"railcar.test/annotation": f"container {name}"},
            log_path=f"{name}/0.log",
            tty=tty,
        )
        if resources is not None:
            config.linux.resources.CopyFrom(resources)
        if security is not None:
            config.linux.security_context.CopyFrom(security)
        config.linux.security_context.masked_paths[:] = MASKED_PATHS
        config.linux.security_context.readonly_paths[:] = READONLY_PATHS
        # as the kubelet: the pod's namespace modes, repeated for each container
        config.linux.security_context.namespace_options.CopyFrom(pod.config.linux.security_context.namespace_options)
        cid = self.call("CreateContainer", pod_sandbox_id=pod.id, config=config, sandbox_config=pod.config).container_id
        pod.containers.append(cid)
        return cid

    def start(self, cid: str) -> None:
        self.call("StartContainer", container_id=cid)

    def run(self, pod: Pod, name: str, command: Sequence[str], **kw: Any) -> str:
        cid = self.create(pod, name, command, **kw)
        self.start(cid)
        return cid

    def status(self, cid: str) -> Any:
        return self.call("ContainerStatus", container_id=cid).status

    def info(self, cid: str) -> dict[str, Any]:
        """ContainerStatus's verbose info (containerd: pid, runtimeSpec, sandboxID...)."""
        return json.loads(self.call("ContainerStatus", container_id=cid, verbose=True).info["info"])

    def pod_info(self, pod: Pod) -> dict[str, Any]:
        return json.loads(self.call("PodSandboxStatus", pod_sandbox_id=pod.id, verbose=True).info["info"])

    def exec(self, cid: str, *cmd: str, timeout: int = 0) -> tuple[int, str, str]:
        resp = self.call("ExecSync", container_id=cid, cmd=list(cmd), timeout=timeout)
        return resp.exit_code, resp.stdout.decode(), resp.stderr.decode()

    def exec_ok(self, cid: str, *cmd: str) -> str:
        code, out, err = self.exec(cid, *cmd)
        assert code == 0, (cmd, code, out, err)
        return out

    def wait_exited(self, cid: str, timeout: float = 20.0) -> Any:
        wait_for(f"container {cid[:12]} to exit", lambda: self.status(cid).state == self.api.CONTAINER_EXITED, timeout)
        return self.status(cid)

    def remove_container(self, cid: str, grace: int = 0) -> None:
        self.call("StopContainer", container_id=cid, timeout=grace)
        self.call("RemoveContainer", container_id=cid)

    # --- what the runtime itself says and holds ---------------------------------------------------
    @property
    def state_root(self) -> Path:
        """The runtime's --root as the runc v2 shim passes it: <Root option>/<containerd namespace>."""
        return self.engine.runtime_root / self.engine.namespace

    def runtime_state(self, cid: str) -> dict[str, Any]:
        res = self.engine.sandbox.run([self.engine.runtime, "--root", str(self.state_root), "state", cid])
        assert res.code == 0, res
        return json.loads(res.out)

    def task_pid(self, cid: str) -> int:
        pid = int(self.info(cid)["pid"])
        assert pid > 0
        return pid

    def proc_of(self, cid: str, argv0: str) -> int:
        """Host pid of the container's process whose argv[0] is argv0."""
        return proc_in_pidns_of(self.task_pid(cid), argv0)

    def pause_pid(self, pod: Pod) -> int:
        """Host pid of the pod's pause process (the sandbox image's /pause)."""
        return proc_in_pidns_of(int(self.pod_info(pod)["pid"]), "/pause")

    # --- what must be gone --------------------------------------------------------------------------
    def sandbox_mounts(self) -> set[str]:
        return set(parse_mountinfo(Path(f"/proc/{self.engine.sandbox.pid}/mountinfo").read_text()))

    def pod_cgroups(self, pod: Pod) -> list[Path]:
        return [d for root in cgroup_roots() if (d := root / self.engine.cgroup_top / f"pod{pod.uid}").is_dir()]

    def leftovers_of(self, pod: Pod) -> list[str]:
        """What is left of a removed pod: processes in its cgroups, container cgroups, runtime
        state, mounts naming its ids. Empty when the pod is properly gone."""
        left: list[str] = []
        marker = f"/{self.engine.cgroup_top}/pod{pod.uid}/"
        procs = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                with contextlib.suppress(OSError):
                    if marker in Path(f"/proc/{p}/cgroup").read_text():
                        procs.append(p)
        if procs:
            left.append(f"processes in the pod's cgroups: {procs}")
        for d in self.pod_cgroups(pod):
            subs = [s.name for s in d.iterdir() if s.is_dir()]
            if subs:
                left.append(f"cgroups under {d}: {subs}")
        for cid in [pod.id, *pod.containers]:
            if (self.state_root / cid).exists():
                left.append(f"runtime state {self.state_root / cid}")
            mounts = [m for m in self.sandbox_mounts() if cid in m]
            if mounts:
                left.append(f"mounts of {cid[:12]}: {mounts}")
        return left

    def state_leftovers(self) -> list[str]:
        """Entries left in the runtime's --root. railcar keeps one of its own there, `@railcar`
        (not a valid container id), for caches that outlive containers (compiled seccomp
        filters, README "Startup latency"): allowed, as long as it holds caches only."""
        if not self.state_root.exists():
            return []
        left = [f"runtime state {e}" for e in self.state_root.iterdir() if e.name != "@railcar"]
        own = self.state_root / "@railcar"
        if own.is_dir():
            left += [f"railcar's own dir holds more than caches: {e}" for e in own.iterdir() if e.name != "cache"]
        return left

    def remove_pod(self, pod: Pod) -> list[str]:
        """StopPodSandbox and RemovePodSandbox (which remove its containers, as the kubelet relies
        on); then the kubelet's part: the pod's cgroup. Returns what is left (see leftovers_of)."""
        self.call("StopPodSandbox", pod_sandbox_id=pod.id)
        self.call("RemovePodSandbox", pod_sandbox_id=pod.id)
        self.pods.remove(pod)
        left: list[str] = []
        with contextlib.suppress(TimeoutError):
            wait_for("the pod to be gone", lambda: not self.leftovers_of(pod), 10)
        left += self.leftovers_of(pod)
        if not left:
            for d in self.pod_cgroups(pod):
                os.rmdir(d)
        return left

    def teardown(self) -> list[str]:
        """Remove every pod still there, then check that the whole engine is back to empty."""
        left: list[str] = []
        for pod in list(self.pods):
            try:
                left += self.remove_pod(pod)
            except Exception as exc:  # noqa: BLE001 - keep going, report
                left.append(f"removing pod {pod.id[:12]}: {exc!r}")
        items = self.call("ListPodSandbox").items
        if items:
            left.append(f"pods still listed: {[p.id for p in items]}")
        left += self.state_leftovers()
        holder, daemon = self.engine.sandbox.pid, self.engine.proc.pid if self.engine.proc else -1

        def others() -> list[int]:
            sb = self.engine.sandbox
            found = set(engines.pids_in_ns("mnt", sb.mnt_ns)) | set(engines.pids_in_ns("net", sb.net_ns))
            return sorted(found - {holder, daemon})

        with contextlib.suppress(TimeoutError):
            wait_for("the shims to exit", lambda: not others(), 15)
        reap_shims()
        if others():
            cmds = {p: Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode() for p in others()}
            left.append(f"processes left in containerd's namespaces: {cmds}")
        extra = self.sandbox_mounts() - self.baseline_mounts
        if extra:
            left.append(f"mounts left in containerd's mount namespace: {sorted(extra)}")
        netns = Path(f"/proc/{holder}/root/run/netns")
        if netns.is_dir() and list(netns.iterdir()):
            left.append(f"network namespaces left: {os.listdir(netns)}")
        for root in cgroup_roots():
            top = root / self.engine.cgroup_top
            if top.is_dir():
                subs = [str(p) for p in top.rglob("*") if p.is_dir()]
                if subs:
                    left.append(f"cgroups left: {subs}")
                else:
                    os.rmdir(top)
        return left


def reap_shims() -> None:
    """Reap the exited shims: they were reparented to pytest, a child subreaper (tests/conftest.py)."""
    for p in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{p}/stat").read_text()
            comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            if rest[0] == "Z" and int(rest[1]) == os.getpid() and comm.startswith("containerd-shim"):
                os.waitpid(int(p), os.WNOHANG)


# --- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kubelet(clients: Session, runtime: str) -> Iterator[Kubelet]:
    engines.ensure_packages(("containerd", "containernetworking-plugins"))
    try:
        from tests.support.cri import CriClient
    except ImportError as exc:
        pytest.fail(f"the CRI client needs grpcio, grpcio-tools and protobuf (./tools/setup.sh): {exc}")
    sbdir = clients.workdir / "cri-sandbox"
    sbdir.mkdir()
    sandbox = Sandbox(sbdir)  # containerd's own, apart from the other engines'
    engine = CriContainerd(sandbox, clients.workdir, runtime)
    kube: Kubelet | None = None
    left: list[str] = []
    try:
        sandbox.start()
        # libcni caches results in /var/lib/cni: a tmpfs keeps that in containerd's namespace
        sandbox.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/var/lib"]).ok()
        engine.start()
        engine.import_image(clients.rootfs)
        client = CriClient(engine.address)
        client.wait_ready(30)
        kube = Kubelet(engine, client)
        try:
            kube.call("Version", version="v1")
        except Exception as exc:  # noqa: BLE001 - say why, with containerd's own words
            pytest.fail(f"containerd's CRI plugin does not answer ({exc!r}); its log:\n{engine.log_tail(60)}")
        kube.baseline_mounts = kube.sandbox_mounts()
        yield kube
    finally:
        if kube is not None:
            with engines.ignoring_errors(left, "CRI teardown"):
                left += kube.teardown()
            kube.client.close()
        with engines.ignoring_errors(clients.notes, "stopping containerd (CRI)"):
            engine.stop()
        clients.notes.extend(sandbox.stop())
    assert not left, f"left behind after every pod was removed ({engine.log}):\n" + "\n".join(left)


@pytest.fixture(scope="module")
def host_pod(kubelet: Kubelet) -> Iterator[Pod]:
    """A host-network pod the tests put their containers in (each test removes its own)."""
    pod = kubelet.run_pod("host-pod")
    yield pod
    left = kubelet.remove_pod(pod)
    assert not left, left


@pytest.fixture
def volumes(kubelet: Kubelet) -> Iterator[Path]:
    """A directory for a test's host-path and emptyDir-like volumes (the kubelet's pods/<uid>/volumes)."""
    d = kubelet.engine.dir / "volumes" / secrets.token_hex(4)
    d.mkdir(parents=True)
    yield d
    shutil.rmtree(d, ignore_errors=True)


# --- helpers ---------------------------------------------------------------------------------------
def proc_in_pidns_of(task: int, *argv: str, timeout: float = 5.0) -> int:
    """Host pid of the process whose command line starts with argv in the pid namespace of `task`
    (a task's pid is the runtime's: under railcar its init, whose child is the program; under runc,
    the program itself). Waits a moment: a start returns before the program's exec is done."""
    pidns = os.readlink(f"/proc/{task}/ns/pid")
    want = [a.encode() for a in argv]
    found: list[int] = []

    def look() -> bool:
        for p in sorted(int(x) for x in os.listdir("/proc") if x.isdigit()):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{p}/ns/pid") == pidns:
                    if Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[: len(want)] == want:
                        found.append(p)
                        return True
        return False

    wait_for(f"{argv} in the pid namespace of {task}", look, timeout)
    return found[0]


def caps(status: dict[str, str], key: str) -> set[int]:
    mask = int(status[key], 16)
    return {bit for bit in range(64) if mask >> bit & 1}


def log_records(path: Path) -> list[tuple[str, str, str]]:
    """The CRI log file as (stream, tag, text) records; every line must be in CRI log format."""
    records = []
    for line in path.read_text().splitlines():
        m = LOG_LINE.match(line)
        assert m, f"not a CRI log line in {path}: {line!r}"
        records.append((m.group(2), m.group(3), m.group(4)))
    return records


# --- the calls --------------------------------------------------------------------------------------
def test_version_status_and_images(kubelet: Kubelet) -> None:
    v = kubelet.call("Version", version="v1")
    assert (v.runtime_name, v.runtime_api_version) == ("containerd", "v1"), v
    assert v.runtime_version.startswith(("1.6", "v1.6")), v
    conditions = {c.type: c.status for c in kubelet.call("Status").status.conditions}
    assert conditions.get("RuntimeReady") is True, conditions
    for ref in (kubelet.engine.image_ref, kubelet.engine.pause_ref):
        image = kubelet.call("ImageStatus", image=kubelet.api.ImageSpec(image=ref)).image
        assert image.id.startswith("sha256:") and ref in image.repo_tags, (ref, image)


def test_unknown_runtime_handler_is_refused(kubelet: Kubelet) -> None:
    import grpc

    api = kubelet.api
    config = api.PodSandboxConfig(metadata=api.PodSandboxMetadata(name="nohandler", uid="nohandler", namespace="x"))
    with pytest.raises(grpc.RpcError) as err:
        kubelet.call("RunPodSandbox", config=config, runtime_handler="no-such-handler")
    assert "no-such-handler" in str(err.value.details()), err.value


def test_pod_sandbox_status(kubelet: Kubelet, host_pod: Pod) -> None:
    api = kubelet.api
    st = kubelet.call("PodSandboxStatus", pod_sandbox_id=host_pod.id).status
    assert st.id == host_pod.id and st.state == api.SANDBOX_READY and st.created_at > 0, st
    assert (st.metadata.name, st.metadata.uid, st.metadata.namespace) == ("host-pod", host_pod.uid, K8S_NAMESPACE)
    assert st.labels["io.kubernetes.pod.name"] == "host-pod" and st.annotations == host_pod.config.annotations
    assert st.linux.namespaces.options.network == api.NODE, st
    listed = kubelet.call("ListPodSandbox", filter=api.PodSandboxFilter(id=host_pod.id)).items
    assert [(p.id, p.runtime_handler) for p in listed] == [(host_pod.id, "railcar")]
    info = kubelet.pod_info(host_pod)
    assert info["runtimeHandler"] == "railcar" and info["runtimeType"] == "io.containerd.runc.v2", info
    assert info["runtimeOptions"]["binary_name"] == kubelet.engine.runtime, info["runtimeOptions"]
    # outside: the handler's runtime holds the sandbox (pause) container, running in the host network
    state = kubelet.runtime_state(host_pod.id)
    assert state["status"] == "running" and state["pid"] == info["pid"], (state, info["pid"])
    assert os.readlink(f"/proc/{state['pid']}/ns/net") == kubelet.engine.sandbox.net_ns
    pause = kubelet.pause_pid(host_pod)
    assert Path(f"/proc/{pause}/cmdline").read_bytes() == b"/pause\0"
    assert (
        f"/{kubelet.engine.cgroup_top}/pod{host_pod.uid}/{host_pod.id}\n" in Path(f"/proc/{pause}/cgroup").read_text()
    )


def test_container_config_env_mounts_workdir_security(kubelet: Kubelet, host_pod: Pod, volumes: Path) -> None:
    api = kubelet.api
    hostdir, emptydir = volumes / "config", volumes / "scratch"
    hostdir.mkdir()
    (hostdir / "greeting").write_text("hello from the host\n")
    emptydir.mkdir()
    emptydir.chmod(0o777)  # as the kubelet makes an emptyDir
    sec = api.LinuxContainerSecurityContext(
        run_as_user=api.Int64Value(value=1000),
        run_as_group=api.Int64Value(value=1000),
        supplemental_groups=[2000, 3000],
        readonly_rootfs=True,
        no_new_privs=True,
        capabilities=api.Capability(drop_capabilities=["CHOWN", "NET_RAW"], add_capabilities=["SYS_TIME"]),
    )
    sec.seccomp.SetInParent()  # profile_type RuntimeDefault (0)
    script = "cat /proc/self/status > /scratch/status; pwd > /scratch/pwd; env > /scratch/env; exec sleep 1000001"
    cid = kubelet.run(
        host_pod,
        "confined",
        ["sh", "-c", script],
        envs={"GREETING": "hello world", "EMPTY": "", "WITH_EQUALS": "a=b"},
        mounts=[
            api.Mount(container_path="/config", host_path=str(hostdir), readonly=True),
            api.Mount(container_path="/scratch", host_path=str(emptydir)),
        ],
        working_dir="/config",
        security=sec,
    )
    try:
        assert kubelet.status(cid).state == api.CONTAINER_RUNNING
        wait_for(
            "the container's first output", lambda: (emptydir / "env").exists() and (emptydir / "env").stat().st_size
        )
        # the main process, from inside (what it wrote) and from outside (/proc of its host pid)
        inside = parse_status((emptydir / "status").read_text())
        pid = kubelet.proc_of(cid, "sleep")
        outside = parse_status(Path(f"/proc/{pid}/status").read_text())
        for st in (inside, outside):
            assert st["Uid"] == "1000 1000 1000 1000" and st["Gid"] == "1000 1000 1000 1000", st
            assert {"2000", "3000"} <= set(st["Groups"].split()), st["Groups"]
            assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", st
            bounding = caps(st, "CapBnd")
            assert CAP["SYS_TIME"] in bounding and not {CAP["CHOWN"], CAP["NET_RAW"]} & bounding, st["CapBnd"]
            assert caps(st, "CapEff") == set(), st  # a non-root user keeps no effective capability
        assert (emptydir / "pwd").read_text() == "/config\n"
        env = (emptydir / "env").read_text().splitlines()
        assert {"GREETING=hello world", "EMPTY=", "WITH_EQUALS=a=b"} <= set(env), env
        environ = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
        assert {"GREETING=hello world", "EMPTY=", "WITH_EQUALS=a=b"} <= set(environ), environ
        assert os.readlink(f"/proc/{pid}/cwd").endswith("/config")
        assert (emptydir / "env").stat().st_uid == 1000  # written by the container's user
        # ExecSync: the same process configuration
        st = parse_status(kubelet.exec_ok(cid, "cat", "/proc/self/status"))
        same = ("Uid", "Gid", "Groups", "NoNewPrivs", "Seccomp", "CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb")
        assert {k: st[k] for k in same} == {k: outside[k] for k in same}, (st, outside)  # as the main process
        assert {"GREETING=hello world", "EMPTY=", "WITH_EQUALS=a=b"} <= set(kubelet.exec_ok(cid, "env").splitlines())
        assert kubelet.exec_ok(cid, "cat", "/config/greeting") == "hello from the host\n"
        assert kubelet.exec_ok(cid, "pwd") == "/config\n"
        code, _, err = kubelet.exec(cid, "sh", "-c", "echo x > /config/new")
        assert code != 0 and "Read-only file system" in err, err  # readonly host-path mount
        code, _, err = kubelet.exec(cid, "touch", "/rootfs-file")
        assert code != 0 and "Read-only file system" in err, err  # readonly_rootfs
        kubelet.exec_ok(cid, "sh", "-c", "echo from-the-pod > /scratch/out")
        assert (emptydir / "out").read_text() == "from-the-pod\n"
        mounts = parse_mountinfo(kubelet.exec_ok(cid, "cat", "/proc/self/mountinfo"))
        assert "ro" in mounts["/"].options and "ro" in mounts["/config"].options, mounts["/"]
        assert "rw" in mounts["/scratch"].options
        masked = [p for p in MASKED_PATHS if os.path.exists(p)]
        assert masked and all(p in mounts for p in masked), (masked, " ".join(sorted(mounts)))  # the masked paths
        assert all("ro" in mounts[p].options for p in READONLY_PATHS if os.path.exists(p))  # and the read-only ones
        assert not (volumes / "config" / "new").exists()
    finally:
        kubelet.remove_container(cid)


def test_capabilities_of_a_root_container(kubelet: Kubelet, host_pod: Pod) -> None:
    api = kubelet.api
    sec = api.LinuxContainerSecurityContext(
        capabilities=api.Capability(drop_capabilities=["ALL"], add_capabilities=["NET_BIND_SERVICE", "KILL"])
    )
    cid = kubelet.run(host_pod, "caps", ["sleep", "1000002"], security=sec)
    # a working_dir the image does not have: the runtime makes it (runc does), as pods rely on
    default = kubelet.run(host_pod, "default", ["sleep", "1000003"], working_dir="/made/by/the/runtime")
    filtered = api.LinuxContainerSecurityContext()
    filtered.seccomp.SetInParent()  # RuntimeDefault
    confined = kubelet.run(host_pod, "seccomp", ["sleep", "1000015"], security=filtered)
    try:
        want = {CAP["NET_BIND_SERVICE"], CAP["KILL"]}
        for st in (parse_status(kubelet.exec_ok(cid, "cat", "/proc/self/status")),
                   parse_status(Path(f"/proc/{kubelet.proc_of(cid, 'sleep')}/status").read_text())):  # fmt: skip
            assert st["Uid"].split()[0] == "0", st
            assert caps(st, "CapEff") == want and caps(st, "CapPrm") == want and caps(st, "CapBnd") == want, st
        # without a securityContext: containerd's default set, no seccomp (unset means unconfined in 1.6)
        st = parse_status(kubelet.exec_ok(default, "cat", "/proc/self/status"))
        assert CAP["CHOWN"] in caps(st, "CapEff") and CAP["SYS_TIME"] not in caps(st, "CapEff"), st
        assert st["Seccomp"] == "0" and st["NoNewPrivs"] == "0", st
        kubelet.exec_ok(default, "touch", "/rootfs-file")  # a writable root filesystem
        # the RuntimeDefault profile is enforced: unshare(CLONE_NEWUSER) needs CAP_SYS_ADMIN under it
        kubelet.exec_ok(default, "unshare", "-U", "true")
        code, _, err = kubelet.exec(confined, "unshare", "-U", "true")
        assert code != 0 and "Operation not permitted" in err, (code, err)
        for c, mode in ((default, "0"), (confined, "2")):  # and it is the main process's too
            assert parse_status(Path(f"/proc/{kubelet.proc_of(c, 'sleep')}/status").read_text())["Seccomp"] == mode
        assert os.readlink(f"/proc/{kubelet.proc_of(default, 'sleep')}/cwd").endswith("/made/by/the/runtime")
        assert kubelet.exec_ok(default, "pwd") == "/made/by/the/runtime\n"
    finally:
        for c in (cid, default, confined):
            kubelet.remove_container(c)


def test_resources_stats_and_update(kubelet: Kubelet, host_pod: Pod) -> None:
    api = kubelet.api
    # a burstable pod's container as the kubelet sends it (oom_score_adj: above containerd's own)
    res = api.LinuxContainerResources(cpu_shares=512, cpu_period=100000, cpu_quota=50000, cpuset_cpus="0",
                                      memory_limit_in_bytes=64 * MiB, oom_score_adj=500)  # fmt: skip
    cid = kubelet.run(host_pod, "limited", ["sleep", "1000004"], resources=res)
    try:
        pid = kubelet.proc_of(cid, "sleep")

        def cg(controller: str, name: str) -> str:
            return cgroup_file(pid, controller, name).read_text().strip()

        assert cgroup_file(pid, "memory", "x").parent.parent.name == f"pod{host_pod.uid}"  # under cgroup_parent
        assert (cg("cpu", "cpu.shares"), cg("cpu", "cpu.cfs_period_us"), cg("cpu", "cpu.cfs_quota_us")) == (
            "512", "100000", "50000")  # fmt: skip
        assert cg("memory", "memory.limit_in_bytes") == str(64 * MiB) and cg("cpuset", "cpuset.cpus") == "0"
        assert Path(f"/proc/{pid}/oom_score_adj").read_text() == "500\n"
        st = parse_status(kubelet.exec_ok(cid, "cat", "/proc/self/status"))
        assert st["Cpus_allowed_list"] == "0", st
        # inside: the container's own cgroup files at /sys/fs/cgroup/<controller>
        out = kubelet.exec_ok(
            cid, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/cpu/cpu.shares"
        )
        assert out.split() == [str(64 * MiB), "512"], out
        kubelet.exec_ok(
            cid, "sh", "-c", "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; head -c 8000000 /dev/zero > /dev/shm/f"
        )
        stats = kubelet.call("ContainerStats", container_id=cid).stats
        assert stats.attributes.id == cid and stats.attributes.metadata.name == "limited", stats.attributes
        assert 0 < stats.cpu.usage_core_nano_seconds.value <= int(cg("cpuacct", "cpuacct.usage")), stats.cpu
        assert stats.memory.working_set_bytes.value > 0 and stats.memory.usage_bytes.value >= 8_000_000, stats.memory
        usage = int(cg("memory", "memory.usage_in_bytes"))
        assert abs(stats.memory.usage_bytes.value - usage) < 16 * MiB, (stats.memory, usage)
        kubelet.exec_ok(cid, "rm", "/dev/shm/f")
        # UpdateContainerResources: the cgroup files change, inside and out
        cpus = f"0-{os.cpu_count() - 1}" if (os.cpu_count() or 1) > 1 else "0"
        new = api.LinuxContainerResources(cpu_shares=256, cpu_period=100000, cpu_quota=20000, cpuset_cpus=cpus,
                                          memory_limit_in_bytes=96 * MiB, oom_score_adj=500)  # fmt: skip
        kubelet.call("UpdateContainerResources", container_id=cid, linux=new)
        assert (cg("cpu", "cpu.shares"), cg("cpu", "cpu.cfs_quota_us"), cg("memory", "memory.limit_in_bytes")) == (
            "256", "20000", str(96 * MiB))  # fmt: skip
        assert cg("cpuset", "cpuset.cpus") == cpus
        assert parse_status(kubelet.exec_ok(cid, "cat", "/proc/self/status"))["Cpus_allowed_list"] == cpus
        out = kubelet.exec_ok(
            cid, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/cpu/cpu.shares"
        )
        assert out.split() == [str(96 * MiB), "256"], out
    finally:
        kubelet.remove_container(cid)


def test_exit_codes_and_reasons(kubelet: Kubelet, host_pod: Pod) -> None:
    api = kubelet.api
    done = kubelet.run(host_pod, "completes", ["sh", "-c", "exit 0"])
    fails = kubelet.run(host_pod, "fails", ["sh", "-c", "exit 3"])
    oom = kubelet.run(host_pod, "oom", ["tail", "/dev/zero"],
                      resources=api.LinuxContainerResources(memory_limit_in_bytes=24 * MiB))  # fmt: skip
    try:
        for cid, code, reason in ((done, 0, "Completed"), (fails, 3, "Error"), (oom, 137, "OOMKilled")):
            st = kubelet.wait_exited(cid)
            if reason == "OOMKilled":  # the OOM event may come a moment after the exit
                with contextlib.suppress(TimeoutError):
                    wait_for("the OOMKilled reason", lambda c=cid: kubelet.status(c).reason == "OOMKilled", 5)
                st = kubelet.status(cid)
            assert (st.exit_code, st.reason) == (code, reason), st
            assert st.started_at > 0 and st.finished_at > 0, st
            assert not (kubelet.state_root / cid).exists(), cid  # containerd deleted the task
    finally:
        for cid in (done, fails, oom):
            kubelet.call("RemoveContainer", container_id=cid)


def test_exec_sync(kubelet: Kubelet, host_pod: Pod) -> None:
    import grpc

    cid = kubelet.run(host_pod, "exec", ["sleep", "1000005"])
    try:
        assert kubelet.exec(cid, "sh", "-c", "echo out; echo err >&2; exit 7") == (7, "out\n", "err\n")
        assert kubelet.exec(cid, "sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x")[1] == "x" * 300000
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as err:
            kubelet.exec(cid, "sleep", "1000006", timeout=1)
        took = time.monotonic() - start
        assert "timeout" in str(err.value.details()) and 1 <= took < 10, (err.value, took)
        ps = kubelet.exec_ok(cid, "ps", "-o", "args")
        assert "sleep 1000006" not in ps, ps  # the timed-out command was killed
        assert kubelet.status(cid).state == kubelet.api.CONTAINER_RUNNING
        # the exec'd process is the container's: its cgroups (every hierarchy), namespaces, rlimits
        main = kubelet.proc_of(cid, "sleep")
        ns = "; ".join(f"readlink /proc/self/ns/{k}" for k in ("mnt", "pid", "ipc", "uts", "net"))
        out = kubelet.exec_ok(cid, "sh", "-c", f"cat /proc/self/cgroup; {ns}")
        assert sorted(line for line in out.splitlines() if line[:1].isdigit()) == sorted(
            Path(f"/proc/{main}/cgroup").read_text().splitlines()), out  # fmt: skip
        links = [line for line in out.splitlines() if line.endswith("]") and ":[" in line]
        assert links == [os.readlink(f"/proc/{main}/ns/{k}") for k in ("mnt", "pid", "ipc", "uts", "net")], out
        limits = kubelet.exec_ok(cid, "cat", "/proc/self/limits")
        assert parse_limits(limits) == parse_limits(Path(f"/proc/{main}/limits").read_text()), limits
    finally:
        kubelet.remove_container(cid)


def test_exec_sync_gets_the_containers_oom_score_adj(kubelet: Kubelet, host_pod: Pod) -> None:
    """A probe or `kubectl exec` process must be as killable as the container: runc gives every exec
    the container's oomScoreAdj. (On a node containerd runs at -999 and its shims at -998: an exec
    that kept the shim's score would be all but immune to the OOM killer.) Here the shim has 1."""
    res = kubelet.api.LinuxContainerResources(oom_score_adj=500)
    cid = kubelet.run(host_pod, "oom-adj", ["sleep", "1000014"], resources=res)
    try:
        assert Path(f"/proc/{kubelet.proc_of(cid, 'sleep')}/oom_score_adj").read_text() == "500\n"
        assert kubelet.exec_ok(cid, "cat", "/proc/self/oom_score_adj") == "500\n"
    finally:
        kubelet.remove_container(cid)


def test_container_log_file(kubelet: Kubelet, host_pod: Pod) -> None:
    script = "echo first; echo oops >&2; printf 'two\\nthree\\n'; printf 'no newline'"
    cid = kubelet.run(host_pod, "logger", ["sh", "-c", script])
    try:
        st = kubelet.wait_exited(cid)
        assert st.exit_code == 0, st
        path = Path(st.log_path)
        assert path == Path(host_pod.config.log_directory) / "logger" / "0.log", st.log_path
        records = log_records(path)
        stdout = [(tag, text) for stream, tag, text in records if stream == "stdout"]
        stderr = [(tag, text) for stream, tag, text in records if stream == "stderr"]
        assert stdout[:3] == [("F", "first"), ("F", "two"), ("F", "three")], records
        assert "".join(text for _, text in stdout[3:]) == "no newline", records
        assert stderr == [("F", "oops")], records
    finally:
        kubelet.call("RemoveContainer", container_id=cid)


def test_stop_container_grace_period(kubelet: Kubelet, host_pod: Pod) -> None:
    stubborn = kubelet.run(host_pod, "stubborn", ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"])
    polite = kubelet.run(
        host_pod, "polite", ["sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done"]
    )
    try:
        pids = []
        for cid in (stubborn, polite):
            log = Path(kubelet.status(cid).log_path)
            wait_for("the trap to be set", lambda p=log: p.exists() and "ready" in p.read_text())
            pids.append(kubelet.proc_of(cid, "sh"))
        start = time.monotonic()
        kubelet.call("StopContainer", container_id=stubborn, timeout=2)
        took = time.monotonic() - start
        st = kubelet.status(stubborn)
        assert (st.state, st.exit_code) == (kubelet.api.CONTAINER_EXITED, 137) and 2 <= took < 10, (st, took)
        start = time.monotonic()
        kubelet.call("StopContainer", container_id=polite, timeout=30)
        took = time.monotonic() - start
        st = kubelet.status(polite)
        assert (st.exit_code, st.reason) == (7, "Error") and took < 5, (st, took)
        assert [p for p in pids if Path(f"/proc/{p}").exists()] == [], pids  # the processes are gone
    finally:
        for cid in (stubborn, polite):
            kubelet.remove_container(cid)
    for cid in (stubborn, polite):
        assert not (kubelet.state_root / cid).exists()
        assert cid not in [c.id for c in kubelet.call("ListContainers").containers]


def test_two_containers_share_the_pods_namespaces(kubelet: Kubelet, host_pod: Pod) -> None:
    one = kubelet.run(host_pod, "one", ["sleep", "1000007"])
    two = kubelet.run(host_pod, "two", ["sleep", "1000008"])
    try:
        kinds = ("net", "ipc", "uts", "pid", "mnt")
        script = f"for k in {' '.join(kinds)}; do readlink /proc/self/ns/$k; done"
        links = {cid: dict(zip(kinds, kubelet.exec_ok(cid, "sh", "-c", script).split())) for cid in (one, two)}
        pause = kubelet.pause_pid(host_pod)
        for cid in (one, two):
            assert links[cid]["net"] == kubelet.engine.sandbox.net_ns  # host network: the node's (containerd's)
            assert links[cid]["uts"] == os.readlink("/proc/self/ns/uts")  # and the node's hostname
            assert links[cid]["ipc"] == os.readlink(f"/proc/{pause}/ns/ipc")  # the pod's IPC namespace
        assert links[one]["net"] == links[two]["net"] and links[one]["ipc"] == links[two]["ipc"], links
        assert links[one]["pid"] != links[two]["pid"] and links[one]["mnt"] != links[two]["mnt"], links
        kubelet.exec_ok(one, "sh", "-c", "echo shared > /dev/shm/note")  # the pod's /dev/shm
        assert kubelet.exec_ok(two, "cat", "/dev/shm/note") == "shared\n"
    finally:
        kubelet.remove_container(one)
        kubelet.remove_container(two)


def test_tty_container(kubelet: Kubelet, host_pod: Pod) -> None:
    """tty: true (a pod's `tty`, `kubectl run -t`): the runtime gets a console socket from the shim."""
    cid = kubelet.run(host_pod, "tty", ["sh", "-c", "tty; test -t 1 && echo on-a-terminal; exit 4"], tty=True)
    try:
        st = kubelet.wait_exited(cid)
        assert st.exit_code == 4, st
        text = "\n".join(t for _, _, t in log_records(Path(st.log_path)))
        assert "/dev/pts/0" in text and "on-a-terminal" in text, text
    finally:
        kubelet.call("RemoveContainer", container_id=cid)


def test_start_error_and_a_container_never_started(kubelet: Kubelet, host_pod: Pod) -> None:
    import grpc

    api = kubelet.api
    bad = kubelet.create(host_pod, "bad", ["/no/such/program"])
    never = kubelet.create(host_pod, "never", ["sleep", "1000013"])
    try:
        with pytest.raises(grpc.RpcError) as err:
            kubelet.start(bad)
        assert "no such file or directory" in str(err.value.details()).lower(), err.value.details()
        st = kubelet.status(bad)
        assert (st.state, st.exit_code, st.reason) == (api.CONTAINER_EXITED, 128, "StartError"), st
        assert kubelet.status(never).state == api.CONTAINER_CREATED
    finally:
        kubelet.call("RemoveContainer", container_id=bad)
        kubelet.call("RemoveContainer", container_id=never)  # the kubelet removes what it never started
    for cid in (bad, never):
        assert not (kubelet.state_root / cid).exists(), cid
    assert not [c for c in kubelet.call("ListContainers").containers if c.id in (bad, never)]


def test_shared_pid_namespace_pod(kubelet: Kubelet) -> None:
    """shareProcessNamespace: true: every container joins the pause container's pid namespace, and
    stopping one must end all of its processes (the shim's `kill --all`), not only its first."""
    pod = kubelet.run_pod("shared-pids", share_pids=True)
    try:
        pause = kubelet.pause_pid(pod)
        pidns = os.readlink(f"/proc/{pause}/ns/pid")
        one = kubelet.run(pod, "one", ["sh", "-c", "sleep 1000020 & exec sleep 1000021"])
        two = kubelet.run(pod, "two", ["sleep", "1000022"])
        for cid in (one, two):
            assert kubelet.exec_ok(cid, "readlink", "/proc/self/ns/pid").strip() == pidns
        wait_for("one's processes", lambda: "sleep 1000020" in kubelet.exec_ok(two, "ps", "-o", "args"))
        ps = kubelet.exec_ok(two, "ps", "-o", "args")
        assert all(f"sleep {n}" in ps for n in (1000020, 1000021, 1000022)) and "/pause" in ps, ps
        background = proc_in_pidns_of(pause, "sleep", "1000020")
        kubelet.call("StopContainer", container_id=one, timeout=5)
        st = kubelet.status(one)
        assert (st.state, st.exit_code) == (kubelet.api.CONTAINER_EXITED, 143), st  # sleep, by SIGTERM
        wait_for("one's background process to be killed too", lambda: not Path(f"/proc/{background}").exists(), 10)
        ps = kubelet.exec_ok(two, "ps", "-o", "args")
        assert "sleep 1000020" not in ps and "sleep 1000021" not in ps and "sleep 1000022" in ps, ps
        kubelet.call("RemoveContainer", container_id=one)
    finally:
        left = kubelet.remove_pod(pod)
    assert not left, left


def test_host_pid_pod(kubelet: Kubelet) -> None:
    """hostPID: true: the containers see the node's processes; stopping one still ends all of its own."""
    pod = kubelet.run_pod("host-pids", host_pids=True)
    try:
        cid = kubelet.run(pod, "c", ["sh", "-c", "sleep 1000030 & exec sleep 1000031"])
        assert kubelet.exec_ok(cid, "readlink", "/proc/self/ns/pid").strip() == os.readlink("/proc/self/ns/pid")
        assert str(os.getpid()) in kubelet.exec_ok(cid, "ps", "-o", "pid").split()  # this test's own process
        main = proc_in_pidns_of(os.getpid(), "sleep", "1000031")
        background = proc_in_pidns_of(os.getpid(), "sleep", "1000030")
        assert f"/pod{pod.uid}/{cid}" in Path(f"/proc/{background}/cgroup").read_text()
        kubelet.call("StopContainer", container_id=cid, timeout=5)
        assert kubelet.status(cid).exit_code == 143
        wait_for("the container's processes to end", lambda: not any(Path(f"/proc/{p}").exists()
                                                                     for p in (main, background)), 10)  # fmt: skip
        kubelet.call("RemoveContainer", container_id=cid)
    finally:
        left = kubelet.remove_pod(pod)
    assert not left, left


def test_pod_lifecycle_leaves_nothing(kubelet: Kubelet) -> None:
    pod = kubelet.run_pod("lifecycle")
    running = kubelet.run(pod, "running", ["sleep", "1000009"])
    exited = kubelet.run(pod, "exited", ["true"])
    kubelet.wait_exited(exited)
    assert kubelet.runtime_state(running)["status"] == "running"
    # the kubelet stops and removes the containers, then stops and removes the sandbox
    kubelet.call("StopContainer", container_id=running, timeout=1)
    for cid in (running, exited):
        kubelet.call("RemoveContainer", container_id=cid)
        assert not (kubelet.state_root / cid).exists()
    kubelet.call("StopPodSandbox", pod_sandbox_id=pod.id)
    st = kubelet.call("PodSandboxStatus", pod_sandbox_id=pod.id).status
    assert st.state == kubelet.api.SANDBOX_NOTREADY, st
    kubelet.call("StopPodSandbox", pod_sandbox_id=pod.id)  # idempotent, as the kubelet expects
    left = kubelet.remove_pod(pod)
    assert not left, left
    assert not kubelet.call("ListContainers", filter=kubelet.api.ContainerFilter(pod_sandbox_id=pod.id)).containers


def test_pod_removed_with_running_containers(kubelet: Kubelet) -> None:
    """RemovePodSandbox after StopPodSandbox only: the containers must be killed and removed too."""
    pod = kubelet.run_pod("forced")
    cids = [kubelet.run(pod, f"c{i}", ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]) for i in range(2)]
    assert all(kubelet.runtime_state(c)["status"] == "running" for c in cids)
    left = kubelet.remove_pod(pod)
    assert not left, left


def test_bridge_network_pod(kubelet: Kubelet) -> None:
    import grpc

    try:
        sysctls = {"net.ipv4.ip_unprivileged_port_start": "80", "kernel.shm_rmid_forced": "1"}
        pod = kubelet.run_pod("bridged", host_network=False, sysctls=sysctls)
    except grpc.RpcError as exc:
        if "failed to setup network" in str(exc.details()) or "plugin type=" in str(exc.details()):
            pytest.skip(f"the bridge CNI plugin does not work on this machine: {exc.details()}")
        raise
    try:
        st = kubelet.call("PodSandboxStatus", pod_sandbox_id=pod.id).status
        ip = st.network.ip
        assert ip.startswith(kubelet.engine.pod_subnet.rsplit(".", 1)[0] + "."), st.network
        assert st.linux.namespaces.options.network == kubelet.api.POD, st
        one = kubelet.run(pod, "one", ["sleep", "1000010"])
        two = kubelet.run(pod, "two", ["sleep", "1000011"])
        pause_net = os.readlink(f"/proc/{kubelet.pause_pid(pod)}/ns/net")
        assert pause_net != kubelet.engine.sandbox.net_ns
        for cid in (one, two):
            assert kubelet.exec_ok(cid, "readlink", "/proc/self/ns/net").strip() == pause_net
            assert f"inet {ip}/" in kubelet.exec_ok(cid, "ip", "-4", "addr", "show", "eth0")
        assert kubelet.exec_ok(one, "hostname").strip() == "bridged"
        out = kubelet.exec_ok(
            two, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/shm_rmid_forced"
        )
        assert out.split() == ["80", "1"], out  # the pod's sysctls
        gateway = kubelet.engine.pod_subnet.rsplit(".", 1)[0] + ".1"
        kubelet.exec_ok(one, "ping", "-c", "1", "-W", "5", gateway)  # the pod reaches its bridge
    finally:
        left = kubelet.remove_pod(pod)
    assert not left, left


def test_user_namespace_pod(kubelet: Kubelet) -> None:
    api = kubelet.api
    mapping = [api.IDMapping(host_id=200000, container_id=0, length=65536)]
    userns = api.UserNamespace(mode=api.POD, uids=mapping, gids=mapping)
    pod = kubelet.run_pod("userns", userns=userns)
    try:
        cid = kubelet.run(pod, "c", ["sleep", "1000012"])
        inside = kubelet.exec_ok(cid, "readlink", "/proc/self/ns/user").strip()
        if inside == os.readlink("/proc/self/ns/user"):
            pytest.skip(
                f"containerd {kubelet.call('Version').runtime_version} ignores the pod's userns_options "
                "(NamespaceOption field 5): its CRI plugin makes no user namespace for pods "
                "(that came with containerd 1.7)"
            )
        assert kubelet.exec_ok(cid, "cat", "/proc/self/uid_map").split() == ["0", "200000", "65536"]
        host_uid = os.stat(f"/proc/{kubelet.proc_of(cid, 'sleep')}").st_uid
        assert host_uid == 200000
    finally:
        left = kubelet.remove_pod(pod)
    assert not left, left
