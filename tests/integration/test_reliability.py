"""What a hostile test found (issue 20): preserved fds that are not the caller's, truncated
state, state with more cgroup directories than a fixed array held, a create killed while it
works, corrupt and forged state, ids that begin with '.', hooks that outlive a killed create.
Each test looks from the host (state dir, cgroup dirs, processes) and from inside the container."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BundleFactory, Runtime, all_pids, describe
from tests.support.bundle import sh

railcar_only = pytest.mark.railcar_only


def _cmdline(pid: int, what: str = "cmdline") -> bytes:
    try:
        return Path(f"/proc/{pid}/{what}").read_bytes()
    except OSError:
        return b""


def marked(marker: str) -> list[int]:
    """Live processes whose environment carries `marker`."""
    out = []
    for pid in all_pids():
        if marker.encode() in _cmdline(pid, "environ"):
            try:
                st = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            if st[st.rindex(")") + 2] != "Z":
                out.append(pid)
    return out


def leftovers(runtime: Runtime, cid: str, cgroups_path: str) -> list[str]:
    """What a container left on the host: its state dir and its cgroup directories."""
    found = [f"state {runtime.root / cid}"] if (runtime.root / cid).exists() else []
    return found + [f"cgroup {d}" for d in runtime.cgroup_dirs(cgroups_path)]


def own_cgroup_line(text: str, hierarchy: str) -> str:
    return next((line for line in text.splitlines() if f":{hierarchy}:" in line), "")


# -- 1. --preserve-fds hands over only the caller's fds ----------------------------------------

def _no_fd3(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `cmd` from a process that has nothing open from fd 3 up."""
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20,
                          close_fds=True)


