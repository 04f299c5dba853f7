"""Rootless: the runtime run by an unprivileged user (made by the test setup, with subuid/subgid
ranges), in bundles written by the runtime's own `spec --rootless` (issue 17).

Each check holds for runc too (RAILCAR_TEST_RUNTIME=runc), but for those marked railcar_only
(railcar's own texts, or where runc 1.1.5 does less) and reference_gap (what runc 1.1.5 fails
on this machine)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IS_REFERENCE, RUNTIME, host_mount, reference_gap, unmount_under
from tests.support.bundle import copy_rootfs
from tests.support.rootless import User, chown_tree, ensure_user

MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x2, 0x4, 0x8
NAME = Path(RUNTIME).name  # the runtime's default root is $XDG_RUNTIME_DIR/<name>
# a cgroup v2-only view (RAILCAR_CGROUP_VIEW=v2), where runc 1.1.5 words cgroup errors otherwise
V2_ONLY = Path("/sys/fs/cgroup/cgroup.controllers").exists()
RUNC_ON_V2 = IS_REFERENCE and V2_ONLY


@pytest.fixture(scope="session")
def rl_user() -> User:
    return ensure_user()


class Rootless:
    """The runtime as the test user, in a work dir of the user's own, with its own
    $XDG_RUNTIME_DIR (no --root: the default is under it)."""

    def __init__(self, user: User, base_rootfs: Path) -> None:
        self.user = user
        self.base_rootfs = base_rootfs
        self.dir = Path(tempfile.mkdtemp(prefix="railcar-rl-", dir="/tmp"))
        self.dir.chmod(0o755)
        os.chown(self.dir, user.uid, user.gid)
        self.xdg = self.dir / "xdg"
        self.xdg.mkdir(mode=0o700)
        os.chown(self.xdg, user.uid, user.gid)
        self.ids: list[str] = []
        self.cgroup_dirs: list[Path] = []
        self._n = 0

    @property
    def root(self) -> Path:
        return self.xdg / NAME

    def new_id(self) -> str:
        cid = f"rl-{secrets.token_hex(4)}"
        self.ids.append(cid)
        return cid

    def call(self, *args: str, bundle: Path | None = None, check: bool = False,
             timeout: float = 30.0, **env: str) -> subprocess.CompletedProcess[str]:
        res = self.user.run([RUNTIME, *args], env=self.user.env(self.xdg, **env), cwd=bundle or self.dir,
                            timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"{NAME} {' '.join(args)}: exit {res.returncode}\n"
                                 f"stdout: {res.stdout}\nstderr: {res.stderr}")
        return res

    def call_in(self, cgroup_dirs: list[Path], *args: str, bundle: Path,
                check: bool = False) -> subprocess.CompletedProcess[str]:
        """The runtime as the user, started in `cgroup_dirs` (as a login manager puts a user's
        session into its delegated cgroup): root moves the shell there, then drops to the user."""
        u = self.user
        script = "for d in $CGROUPS; do echo $$ > $d/cgroup.procs || exit 99; done; exec \"$@\""
        argv = ["sh", "-c", script, "sh", "setpriv", f"--reuid={u.uid}", f"--regid={u.gid}",
                "--clear-groups", "--", RUNTIME, *args]
        env = u.env(self.xdg, CGROUPS=" ".join(map(str, cgroup_dirs)))
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            rc = subprocess.run(argv, env=env, cwd=bundle, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                timeout=30).returncode
            out.seek(0)
            err.seek(0)
            res = subprocess.CompletedProcess(argv, rc, out.read().decode(), err.read().decode())
        if check and rc != 0:
            raise AssertionError(f"{NAME} {' '.join(args)}: exit {rc}\nstderr: {res.stderr}")
        return res

    def spec(self, args: list[str], **linux: Any) -> dict[str, Any]:
        """The runtime's own `spec --rootless`, running `args` without a terminal."""
        d = self.dir / "spec-tmp"
        d.mkdir()
        os.chown(d, self.user.uid, self.user.gid)
        self.user.run([RUNTIME, "spec", "--rootless"], env=self.user.env(None), cwd=d)
        cfg = json.loads((d / "config.json").read_text())
        shutil.rmtree(d)
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = args
        cfg["linux"].update(linux)
        return cfg

    def bundle(self, cfg: dict[str, Any]) -> Path:
        self._n += 1
        b = self.dir / f"bundle{self._n}"
        b.mkdir()
        copy_rootfs(self.base_rootfs, b / "rootfs")
        (b / "config.json").write_text(json.dumps(cfg, indent=1))
        chown_tree(b, self.user.uid, self.user.gid)
        return b

    def status(self, cid: str) -> str:
        _reap()
        res = self.call("state", cid)
        return json.loads(res.stdout)["status"] if res.returncode == 0 else ""

    def wait_status(self, cid: str, want: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.status(cid) != want:
            assert time.monotonic() < deadline, f"{cid} never {want}: {self.status(cid)!r}"
            time.sleep(0.05)

    def cleanup(self) -> None:
        for cid in self.ids:
            self.call("delete", "--force", cid)
        self.user.kill_leftovers()
        for d in reversed(self.cgroup_dirs):
            for sub in sorted(d.glob("**/"), key=lambda p: len(str(p)), reverse=True):
                try:
                    sub.rmdir()
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def rl(rl_user: User, base_rootfs: Path) -> Iterator[Rootless]:
    r = Rootless(rl_user, base_rootfs)
    try:
        yield r
    finally:
        r.cleanup()


def _reap() -> None:
    """Reap zombie children: the suite is a subreaper, and an exec'd process orphaned to it keeps
    a dying pid namespace's init from exiting until it is reaped."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


# --- a single mapping, no cgroup ---------------------------------------------------------------


def test_run_single_mapping_setgroups_denied(rl: Rootless) -> None:
    """`spec --rootless` (uid 0 inside = the user outside, one mapping), written directly, with
    setgroups denied; no cgroup the user may write, none asked for: it runs."""
    b = rl.bundle(rl.spec(sh("id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups")))
    res = rl.call("run", rl.new_id(), bundle=b, check=True)
    words = res.stdout.split()
    assert words[0] == "0"
    assert words[1:4] == ["0", str(rl.user.uid), "1"] and words[4:7] == ["0", str(rl.user.gid), "1"]
    assert words[7] == "deny"


def test_default_root_is_under_xdg_runtime_dir(rl: Rootless) -> None:
    cid = rl.new_id()
    b = rl.bundle(rl.spec(["sleep", "60"]))
    rl.call("run", "-d", cid, bundle=b, check=True)
    assert (rl.root / cid).is_dir()
    st = rl.root.stat()
    assert st.st_uid == rl.user.uid and st.st_mode & 0o7777 == 0o1700  # runc's: 0700 and sticky
    assert rl.status(cid) == "running"


def test_lifecycle_commands(rl: Rootless) -> None:
    """create, state, start, list, ps, exec, events --stats, kill, delete as the user."""
    cid = rl.new_id()
    b = rl.bundle(rl.spec(["sleep", "60"]))
    rl.call("create", cid, bundle=b, check=True)
    assert rl.status(cid) == "created"
    rl.call("start", cid, check=True)
    assert rl.status(cid) == "running"
    state = json.loads(rl.call("state", cid).stdout)
    pid = state["pid"]
    assert state.get("owner", "") == ""  # runc's state: no owner; list names the user
    listed = rl.call("list", "--format", "json", check=True)
    entry = next(e for e in json.loads(listed.stdout) if e["id"] == cid)
    assert entry["owner"] == rl.user.name
    ex = rl.call("exec", cid, "sh", "-c", "id -u; echo hi", check=True)
    assert ex.stdout.split() == ["0", "hi"]
    rl.call("exec", "-d", cid, "sleep", "50", check=True)
    if not IS_REFERENCE:  # runc 1.1.5's ps and kill --all need the cgroup it could not make
        ps = rl.call("ps", "--format", "json", cid, check=True)
        pids = json.loads(ps.stdout)
        assert pid in pids and len(pids) >= 3  # the init, sleep 60 (with railcar's init), sleep 50
    ev = rl.call("events", "--stats", cid, check=True)
    assert json.loads(ev.stdout)["type"] == "stats"
    rl.call("kill", cid, "KILL", check=True)
    rl.wait_status(cid, "stopped")
    rl.call("delete", cid, check=True)
    assert not (rl.root / cid).exists()


@pytest.mark.railcar_only
def test_fast_path_finds_the_xdg_root(rl: Rootless) -> None:
    """csrc/fastpath.c picks the same default --root: state, kill and delete never reach Python."""
    cid = rl.new_id()
    rl.call("run", "-d", cid, bundle=rl.bundle(rl.spec(["sleep", "60"])), check=True)
    for args in (("state", cid), ("kill", cid, "KILL")):
        res = rl.call(*args, check=True, RAILCAR_IMPORTTIME="1")
        assert "import time" not in res.stderr, args
    rl.wait_status(cid, "stopped")
    res = rl.call("delete", cid, check=True, RAILCAR_IMPORTTIME="1")
    assert "import time" not in res.stderr
    assert not (rl.root / cid).exists()


@pytest.mark.railcar_only
def test_kill_all_without_cgroup(rl: Rootless) -> None:
    """kill --all reaches every process of the container (the pid namespace's) without a cgroup
    (runc 1.1.5 fails: "lstat : no such file or directory")."""
    cid = rl.new_id()
    b = rl.bundle(rl.spec(["sleep", "60"]))
    rl.call("run", "-d", cid, bundle=b, check=True)
    rl.call("exec", "-d", cid, "sleep", "50", check=True)
    rl.call("kill", "--all", cid, "KILL", check=True)
    rl.wait_status(cid, "stopped")
    deadline = time.monotonic() + 5
    while any(_comm(p) == "sleep" for p in rl.user.processes()):
        assert time.monotonic() < deadline, "an exec'd process survived kill --all"
        time.sleep(0.05)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def test_exec_tty(rl: Rootless) -> None:
    script = shutil.which("script")
    if not script:
        pytest.skip("util-linux script(1) missing: no pty to run exec -t in")
    cid = rl.new_id()
    rl.call("run", "-d", cid, bundle=rl.bundle(rl.spec(["sleep", "60"])), check=True)
    res = rl.user.run([script, "-qec", f"{RUNTIME} exec -t {cid} tty", "/dev/null"],
                      env=rl.user.env(rl.xdg), cwd=rl.dir)
    assert res.returncode == 0, res
    assert "/dev/pts/" in res.stdout


# --- several ranges: newuidmap/newgidmap --------------------------------------------------------


def test_subid_ranges_through_newuidmap(rl: Rootless) -> None:
    maps_u = [{"containerID": 0, "hostID": rl.user.uid, "size": 1},
              {"containerID": 1, "hostID": rl.user.subuid[0], "size": 65536}]
    maps_g = [{"containerID": 0, "hostID": rl.user.gid, "size": 1},
              {"containerID": 1, "hostID": rl.user.subgid[0], "size": 65536}]
    cfg = rl.spec(sh("cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/f && chown 1000:1000 /tmp/f"
                     " && stat -c %u:%g /tmp/f"), uidMappings=maps_u, gidMappings=maps_g)
    cfg["root"]["readonly"] = False
    for caps in cfg["process"]["capabilities"].values():
        caps.append("CAP_CHOWN")
    res = rl.call("run", rl.new_id(), bundle=rl.bundle(cfg), check=True)
    lines = [ln.split() for ln in res.stdout.splitlines()]
    assert ["1", str(rl.user.subuid[0]), "65536"] in lines
    assert ["1", str(rl.user.subgid[0]), "65536"] in lines
    assert lines[-1] == ["1000:1000"]


def test_ranges_not_the_users_are_refused(rl: Rootless) -> None:
    start = rl.user.subuid[0] + rl.user.subuid[1] + 1_000_000  # nobody's range
    maps = [{"containerID": 0, "hostID": rl.user.uid, "size": 1}, {"containerID": 1, "hostID": start, "size": 10}]
    res = rl.call("run", rl.new_id(), bundle=rl.bundle(rl.spec(["true"], uidMappings=maps)))
    assert res.returncode != 0
    assert "newuidmap" in res.stderr


# --- resources and cgroups ---------------------------------------------------------------------


def test_resources_without_cgroup_are_refused(rl: Rootless) -> None:
    cfg = rl.spec(["true"])
    cfg["linux"]["resources"] = {"pids": {"limit": 50}}
    res = rl.call("run", rl.new_id(), bundle=rl.bundle(cfg))
    assert res.returncode == 1
    # runc on v2: "openat2 /sys/fs/cgroup/<id>/pids.max: no such file or directory"
    assert "cannot set pids limit: container could not join or create cgroup" in res.stderr or RUNC_ON_V2
    if not IS_REFERENCE:
        assert "linux.resources.pids" in res.stderr


def test_update_without_cgroup_is_refused(rl: Rootless) -> None:
    cid = rl.new_id()
    rl.call("run", "-d", cid, bundle=rl.bundle(rl.spec(["sleep", "60"])), check=True)
    res = rl.call("update", "--pids-limit", "10", cid)
    assert res.returncode == 1
    # runc on v2: "openat2 /sys/fs/cgroup/<id>/pids.max: no such file or directory"
    assert "cannot set pids limit: container could not join or create cgroup" in res.stderr or RUNC_ON_V2


def test_pause_without_delegated_freezer_is_refused(rl: Rootless) -> None:
    cid = rl.new_id()
    rl.call("run", "-d", cid, bundle=rl.bundle(rl.spec(["sleep", "60"])), check=True)
    res = rl.call("pause", cid)
    assert res.returncode == 1
    # runc's text on v1 (on v2 runc 1.1.5 says "freezer not supported: openat2 ...: no such file")
    assert "cgroups not configured for container" in res.stderr or RUNC_ON_V2
    assert rl.status(cid) == "running"
    assert "container not paused" in rl.call("resume", cid).stderr


def test_rootless_false_needs_cgroups(rl: Rootless) -> None:
    """--rootless false: the root cgroup manager, which may not skip what it cannot make."""
    res = rl.call("--rootless", "false", "run", rl.new_id(), bundle=rl.bundle(rl.spec(["true"])))
    assert res.returncode == 1
    assert "permission denied" in res.stderr


def test_rootless_flag_values(rl: Rootless) -> None:
    b = rl.bundle(rl.spec(["true"]))
    assert rl.call("--rootless", "true", "run", rl.new_id(), bundle=b).returncode == 0
    assert rl.call("--rootless=auto", "run", rl.new_id(), bundle=b).returncode == 0
    res = rl.call("--rootless", "bogus", "run", rl.new_id(), bundle=b)
    assert res.returncode == 1
    assert 'strconv.ParseBool: parsing "bogus": invalid syntax' in res.stderr.replace('\\"', '"')


def _v1_hierarchies(types: tuple[str, ...] = ("cgroup",)) -> list[Path]:
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        post = line.partition(" - ")[2].split()
        if post and post[0] in types:
            out.append(Path(line.split()[4]))
    return out


def _delegate_session(rl: Rootless) -> tuple[str, list[Path]]:
    """A cgroup delegated to the user in every hierarchy, v1 and v2 (a v1 directory and its files
    chowned to the user; a v2 directory with cgroup.procs, cgroup.subtree_control and
    cgroup.threads, as systemd delegates one), with a "session" cgroup of the user's own inside
    for its processes: (the delegated one's name, the session directories)."""
    name = f"railcar-rl-{secrets.token_hex(3)}"
    dirs = []
    for h in _v1_hierarchies(("cgroup", "cgroup2")):
        d = h / name
        d.mkdir()
        rl.cgroup_dirs.append(d)
        dirs.append(d)
        for f in ("cpuset.cpus", "cpuset.mems"):
            if (d / f).exists():
                (d / f).write_text((h / f).read_text())
        v2 = (d / "cgroup.controllers").exists()
        files = [d / f for f in ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads")] if v2 else [
            *d.iterdir()]
        for p in [d, *files]:
            if p.exists():
                os.chown(p, rl.user.uid, rl.user.gid)
    sessions = []
    for d in dirs:
        subprocess.run(["setpriv", f"--reuid={rl.user.uid}", f"--regid={rl.user.gid}", "--clear-groups",
                        "mkdir", str(d / "session")], check=True)
        for f in ("cpuset.cpus", "cpuset.mems"):
            if (d / f).exists():
                (d / "session" / f).write_text((d / f).read_text())
        sessions.append(d / "session")
    return name, sessions


def test_delegated_session_cgroup_is_used_by_default(rl: Rootless) -> None:
    """Without linux.cgroupsPath the container's cgroup is below the runtime's own (runc's rule;
    on cgroup v2 beside it): in a session delegated to the user, that is a cgroup it may write:
    pause and resume work."""
    name, dirs = _delegate_session(rl)
    cid = rl.new_id()
    b = rl.bundle(rl.spec(["sleep", "60"]))
    rl.call_in(dirs, "run", "-d", cid, bundle=b, check=True)
    state = json.loads(rl.call("state", cid).stdout)
    assert state["status"] == "running", state
    init = state["pid"]
    own = Path(f"/proc/{init}/cgroup").read_text().splitlines()
    # the freezer's hierarchy: v1's on a v1 or hybrid host, the unified one on a v2-only host
    line = next(ln for ln in own if (ln.startswith("0::") if V2_ONLY else ":freezer:" in ln))
    want = f"/{name}/{cid}" if V2_ONLY else f"/{name}/session/{cid}"
    assert line.endswith(want), own
    rl.call("pause", cid, check=True)
    assert rl.status(cid) == "paused"
    rl.call("resume", cid, check=True)
    assert rl.status(cid) == "running"
    rl.call("kill", cid, "KILL", check=True)
    rl.wait_status(cid, "stopped")
    rl.call("delete", cid, check=True)
    assert not any((d / cid).exists() or (d.parent / cid).exists() for d in dirs)


def _delegate(rl: Rootless) -> str:
    """A cgroup chowned to the user in every v1 hierarchy (runc needs all of them with an
    explicit cgroupsPath), as an administrator delegates one; returns its path."""
    if V2_ONLY:
        pytest.skip("a cgroup v2-only host: delegation there is a subtree of the user's session")
    name = f"railcar-rl-{secrets.token_hex(3)}"
    for h in _v1_hierarchies():
        d = h / name
        d.mkdir()
        rl.cgroup_dirs.append(d)
        for f in ("cpuset.cpus", "cpuset.mems"):
            if (d / f).exists():
                (d / f).write_text((h / f).read_text())
        for p in [d, *d.iterdir()]:
            os.chown(p, rl.user.uid, rl.user.gid)
    return "/" + name


def test_delegated_cgroup_is_used(rl: Rootless) -> None:
    """A delegated cgroup: limits are set, and pause/resume work with its freezer."""
    parent = _delegate(rl)
    cid = rl.new_id()
    cfg = rl.spec(["sleep", "60"])
    cfg["linux"]["cgroupsPath"] = f"{parent}/{cid}"
    cfg["linux"]["resources"] = {"pids": {"limit": 77}}
    rl.call("run", "-d", cid, bundle=rl.bundle(cfg), check=True)
    pids = next(h for h in _v1_hierarchies() if "pids" in h.name.split(","))
    assert (pids / parent.lstrip("/") / cid / "pids.max").read_text().strip() == "77"
    init = json.loads(rl.call("state", cid).stdout)["pid"]
    assert f"{parent}/{cid}" in Path(f"/proc/{init}/cgroup").read_text()
    rl.call("pause", cid, check=True)
    assert rl.status(cid) == "paused"
    rl.call("resume", cid, check=True)
    assert rl.status(cid) == "running"
    rl.call("update", "--pids-limit", "88", cid, check=True)
    assert (pids / parent.lstrip("/") / cid / "pids.max").read_text().strip() == "88"
    rl.call("delete", "--force", cid, check=True)
    assert not (pids / parent.lstrip("/") / cid).exists()


# --- refusals --------------------------------------------------------------------------------------


@pytest.mark.railcar_only
def test_checkpoint_restore_refused(rl: Rootless) -> None:
    cid = rl.new_id()
    rl.call("run", "-d", cid, bundle=rl.bundle(rl.spec(["sleep", "60"])), check=True)
    for args in (("checkpoint", "--image-path", str(rl.dir / "img"), cid),
                 ("restore", "--image-path", str(rl.dir / "img"), "rl-restored")):
        res = rl.call(*args)
        assert res.returncode == 1
        assert "not supported rootless: CRIU needs privileges" in res.stderr
    assert rl.status(cid) == "running"


def test_config_without_user_namespace_refused(rl: Rootless) -> None:
    cfg = rl.spec(["true"])
    cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "user"]
    del cfg["linux"]["uidMappings"], cfg["linux"]["gidMappings"]
    res = rl.call("run", rl.new_id(), bundle=rl.bundle(cfg))
    assert res.returncode == 1
    assert "rootless container requires user namespaces" in res.stderr


def test_unmapped_gid_mount_option_refused(rl: Rootless) -> None:
    cfg = rl.spec(["true"])
    pts = next(m for m in cfg["mounts"] if m["destination"] == "/dev/pts")
    pts["options"].append("gid=5")
    res = rl.call("run", rl.new_id(), bundle=rl.bundle(cfg))
    assert res.returncode == 1
    assert "cannot specify gid= mount options for unmapped gid in rootless containers" in res.stderr


# --- mounts a user namespace may not make ----------------------------------------------------------


def _full_spec(rl: Rootless, args: list[str], netns: bool) -> dict[str, Any]:
    """The runtime's root `spec` (sysfs, a cgroup mount, no /sys bind) with a user namespace of
    one mapping, and a host device in linux.devices."""
    cfg = rl.spec(args)
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    cfg["mounts"] += [
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ]
    if netns:
        cfg["linux"]["namespaces"].append({"type": "network"})
    cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}]
    return cfg


