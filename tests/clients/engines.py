"""Private docker, podman and containerd instances for the client suite.

Everything runs inside one *sandbox*: a mount + network namespace held open by a sleeping
process, with a private tmpfs on /run and a private /etc/docker. dockerd (with its own
containerd), a standalone containerd and every podman command are started inside it through
nsenter, so docker0, iptables rules, netns bind mounts, overlay mounts and /run leftovers stay off
the host; stopping means: engines by pid, then whatever still lives in the namespace, by pid, then
the holder, which takes every mount with it. Cgroup directories the engines made are removed last.
The CRI containerd (CriContainerd, for test_cri.py) gets a sandbox of its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import os
import pty
import resource
import select
import shutil
import signal
import subprocess
import tarfile
import termios
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support import cgroupview

REPO = Path(__file__).resolve().parents[2]
DOCKER_CLI = "/usr/bin/docker"  # the 20.10 client; /usr/local/bin/docker may be newer and come first
PACKAGES = ("docker.io", "containerd", "podman", "conmon", "catatonit", "busybox-static", "iproute2", "iptables")
CTR_NAMESPACE = "railcar-clients"
IMAGE = "local/busybox"
CMD_TIMEOUT = 60.0
TTY_TIMEOUT = 20.0  # a terminal session that has not ended by then never will
# Top-level cgroup directories the engines create (docker: /docker/<id>, podman: /libpod_parent and,
# on a cgroup v2 layout, the /podman_probe it leaves behind, ctr: /<namespace>/<id>, test_cri.py's
# pods: /railcar-cri). Removed at the end when they did not exist before.
ENGINE_CGROUPS = ("docker", "libpod_parent", "podman_probe", CTR_NAMESPACE, "railcar-cri")


# --- results ---------------------------------------------------------------------------------------
@dataclass(repr=False)
class Result:
    argv: list[str]
    code: int
    out: str
    err: str

    def __repr__(self) -> str:
        return f"\n$ {' '.join(self.argv)}\n  exit {self.code}\n  stdout: {self.out!r}\n  stderr: {self.err!r}"

    def ok(self) -> Result:
        assert self.code == 0, repr(self)
        return self


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = CMD_TIMEOUT,
) -> Result:
    proc = subprocess.run(
        list(argv),
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    return Result(list(argv), proc.returncode, proc.stdout, proc.stderr)


def run_tty(
    argv: Sequence[str], *, input: str = "", env: dict[str, str] | None = None, timeout: float = CMD_TIMEOUT
) -> Result:
    """Run argv with a pty as its controlling terminal and stdio (what `docker run -it` needs);
    `input` is typed into the terminal. Output is what the terminal showed (CRLF as LF)."""
    master, slave = pty.openpty()
    termios_attrs = termios.tcgetattr(slave)
    termios_attrs[3] &= ~termios.ECHO  # lflag: no local echo, so the output is the program's alone
    termios.tcsetattr(slave, termios.TCSANOW, termios_attrs)

    def make_ctty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        list(argv), stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, preexec_fn=make_ctty
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    pending = input.encode()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                raise TimeoutError(f"{' '.join(argv)}: no end after {timeout}s; saw {b''.join(chunks)!r}")
            ready, _, _ = select.select([master], [], [], min(left, 0.2))
            if pending and proc.poll() is None:
                time.sleep(0.3)  # let the container's shell attach before typing
                os.write(master, pending)
                pending = b""
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave fd closed
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    return Result(list(argv), code, out, "")


def wait_for(what: str, check: Callable[[], object], timeout: float = 30.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- packages ---------------------------------------------------------------------------------------
def _installed(pkg: str) -> bool:
    res = run(["dpkg-query", "-W", "-f", "${Status}", pkg])
    return res.code == 0 and res.out.strip().endswith(" installed")


def ensure_packages(packages: Iterable[str] = PACKAGES) -> None:
    """apt-get install whatever is missing (apt-get update once first). A policy-rc.d keeps the
    packages' scripts from starting a host dockerd/containerd while they install."""
    missing = [p for p in packages if not _installed(p)]
    if not missing:
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        run(["apt-get", "update", "-q"], env=env, timeout=600).ok()
        run(["apt-get", "install", "-y", "-q", *missing], env=env, timeout=1200).ok()
    finally:
        if own_policy:
            policy.unlink()