@railcar_only
def test_exec_preserve_fds_gap_is_refused(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = runtime.create_started(make_bundle(["sleep", "60"]))
    res = _no_fd3([runtime.binary, "--root", str(runtime.root), "exec", "--preserve-fds", "1", cid,
                   "sh", "-c", "readlink /proc/self/fd/3; echo $$ > /proc/self/fd/3; cat /proc/self/cgroup"])
    assert res.returncode != 0, describe(res)
    assert "preserved-fd 0 (of 1)" in res.stderr and "fd 3 is not open" in res.stderr, describe(res)
    assert "tasks" not in res.stdout and "cgroup" not in res.stdout, describe(res)


@railcar_only
def test_run_preserve_fds_gap_is_refused_and_leaves_nothing(runtime: Runtime,
                                                            make_bundle: BundleFactory) -> None:
    b = make_bundle(sh("ls /proc/self/fd; cat /proc/self/cgroup"))
    b.config["linux"]["cgroupsPath"] = cg = f"/railcar-test/{runtime.new_id()}"
    cid = runtime.new_id()
    runtime._prepare(b, cid)
    # fd 3 open (the shell opens it), fd 4 not: a gap the runtime must not fill
    res = _no_fd3(["sh", "-c", 'exec 3</etc/hostname; exec "$@"', "sh", runtime.binary, "--root",
                   str(runtime.root), "run", "--preserve-fds", "2", "--bundle", str(b.path), cid])
    assert res.returncode == 1, describe(res)
    assert "preserved-fd 1 (of 2)" in res.stderr and "fd 4 is not open" in res.stderr, describe(res)
    assert leftovers(runtime, cid, cg) == []


def test_preserve_fds_pass_exactly_the_callers(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """With the fds open, the container gets them and nothing else, and stays in its cgroup."""
    cid = runtime.create_started(make_bundle(["sleep", "60"]))
    res = _no_fd3(["sh", "-c", 'exec 3</etc/hostname; exec "$@"', "sh", runtime.binary, "--root",
                   str(runtime.root), "exec", "--preserve-fds", "1", cid, "sh", "-c",
                   "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; readlink /proc/self/fd/3; cat /proc/self/cgroup"])
    assert res.returncode == 0, describe(res)
    fds = res.stdout.split("\n", 1)[0].split()
    assert fds[:4] == ["0", "1", "2", "3"], describe(res)
    assert "/etc/hostname" in res.stdout, describe(res)
    init_cg = Path(f"/proc/{runtime.init_pid(cid)}/cgroup").read_text()
    for line in init_cg.splitlines():
        assert line in res.stdout, f"the exec'd process left the container's cgroup {line!r}:\n{res.stdout}"


# -- 2. state is written whole or not at all ------------------------------------------------------

def _fsize_limit(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@railcar_only
def test_file_size_limit_fails_create_cleanly(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """A state that does not fit: create fails naming the file, and leaves nothing."""
    b = make_bundle(["sleep", "60"], annotations={"big": "x" * 5_000_000})
    b.config["linux"]["cgroupsPath"] = cg = f"/railcar-test/{runtime.new_id()}"
    cid = runtime.new_id()
    runtime._prepare(b, cid)
    res = subprocess.run([runtime.binary, "--root", str(runtime.root), "create", "--bundle", str(b.path), cid],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20,
                         preexec_fn=lambda: _fsize_limit(3_072_000))
    assert res.returncode == 1, describe(res)
    assert "state.json" in res.stderr and "file too large" in res.stderr, describe(res)
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    assert leftovers(runtime, cid, cg) == []
    assert runtime.run("list", "-q").returncode == 0


@railcar_only
def test_full_root_fails_with_the_path(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """A --root on a full filesystem: a clear error naming the path, nothing left."""
    from tests.conftest import host_mount

    small = runtime.workdir / "small"
    small.mkdir()
    host_mount(small, "tmpfs", "tmpfs")
    try:
        b = make_bundle(["sleep", "60"], annotations={"big": "x" * 400_000})
        subprocess.run(["mount", "-o", "remount,size=256k", str(small)], check=True)
        cid = runtime.new_id()
        runtime._prepare(b, cid)
        res = subprocess.run([runtime.binary, "--root", str(small / "state"), "create", "--bundle",
                              str(b.path), cid], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=20)
        assert res.returncode == 1, describe(res)
        assert "no space left on device" in res.stderr and str(small) in res.stderr, describe(res)
        assert "internal error" not in res.stderr
        assert not (small / "state" / cid).exists()
        assert runtime.cgroup_dirs(cid) == []
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


# -- 3. a state with many cgroup directories: no fixed array to overrun ---------------------------

@railcar_only
def test_exec_with_many_cgroup_dirs_in_state(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """20 v1 directories (more than the 16 a fixed array held): exec joins every one."""
    cid = runtime.create_started(make_bundle(["sleep", "60"]))
    st_path = runtime.root / cid / "state.json"
    data = json.loads(st_path.read_text())
    v1 = data["cgroup"]["v1"]
    base = v1.get("pids") or next(iter(v1.values()))
    subs = []
    for i in range(20):
        d = Path(base) / f"sub{i}"
        d.mkdir()
        subs.append(d)
        v1[f"extra{i}"] = str(d)
        data["cgroup"]["inodes"][str(d)] = d.stat().st_ino  # as create records what it made
    try:
        st_path.write_text(json.dumps(data))
        res = runtime.run("exec", cid, "cat", "/proc/self/cgroup", pipes=True)
        assert res.returncode == 0, describe(res)
        assert "/sub19" in res.stdout, describe(res)  # the last write into the pids hierarchy wins
        data["cgroup"]["v1"] = {f"x{i}": f"/sys/fs/cgroup/none/x{i}" for i in range(3000)}
        st_path.write_text(json.dumps(data))
        res = runtime.run("exec", cid, "true", pipes=True)
        assert res.returncode != 0 and "corrupt" in res.stderr and "64" in res.stderr, describe(res)
        assert res.returncode in (1, 255), describe(res)
    finally:
        runtime.kill(cid, "KILL", check=False)
        for d in subs:
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)


# -- 4 and 7. a create killed while it works leaves what delete --force removes whole ---------------

@railcar_only
def test_create_killed_in_a_hanging_hook_leaves_nothing(runtime: Runtime, make_bundle: BundleFactory) -> None:
    marker = f"hook-{runtime.new_id()}"
    b = make_bundle(["sleep", "60"], hooks={"prestart": [
        {"path": "/bin/sh", "args": ["sh", "-c", "sleep 1000 & sleep 1000"], "env": [f"MARK={marker}"]}]})
    b.config["linux"]["cgroupsPath"] = cg = f"/railcar-test/{runtime.new_id()}"
    cid = runtime.new_id()
    runtime._prepare(b, cid)
    p = runtime.popen("create", "--bundle", str(b.path), cid, io=cid)
    try:
        runtime.wait_until(lambda: sum(_cmdline(p).startswith(b"sleep") for p in marked(marker)) == 2,
                           what="the hook's two sleeps")
        assert runtime.cgroup_dirs(cg), "the cgroup exists while the hook runs"
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        res = runtime.delete(cid, force=True, check=False)
        assert res.returncode == 0, describe(res)
        runtime.wait_until(lambda: not marked(marker), timeout=5, what="the hook's processes to be gone")
        assert leftovers(runtime, cid, cg) == []
    finally:
        for pid in marked(marker):
            os.kill(pid, signal.SIGKILL)


@railcar_only
def test_create_killed_before_its_first_save(runtime: Runtime) -> None:
    """A state dir with no state.json (killed right after claiming the id): delete --force
    removes it, create of the id works again."""
    (runtime.root / "half").mkdir(parents=True)
    (runtime.root / "half" / "state.json.123.tmp").write_text("{")
    assert runtime.run("list", "-q").stdout == ""
    res = runtime.delete("half", force=True, check=False)
    assert res.returncode == 0, describe(res)
    assert not (runtime.root / "half").exists()


# -- 5. corrupt and forged state ------------------------------------------------------------------

CORRUPT = {
    "array": "[1,2]",
    "pid-string": '{"pid": "abc", "pid_start": 1, "bundle": "/x", "cgroup": null}',
    "unknown": '{"foo": [1, 2, 3]}',
    "truncated": '{"pid": 12',
    "empty": "",
}


@railcar_only
@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_state(runtime: Runtime, make_bundle: BundleFactory, kind: str) -> None:
    good = runtime.create_started(make_bundle(["sleep", "60"]))
    bad = runtime.create_started(make_bundle(["sleep", "60"]))
    bad_pid = runtime.init_pid(bad)
    cg_dirs = runtime.cgroup_dirs(bad)
    assert cg_dirs
    (runtime.root / bad / "state.json").write_text(CORRUPT[kind])
    res = runtime.run("list", "--format", "json", pipes=True)
    assert res.returncode == 0, describe(res)
    assert [e["id"] for e in json.loads(res.stdout)] == [good], describe(res)
    assert bad in res.stderr and "corrupt" in res.stderr, describe(res)
    # (state and kill of a live container may answer from the fast path's own file, which is intact)
    for verb in (("delete", bad), ("pause", bad), ("exec", bad, "true")):
        r = runtime.run(*verb, pipes=True)
        assert r.returncode in (1, 255) and "corrupt" in r.stderr, describe(r)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, describe(r)
    assert Path(f"/proc/{bad_pid}").exists(), "a refused verb must not have touched the container"
    res = runtime.delete(bad, force=True, check=False)
    assert res.returncode == 0, describe(res)
    runtime.wait_exit(bad_pid)
    assert not (runtime.root / bad).exists()
    assert [d for d in cg_dirs if d.exists()] == [], "delete --force left the container's cgroups"
    assert runtime.status(good) == "running"


def _sandboxed(runtime: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    """The runtime in a pid namespace of its own: were it to kill what a forged state names, it
    could reach nothing outside (a test of a refusal must not take the machine down with it)."""
    return subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", runtime.binary, "--root",
                           str(runtime.root), *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=20)


def _roots_of(v1: dict[str, str]) -> dict[str, str]:
    return {k: "/".join(v.split("/")[:5]) for k, v in v1.items()}  # /sys/fs/cgroup/<hierarchy>


@railcar_only
def test_forged_cgroup_paths_are_never_touched(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """A state whose cgroup names a hierarchy's root, a directory that is no cgroup, or another
    live cgroup: nothing there is killed or removed; delete --force still drops the state."""
    cid = runtime.create_started(make_bundle(["sleep", "60"]))
    pid = runtime.init_pid(cid)
    st_path = runtime.root / cid / "state.json"
    data = json.loads(st_path.read_text())
    real = dict(data["cgroup"]["v1"])
    pids_dir = Path(real.get("pids") or next(iter(real.values())))
    bait = Path("/".join(str(pids_dir).split("/")[:5])) / f"bait-{cid}"
    bait.mkdir()
    bystander = subprocess.Popen(["sleep", "1000"])
    try:
        (bait / "cgroup.procs").write_text(str(bystander.pid))
        data["cgroup"]["v2"] = ""
        data["pid"] = 0
        (runtime.root / cid / "fast").unlink()  # as if the fast path's file were forged too
        inodes = data["cgroup"]["inodes"]
        assert inodes, "create records the inode of each cgroup directory it made"
        # the structural checks hold without the inode record too (a create killed before it)
        cases = (({**real, **{k: str(bait) for k, v in real.items() if v == str(pids_dir)}}, inodes,
                  "another path or inode"),
                 (_roots_of(real), {}, "the root of a cgroup hierarchy"),
                 ({"x": "/etc"}, {}, "not a cgroup"))
        for v1, ino, why in cases:
            data["cgroup"]["v1"] = v1
            data["cgroup"]["inodes"] = ino
            st_path.write_text(json.dumps(data))
            res = _sandboxed(runtime, "delete", cid)
            assert res.returncode == 1 and "refusing" in res.stderr and why in res.stderr, describe(res)
            assert bystander.poll() is None and bait.is_dir() and Path(f"/proc/{pid}").exists()
        # a corrupt state: --force drops it, and touches nothing it cannot own
        data["pid"] = "forged"
        data["cgroup"]["v1"] = _roots_of(real)
        st_path.write_text(json.dumps(data))
        res = _sandboxed(runtime, "delete", "--force", cid)
        assert res.returncode == 0 and "refusing" in res.stderr, describe(res)
        assert not (runtime.root / cid).exists()
        assert bystander.poll() is None and Path(f"/proc/{pid}").exists()
    finally:
        bystander.kill()
        bystander.wait()
        for _ in range(100):
            try:
                bait.rmdir()
                break
            except OSError:
                time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        runtime.wait_exit(pid)


# -- 6. ids that begin with '.' ---------------------------------------------------------------------

@pytest.mark.parametrize("cid", [".hidden", ".cache", "@railcar"])
def test_dot_ids(runtime: Runtime, make_bundle: BundleFactory, cid: str) -> None:
    b = make_bundle(["sleep", "60"], linux={"seccomp": {"defaultAction": "SCMP_ACT_ALLOW"}})
    if cid == "@railcar":  # not an id: refused before anything is made
        res = runtime.create(b, cid, check=False)
        assert res.returncode == 1 and "invalid container id" in res.stderr, describe(res)
        return
    runtime.create(b, cid)
    res = runtime.run("list", "-q", pipes=True)
    assert res.returncode == 0 and res.stdout.split() == [cid], describe(res)
    runtime.start(cid)
    assert runtime.status(cid) == "running"
    runtime.delete(cid, force=True)
    assert runtime.run("list", "-q", pipes=True).stdout == ""
    assert not (runtime.root / cid).exists()