_MOUNTS_CHECK = sh("ls /sys/kernel >/dev/null && ls /sys/fs/cgroup | grep -q memory && "
                   "test -c /dev/fuse && test -c /dev/null && echo /dev/null ok > /dev/null && echo fine")


@pytest.mark.skipif(not Path("/dev/fuse").exists(), reason="no /dev/fuse on this host to bind")
def test_sysfs_cgroup_devices_with_netns(rl: Rootless) -> None:
    res = rl.call("run", rl.new_id(), bundle=rl.bundle(_full_spec(rl, _MOUNTS_CHECK, True)), check=True)
    assert res.stdout.strip() == "fine"


@reference_gap("runc 1.1.5 mounts sysfs without a network namespace: operation not permitted")
@pytest.mark.skipif(not Path("/dev/fuse").exists(), reason="no /dev/fuse on this host to bind")
def test_sysfs_without_netns_is_bound(rl: Rootless) -> None:
    res = rl.call("run", rl.new_id(), bundle=rl.bundle(_full_spec(rl, _MOUNTS_CHECK, False)), check=True)
    assert res.stdout.strip() == "fine"


@reference_gap("runc 1.1.5 remounts a bind of a nosuid,nodev,noexec mount read-only without the flags "
               "the user namespace locks: operation not permitted")
def test_readonly_bind_of_a_locked_mount(rl: Rootless) -> None:
    """A bind whose source mount has flags locked for the user's namespace (made by root) is
    remounted read-only keeping them, not refused."""
    src = rl.dir / "locked"
    src.mkdir()
    host_mount(src, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    try:
        cfg = rl.spec(sh("touch /mnt/x 2>/dev/null && echo writable; grep ' /mnt ' /proc/self/mountinfo"))
        cfg["mounts"].append({"destination": "/mnt", "type": "bind", "source": str(src), "options": ["rbind", "ro"]})
        res = rl.call("run", rl.new_id(), bundle=rl.bundle(cfg), check=True)
        assert "writable" not in res.stdout
        opts = res.stdout.split()[5].split(",")
        assert {"ro", "nosuid", "nodev", "noexec"} <= set(opts), res.stdout
    finally:
        unmount_under(rl.dir)