# --- the image ----------------------------------------------------------------------------------------
def make_rootfs(dest: Path) -> Path:
    """A busybox rootfs: static busybox, every applet linked in /bin, root + a user 1000."""
    bindir = dest / "bin"
    bindir.mkdir(parents=True)
    shutil.copy2("/bin/busybox", bindir / "busybox")
    applets = run([str(bindir / "busybox"), "--list"]).ok().out.split()
    for name in applets:
        if name != "busybox":
            (bindir / name).symlink_to("busybox")
    for sub in ("etc", "tmp", "proc", "sys", "dev", "root", "home/user", "data"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    (dest / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n")
    (dest / "etc/group").write_text("root:x:0:\nuser:x:1000:\n")
    os.chown(dest / "home/user", 1000, 1000)
    return dest


def rootfs_tar(rootfs: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name)
    return buf.getvalue()


def oci_archive(rootfs: Path, dest: Path, ref: str, cmd: Sequence[str] = ("/bin/sh",)) -> Path:
    """An OCI image-layout tar of the rootfs (one layer) that `ctr image import` takes."""
    layer_tar = rootfs_tar(rootfs)
    layer = gzip.compress(layer_tar, mtime=0)
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": list(cmd), "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": blob(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(layer), "size": len(layer)}
            ],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": blob(manifest),
                "size": len(manifest),
                "platform": {"architecture": arch, "os": "linux"},
                "annotations": {"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": "latest"},
            }
        ],
    }
    with tarfile.open(dest, "w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps(index).encode())
        for digest, data in blobs.items():
            add("blobs/sha256/" + digest.split(":", 1)[1], data)
    return dest


# --- processes, mounts, cgroups -------------------------------------------------------------------------
def _ns_id(pid: int, kind: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def pids_in_ns(kind: str, ns: str, exclude: Iterable[int] = ()) -> list[int]:
    skip = set(exclude)
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in skip and _ns_id(int(p), kind) == ns]


def kill_pid(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait for a pid to exit (reaping it if it is our child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    kill_pid(pid, signal.SIGTERM)
    if not wait_gone(pid, timeout):
        kill_pid(pid, signal.SIGKILL)
        wait_gone(pid, 5.0)


def cgroup_roots() -> list[Path]:
    """Mount points of the cgroup hierarchies (v1 controllers and any v2 mount)."""
    roots = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        if post.split()[0] in ("cgroup", "cgroup2"):
            roots.append(Path(pre.split()[4]))
    return roots


def existing_engine_cgroups() -> set[Path]:
    return {root / name for root in cgroup_roots() for name in ENGINE_CGROUPS if (root / name).is_dir()}


def remove_cgroup_tree(top: Path) -> list[str]:
    """rmdir a cgroup directory bottom-up; returns what could not be removed."""
    left = []
    for dirpath, _, _ in sorted(os.walk(top), key=lambda t: t[0].count("/"), reverse=True):
        for _ in range(50):
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)
        else:
            left.append(dirpath)
    return left


def mountpoints_under(prefix: Path) -> list[str]:
    pre = str(prefix) + "/"
    return [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(pre)
    ]


# --- the sandbox namespace ---------------------------------------------------------------------------
class Sandbox:
    """A mount + network namespace held by `sleep`, with private /run and /etc/docker."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.holder: subprocess.Popen[bytes] | None = None
        self.mnt_ns = ""
        self.net_ns = ""

    @property
    def pid(self) -> int:
        assert self.holder is not None
        return self.holder.pid

    def start(self) -> None:
        host_mnt = _ns_id(os.getpid(), "mnt")
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--net", "--propagation", "private", "sleep", "infinity"],
            stdin=subprocess.DEVNULL,
        )
        wait_for("the sandbox namespace", lambda: _ns_id(self.pid, "mnt") not in (None, host_mnt), 10)
        wait_for(
            "the sandbox holder to exec", lambda: Path(f"/proc/{self.pid}/comm").read_text().strip() == "sleep", 10
        )
        self.mnt_ns = _ns_id(self.pid, "mnt") or ""
        self.net_ns = _ns_id(self.pid, "net") or ""
        etc_docker = self.workdir / "etc-docker"
        etc_docker.mkdir()
        script = (
            "set -e; mount -t tmpfs -o mode=755 tmpfs /run; mkdir -p /run/lock /run/netns;"
            f" mount --bind {etc_docker} /etc/docker; ip link set lo up"
        )
        self.run(["sh", "-c", script]).ok()

    def prefix(self) -> list[str]:
        return ["nsenter", f"--target={self.pid}", "--mount", "--net", "--"]

    def run(self, argv: Sequence[str], **kw: object) -> Result:
        return run([*self.prefix(), *argv], **kw)  # type: ignore[arg-type]

    def popen(self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(
                [*self.prefix(), *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
            )

    def stop(self) -> list[str]:
        """Kill what is left in the namespace (by pid), then the holder. Returns notes on leftovers."""
        notes = []
        if self.holder is None:
            return notes
        for kind, ns in (("mnt", self.mnt_ns), ("net", self.net_ns)):
            for _ in range(3):
                pids = pids_in_ns(kind, ns, exclude=[self.pid])
                if not pids:
                    break
                for pid in pids:
                    kill_pid(pid)
                for pid in pids:
                    wait_gone(pid, 5.0)
            else:
                notes.append(f"processes left in the sandbox {kind} namespace: {pids}")
        self.holder.kill()
        self.holder.wait()
        self.holder = None
        return notes


# --- engines -----------------------------------------------------------------------------------------
class Engine:
    """Common parts: a private directory and the runtime under test."""

    name = "engine"

    def __init__(self, sandbox: Sandbox, workdir: Path, runtime: str) -> None:
        self.sandbox = sandbox
        self.dir = workdir / self.name
        self.dir.mkdir(parents=True)
        self.runtime = runtime  # absolute path of the OCI runtime under test
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.dir / f"{self.name}.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop_daemon(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc.pid)
            self.proc.wait()
            self.proc = None


class ContainerCli(Engine):
    """What docker and podman CLIs share: run -d, inspect, logs, cleanup of named containers."""

    env: dict[str, str]

    def argv(self, *args: str) -> list[str]:
        raise NotImplementedError

    def cli(self, *args: str, input: str | None = None, timeout: float = CMD_TIMEOUT) -> Result:
        return run(self.argv(*args), input=input, env=self.env, timeout=timeout)

    def tty(self, *args: str, input: str = "", timeout: float = TTY_TIMEOUT) -> Result:
        return run_tty(self.argv(*args), input=input, env=self.env, timeout=timeout)

    def run_detached(self, name: str, *args: str) -> str:
        """`run -d --name NAME args...`; the command must keep running."""
        self.cli("run", "-d", "--name", name, *args).ok()
        return name

    def inspect(self, name: str, fmt: str) -> str:
        return self.cli("inspect", "-f", fmt, name).ok().out.strip()

    def state(self, name: str) -> dict[str, object]:
        return json.loads(self.inspect(name, "{{json .State}}"))

    def pid(self, name: str) -> int:
        return int(self.inspect(name, "{{.State.Pid}}"))

    def wait_status(self, name: str, status: str, timeout: float = 20.0) -> None:
        wait_for(f"{name} to be {status}", lambda: self.state(name).get("Status") == status, timeout, 0.1)

    def wait_logs(self, name: str, text: str, timeout: float = 20.0) -> Result:
        found: list[Result] = []

        def check() -> bool:
            res = self.cli("logs", name)
            found[:] = [res]
            return text in res.out + res.err

        wait_for(f"{text!r} in the logs of {name}", check, timeout, 0.1)
        return found[0]

    def remove(self, *names: str) -> None:
        """rm -f, bounded: a container wedged by a runtime bug must not wedge the suite."""
        if names:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.cli("rm", "-f", *names, timeout=20)


def v2_lacks(*controllers: str) -> list[str]:
    """Those of `controllers` that a cgroup v2-only layout (such as RAILCAR_CGROUP_VIEW=v2 gives
    this host: hugetlb only) does not have; [] on v1 and hybrid layouts."""
    if cgroupview.current() != "v2":
        return []
    have = cgroupview.v2_controllers()
    return [c for c in controllers if c not in have]


def cgroup_file(pid: int, controller: str, name: str) -> Path:
    """The host path of a cgroup file of a process: on v1 the controller's (memory,
    memory.limit_in_bytes), on a v2-only layout the process's one directory."""
    if cgroupview.current() == "v2":
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return cgroupview.CG / line[3:].lstrip("/") / name
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if controller in ctrls.split(","):
            for root in cgroup_roots():
                if root.name == controller or controller in root.name.split(","):
                    return root / path.lstrip("/") / name
    raise LookupError(f"no {controller} cgroup for pid {pid}")


class Docker(ContainerCli):
    name = "docker"

    def __init__(self, sandbox: Sandbox, workdir: Path, runtime: str, runtime_name: str) -> None:
        super().__init__(sandbox, workdir, runtime)
        self.runtime_name = runtime_name  # "railcar" or "runc" (docker's built-in)
        self.sock = self.dir / "docker.sock"
        self.env = dict(os.environ, DOCKER_CONFIG=str(self.dir / "cli-config"))
        self.env.pop("DOCKER_HOST", None)
        self.env.pop("DOCKER_CONTEXT", None)

    def start(self) -> None:
        (self.dir / "cli-config").mkdir()
        (self.dir / "cli-config/config.json").write_text("{}")
        railcar = self.runtime if self.runtime_name == "railcar" else str(REPO / "bin" / "railcar")
        # railcar-noinit: the configuration README gives for runc's pid 1 layout (runtimeArgs)
        runtimes = {"railcar": {"path": railcar}, "railcar-noinit": {"path": railcar, "runtimeArgs": ["--no-init"]}}
        (self.dir / "daemon.json").write_text(json.dumps({"runtimes": runtimes}))
        argv = [
            "dockerd",
            "--config-file", str(self.dir / "daemon.json"),
            "--data-root", str(self.dir / "data"),
            "--exec-root", str(self.dir / "exec"),
            "--pidfile", str(self.dir / "dockerd.pid"),
            "-H", f"unix://{self.sock}",
            "--default-runtime", self.runtime_name,
            "--storage-driver", "overlay2",
        ]  # fmt: skip
        self.proc = self.sandbox.popen(argv, self.log)
        wait_for("dockerd", lambda: self._ping() or self._died(), 60, 0.2)
        if self.proc.poll() is not None:
            raise RuntimeError(f"dockerd exited {self.proc.returncode}:\n{self.log_tail()}")

    def _died(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def _ping(self) -> bool:
        return self.sock.exists() and self.cli("version", timeout=10).code == 0

    def argv(self, *args: str) -> list[str]:
        return [DOCKER_CLI, "-H", f"unix://{self.sock}", *args]

    def import_image(self, rootfs: Path) -> None:
        proc = subprocess.run(
            self.argv("import", "-", IMAGE), input=rootfs_tar(rootfs), capture_output=True, env=self.env
        )
        assert proc.returncode == 0, proc.stderr.decode()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.remove(*self.cli("ps", "-aq", timeout=20).out.split())
        self.stop_daemon()


class Podman(ContainerCli):
    name = "podman"

    def start(self) -> None:
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        # podman 4.3 lowers its own RLIMIT_NPROC to 32768 before it starts conmon and the runtime,
        # so a higher nproc in config.json would need CAP_SYS_RESOURCE (missing here).
        nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
        for sub in ("root", "runroot", "tmp", "networks", "docker-config"):
            (self.dir / sub).mkdir()
        (self.dir / "docker-config/config.json").write_text("{}")
        # podman asks for pids.limit 2048 by default: not on a v2 layout without a pids controller
        pids = "pids_limit = 0\n" if v2_lacks("pids") else ""
        (self.dir / "containers.conf").write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            f"{pids}"
            'netns = "none"\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{self.dir / "events.log"}"\n'
            f'tmp_dir = "{self.dir / "tmp"}"\n'
            "[network]\n"
            f'network_config_dir = "{self.dir / "networks"}"\n'
        )
        (self.dir / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\nrunroot = "{self.dir / "runroot"}"\ngraphroot = "{self.dir / "root"}"\n'
        )
        self.env = dict(
            os.environ,
            CONTAINERS_CONF=str(self.dir / "containers.conf"),
            CONTAINERS_STORAGE_CONF=str(self.dir / "storage.conf"),
            DOCKER_CONFIG=str(self.dir / "docker-config"),
        )

    def argv(self, *args: str) -> list[str]:
        return [
            *self.sandbox.prefix(),
            "podman",
            "--root", str(self.dir / "root"),
            "--runroot", str(self.dir / "runroot"),
            "--tmpdir", str(self.dir / "tmp"),
            "--storage-driver", "overlay",
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "file",
            "--runtime", self.runtime,
            *args,
        ]  # fmt: skip

    def import_image(self, rootfs: Path) -> None:
        tar = self.dir / "rootfs.tar"
        tar.write_bytes(rootfs_tar(rootfs))
        self.cli("import", str(tar), IMAGE).ok()

    def stop(self) -> None:
        self.cli("pod", "rm", "-af", "-t", "0", timeout=60)
        self.cli("rm", "-af", "-t", "0", timeout=60)


class Containerd(Engine):
    name = "containerd"
    namespace = CTR_NAMESPACE  # the containerd namespace ctr works in
    disabled_plugins: tuple[str, ...] = ("io.containerd.grpc.v1.cri",)

    def __init__(self, sandbox: Sandbox, workdir: Path, runtime: str) -> None:
        super().__init__(sandbox, workdir, runtime)
        self.address = self.dir / "containerd.sock"
        self.runc_root = self.dir / "runc-root"

    def config_toml(self) -> str:
        return (
            "version = 2\n"
            f'root = "{self.dir / "root"}"\n'
            f'state = "{self.dir / "state"}"\n'
            f"disabled_plugins = {json.dumps(list(self.disabled_plugins))}\n"
            "[grpc]\n"
            f'  address = "{self.address}"\n'
            "[ttrpc]\n"
            f'  address = "{self.dir / "containerd.sock.ttrpc"}"\n'
            '[plugins."io.containerd.internal.v1.opt"]\n'  # else it makes /opt/containerd on the host
            f'  path = "{self.dir / "opt"}"\n'
        )

    def start(self) -> None:
        (self.dir / "config.toml").write_text(self.config_toml())
        self.proc = self.sandbox.popen(["containerd", "--config", str(self.dir / "config.toml")], self.log)
        wait_for("containerd", lambda: self._ready() or self.proc is None or self.proc.poll() is not None, 60, 0.2)
        if self.proc.poll() is not None:
            raise RuntimeError(f"containerd exited {self.proc.returncode}:\n{self.log_tail()}")

    def _ready(self) -> bool:
        return self.address.exists() and self.cli("version", timeout=10).code == 0

    def argv(self, *args: str) -> list[str]:
        return [*self.sandbox.prefix(), "ctr", "--address", str(self.address), "--namespace", self.namespace, *args]

    def cli(self, *args: str, input: str | None = None, timeout: float = CMD_TIMEOUT) -> Result:
        return run(self.argv(*args), input=input, timeout=timeout)

    def runtime_flags(self) -> list[str]:
        return [
            "--runtime", "io.containerd.runc.v2",
            "--runc-binary", self.runtime,
            "--runc-root", str(self.runc_root),
            "--fifo-dir", str(self.dir / "fifo"),
        ]  # fmt: skip

    def import_image(self, rootfs: Path) -> None:
        archive = oci_archive(rootfs, self.dir / "busybox-oci.tar", f"docker.io/{IMAGE}:latest")
        self.cli("image", "import", str(archive)).ok()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            for cid in self.cli("containers", "ls", "-q").out.split():
                self.cli("task", "kill", "-s", "SIGKILL", cid)
                self.cli("task", "delete", "--force", cid)
                self.cli("containers", "delete", cid)
        self.stop_daemon()


class CriContainerd(Containerd):
    """containerd with its CRI plugin, the way the kubelet reaches a runtime: a runtime handler
    `railcar` (the runc v2 shim with BinaryName = the runtime under test and a Root of its own), a
    sandbox image of one static pause binary built here (never pulled), a bridge CNI network. It gets a
    sandbox of its own (see tests/clients/test_cri.py), where a tmpfs on /var/lib takes libcni's
    cache (/var/lib/cni), so nothing of it reaches the host. CRI objects live in the k8s.io namespace."""

    name = "containerd-cri"
    namespace = "k8s.io"
    disabled_plugins = ()
    handler = "railcar"
    pause_ref = "docker.io/local/pause:latest"
    image_ref = f"docker.io/{IMAGE}:latest"
    cgroup_top = "railcar-cri"  # pods get cgroup_parent /railcar-cri/<pod> (in ENGINE_CGROUPS)
    pod_subnet = "10.88.0.0/24"
    cni_bin_dir = "/usr/lib/cni"  # Debian's containernetworking-plugins

    def __init__(self, sandbox: Sandbox, workdir: Path, runtime: str) -> None:
        super().__init__(sandbox, workdir, runtime)
        self.runtime_root = self.dir / "runtime-root"  # the handler's --root: the runtime's state
        self.cni_conf_dir = self.dir / "cni-conf"
        self.logs = self.dir / "pod-logs"

    def config_toml(self) -> str:
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        return super().config_toml() + (
            f"[{cri}]\n"
            f'  sandbox_image = "{self.pause_ref}"\n'
            '  stream_server_address = "127.0.0.1"\n'
            '  stream_server_port = "0"\n'
            "  disable_apparmor = true\n"
            # the pause container asks for oom_score_adj -998, and lowering it needs CAP_SYS_RESOURCE,
            # which this machine's bounding set lacks: clamp to containerd's own, as for rootless
            "  restrict_oom_score_adj = true\n"
            f"[{cri}.containerd]\n"
            '  snapshotter = "overlayfs"\n'
            '  default_runtime_name = "runc"\n'  # the stock default handler (runc on PATH), left as it is
            f"[{cri}.containerd.runtimes.runc]\n"
            '  runtime_type = "io.containerd.runc.v2"\n'
            f"[{cri}.containerd.runtimes.{self.handler}]\n"
            '  runtime_type = "io.containerd.runc.v2"\n'
            f"[{cri}.containerd.runtimes.{self.handler}.options]\n"
            f'  BinaryName = "{self.runtime}"\n'
            f'  Root = "{self.runtime_root}"\n'
            f"[{cri}.cni]\n"
            f'  bin_dir = "{self.cni_bin_dir}"\n'
            f'  conf_dir = "{self.cni_conf_dir}"\n'
        )

    def start(self) -> None:
        self.logs.mkdir()
        self.cni_conf_dir.mkdir()
        bridge = {
            "type": "bridge",
            "bridge": "cni0",
            "isGateway": True,
            "ipMasq": False,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": self.pod_subnet}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": str(self.dir / "cni-ipam"),
            },
        }
        conf = {"cniVersion": "1.0.0", "name": "railcar-cri", "plugins": [bridge]}
        (self.cni_conf_dir / "10-railcar-cri.conflist").write_text(json.dumps(conf, indent=1))
        super().start()

    def import_image(self, rootfs: Path) -> None:
        """busybox as the workload image; as the sandbox image, one static /pause built here from
        tests/support/cri/pause.c (it reaps orphans, as pid 1 of a pod's shared pid namespace must)."""
        self.cli("image", "import", str(oci_archive(rootfs, self.dir / "busybox-oci.tar", self.image_ref))).ok()
        pause_root = self.dir / "pause-rootfs"
        pause_root.mkdir()
        src = REPO / "tests" / "support" / "cri" / "pause.c"
        run(["gcc", "-static", "-O2", "-o", str(pause_root / "pause"), str(src)]).ok()
        pause = oci_archive(pause_root, self.dir / "pause-oci.tar", self.pause_ref, cmd=("/pause",))
        self.cli("image", "import", str(pause)).ok()


@contextlib.contextmanager
def ignoring_errors(notes: list[str], what: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - teardown keeps going and reports
        notes.append(f"{what}: {exc!r}")
