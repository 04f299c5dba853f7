"""Rootless podman on the runtime under test (issue 17): podman run as the unprivileged test user
(tests/support/rootless.py), with its own storage and $XDG_RUNTIME_DIR (/run/user/<uid>),
`--network none` (slirp4netns cannot open /dev/net/tun on these VMs). podman itself makes the
user namespace (newuidmap/newgidmap, the user's subuid/subgid ranges) and runs the runtime in it.

Run with RAILCAR_CLIENT_RUNTIME=runc to check the same against runc."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients import engines
from tests.clients.conftest import RUNTIME
from tests.support.rootless import User, chown_tree, ensure_user

IMAGE = "localhost/rl-busybox"


class RootlessPodman:
    def __init__(self, user: User, rootfs: Path) -> None:
        self.user = user
        self.dir = Path(tempfile.mkdtemp(prefix="railcar-rlpodman-", dir="/tmp"))
        self.dir.chmod(0o755)
        self.xdg = Path(f"/run/user/{user.uid}")
        self.made_xdg = not self.xdg.exists()
        if self.made_xdg:
            self.xdg.mkdir(mode=0o700, parents=True)
            os.chown(self.xdg, user.uid, user.gid)
        for sub in ("root", "runroot", "tmp", "docker-config"):
            (self.dir / sub).mkdir()
        (self.dir / "docker-config/config.json").write_text("{}")
        nofile = int(user.run(["sh", "-c", "ulimit -Hn"], env=user.env(None)).stdout.strip() or 1024)
        (self.dir / "containers.conf").write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}"]\n'
            'netns = "none"\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{self.dir / "events.log"}"\n'
            f'tmp_dir = "{self.dir / "tmp"}"\n'
        )
        (self.dir / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\nrunroot = "{self.dir / "runroot"}"\n'
            f'graphroot = "{self.dir / "root"}"\n'
        )
        (self.dir / "rootfs.tar").write_bytes(engines.rootfs_tar(rootfs))
        chown_tree(self.dir, user.uid, user.gid)
        self.env = user.env(self.xdg, CONTAINERS_CONF=str(self.dir / "containers.conf"),
                            CONTAINERS_STORAGE_CONF=str(self.dir / "storage.conf"),
                            DOCKER_CONFIG=str(self.dir / "docker-config"))

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        argv = ["podman", "--root", str(self.dir / "root"), "--runroot", str(self.dir / "runroot"),
                "--tmpdir", str(self.dir / "tmp"), "--cgroup-manager", "cgroupfs",
                "--events-backend", "file", "--runtime", RUNTIME, *args]
        return self.user.run(argv, env=self.env, cwd=self.dir, timeout=timeout)

    def ok(self, *args: str, timeout: float = 60.0) -> str:
        res = self.cli(*args, timeout=timeout)
        assert res.returncode == 0, f"podman {' '.join(args)}: exit {res.returncode}\n{res.stderr}"
        return res.stdout

    def close(self) -> None:
        self.cli("rm", "-af", "-t", "0")
        # the storage holds files of the user's subordinate ids: removed from inside its namespace
        self.cli("unshare", "rm", "-rf", str(self.dir / "root"), str(self.dir / "runroot"))
        self.user.kill_leftovers()  # podman's pause process and anything a test left
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.made_xdg:
            shutil.rmtree(self.xdg, ignore_errors=True)


@pytest.fixture(scope="module")
def rlpodman() -> Iterator[RootlessPodman]:
    if os.geteuid() != 0:
        pytest.skip("the rootless podman tests make their user as root")
    engines.ensure_packages(("podman", "conmon", "catatonit", "busybox-static", "uidmap"))
    user = ensure_user()
    probe = user.run(["unshare", "--user", "--map-root-user", "true"], env=user.env(None))
    if probe.returncode != 0:
        pytest.skip(f"this machine does not let an unprivileged user make a user namespace: {probe.stderr.strip()}")
    work = Path(tempfile.mkdtemp(prefix="railcar-rlpodman-rootfs-"))
    try:
        pm = RootlessPodman(user, engines.make_rootfs(work / "rootfs"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    try:
        res = pm.cli("import", str(pm.dir / "rootfs.tar"), IMAGE, timeout=120)
        if res.returncode != 0:
            pytest.skip(f"rootless podman cannot import an image on this machine: {res.stderr.strip()}")
        yield pm
    finally:
        pm.close()


def test_run_as_root_of_the_user_namespace(rlpodman: RootlessPodman) -> None:
    out = rlpodman.ok("run", "--rm", "--network", "none", IMAGE, "sh", "-c", "id; cat /proc/self/uid_map")
    lines = out.splitlines()
    assert lines[0].startswith("uid=0(root) gid=0(root)")
    maps = [ln.split() for ln in lines[1:]]
    assert ["0", str(rlpodman.user.uid), "1"] in maps  # podman's own namespace: the user, then subuids
    assert ["1", str(rlpodman.user.subuid[0]), str(rlpodman.user.subuid[1])] in maps


def test_detached_exec_logs_stop_rm(rlpodman: RootlessPodman) -> None:
    name = "rl-c1"
    rlpodman.ok("run", "-d", "--network", "none", "--name", name, IMAGE, "sh", "-c",
                "echo hello-rootless; trap 'exit 0' TERM; while :; do sleep 0.1; done")
    try:
        assert rlpodman.ok("exec", name, "sh", "-c", "id -u; echo from-exec").split() == ["0", "from-exec"]
        deadline = time.monotonic() + 10
        while "hello-rootless" not in rlpodman.cli("logs", name).stdout:
            assert time.monotonic() < deadline, "no log line"
            time.sleep(0.1)
        rlpodman.ok("stop", "-t", "5", name)
        state = rlpodman.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name).split()
        assert state == ["exited", "0"]
        rlpodman.ok("rm", name)
        assert name not in rlpodman.ok("ps", "-a", "--format", "{{.Names}}").split()
    finally:
        rlpodman.cli("rm", "-f", "-t", "0", name)


def test_exec_tty(rlpodman: RootlessPodman) -> None:
    script = shutil.which("script")
    if not script:
        pytest.skip("util-linux script(1) missing: no pty for podman exec -t")
    name = "rl-c2"
    rlpodman.ok("run", "-d", "--network", "none", "--name", name, IMAGE, "sleep", "100")
    try:
        argv = ["podman", "--root", str(rlpodman.dir / "root"), "--runroot", str(rlpodman.dir / "runroot"),
                "--tmpdir", str(rlpodman.dir / "tmp"), "--cgroup-manager", "cgroupfs", "--events-backend",
                "file", "--runtime", RUNTIME, "exec", "-t", name, "tty"]
        res = rlpodman.user.run([script, "-qec", " ".join(argv), "/dev/null"], env=rlpodman.env,
                                cwd=rlpodman.dir)
        assert res.returncode == 0 and "/dev/pts/" in res.stdout, res
    finally:
        rlpodman.cli("rm", "-f", "-t", "0", name)


def test_userns_keep_id(rlpodman: RootlessPodman) -> None:
    """--userns keep-id: the user's own uid inside (a second user namespace, several ranges)."""
    uid = rlpodman.user.uid
    out = rlpodman.ok("run", "--rm", "--network", "none", "--userns", "keep-id", IMAGE, "sh", "-c",
                      "id -u; id -g; touch /tmp/x && stat -c %u /tmp/x")
    assert out.split() == [str(uid), str(rlpodman.user.gid), str(uid)]


def test_non_root_image_user(rlpodman: RootlessPodman) -> None:
    out = rlpodman.ok("run", "--rm", "--network", "none", "--user", "1000:1000", IMAGE, "sh", "-c",
                      "id -u; id -g; cat /proc/self/status | grep ^CapEff")
    words = out.split()
    assert words[:2] == ["1000", "1000"]
    assert words[-1] == "0000000000000000"
