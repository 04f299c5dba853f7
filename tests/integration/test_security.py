"""Security, seen from inside containers: capabilities, no_new_privs, seccomp (actions, arguments,
Docker's profile, notify, the cache), CVE-2019-5736, leaked fds, symlinked mount targets, masks."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, BundleFactory, RunIn, Runtime, describe, host_mountpoints, reference_gap
from tests.integration.test_exec import check_attacker_report, host_binaries, write_attacker
from tests.support.bundle import sh
from tests.support.procfs import parse_status
from tests.support.unixsock import FdReceiver, read_until

CAP_BITS = {"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_ADMIN": 12,
            "CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21, "CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29}
SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")
STATUS_KEY = {"bounding": "CapBnd", "effective": "CapEff", "permitted": "CapPrm", "inheritable": "CapInh",
              "ambient": "CapAmb"}
DOCKER_PROFILE = REPO / "tests/data/docker-default-seccomp.json"


def mask(caps: list[str]) -> str:
    return f"{sum(1 << CAP_BITS[c] for c in caps):016x}"


# (uid, the process.capabilities sets, what /proc/self/status must show after execve of busybox:
#  a file without file capabilities, so for uid != 0 permitted = effective = ambient; for uid 0 the
#  kernel grants permitted = effective = bounding | inheritable)
CAP_CASES: dict[str, tuple[int, dict[str, list[str]], dict[str, list[str]]]] = {
    "uid1000-ambient-net-raw": (
        1000,
        {"bounding": ["CAP_NET_RAW", "CAP_KILL", "CAP_CHOWN", "CAP_SETUID"],
         "effective": ["CAP_NET_RAW", "CAP_KILL"], "permitted": ["CAP_NET_RAW", "CAP_CHOWN", "CAP_KILL"],
         "inheritable": ["CAP_NET_RAW", "CAP_CHOWN"], "ambient": ["CAP_NET_RAW"]},
        {"bounding": ["CAP_NET_RAW", "CAP_KILL", "CAP_CHOWN", "CAP_SETUID"], "effective": ["CAP_NET_RAW"],
         "permitted": ["CAP_NET_RAW"], "inheritable": ["CAP_NET_RAW", "CAP_CHOWN"], "ambient": ["CAP_NET_RAW"]},
    ),
    "uid1000-no-ambient": (
        1000,
        {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
         "inheritable": [], "ambient": []},
        {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": [], "permitted": [], "inheritable": [], "ambient": []},
    ),
    "root-equal-sets": (
        0,
        {k: ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_MKNOD"] for k in SETS},
        {k: ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_MKNOD"] for k in SETS},
    ),
    "root-narrow-bounding": (
        0,
        {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
         "inheritable": [], "ambient": []},
        # root would gain the whole bounding set at execve, but no_new_privs caps it at the old permitted
        {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
         "permitted": ["CAP_KILL"], "inheritable": [], "ambient": []},
    ),
    "root-none": (0, {k: [] for k in SETS}, {k: [] for k in SETS}),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CAP_CASES))
def test_capability_sets(run_in: RunIn, case: str) -> None:
    uid, caps, want = CAP_CASES[case]
    st = parse_status(run_in(["cat", "/proc/self/status"], process={"user": {"uid": uid, "gid": uid},
                                                                   "capabilities": caps}).stdout)
    got = {k: st[STATUS_KEY[k]] for k in SETS}
    assert got == {k: mask(v) for k, v in want.items()}


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(run_in: RunIn, nnp: bool) -> None:
    st = parse_status(run_in(["cat", "/proc/self/status"], process={"noNewPrivileges": nnp}).stdout)
    assert st["NoNewPrivs"] == ("1" if nnp else "0")


# --- seccomp --------------------------------------------------------------------------------------
def profile(*rules: dict[str, Any], default: str = "SCMP_ACT_ALLOW", **extra: Any) -> dict[str, Any]:
    return {"defaultAction": default, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": list(rules), **extra}


def rule(names: list[str], action: str, **extra: Any) -> dict[str, Any]:
    return {"names": names, "action": action, **extra}


MKDIR_ENOSYS = profile(rule(["mkdir", "mkdirat"], "SCMP_ACT_ERRNO", errnoRet=38))


def test_seccomp_errno_with_errno_ret(run_in: RunIn) -> None:
    script = "mkdir /tmp/blocked; echo rc=$?; touch /tmp/allowed && echo touched"
    res = run_in(sh(script), linux={"seccomp": MKDIR_ENOSYS})
    assert "Function not implemented" in res.stderr, describe(res)
    assert res.stdout.splitlines() == ["rc=1", "touched"]


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS"])
def test_seccomp_kill(run_in: RunIn, action: str) -> None:
    # not uname: static glibc calls it at startup. sethostname is checked by seccomp before capabilities.
    res = run_in(sh("(hostname x); echo rc=$?"), linux={"seccomp": profile(rule(["sethostname"], action))})
    assert res.stdout == "rc=159\n", describe(res)  # the subshell died of SIGSYS (31)


def test_seccomp_kill_entrypoint(run_in: RunIn) -> None:
    run_in(["hostname", "x"], linux={"seccomp": profile(rule(["sethostname"], "SCMP_ACT_KILL"))}, expect=159)


def test_seccomp_trap_can_be_caught(run_in: RunIn) -> None:
    # umask(2) runs in the shell itself: SIGSYS is delivered to it and its trap runs
    script = "trap 'echo TRAPPED' SYS; umask 077; echo after"
    res = run_in(sh(script), linux={"seccomp": profile(rule(["umask"], "SCMP_ACT_TRAP"))})
    assert res.stdout.split() == ["TRAPPED", "after"], describe(res)


def test_seccomp_log_allows(run_in: RunIn) -> None:
    sc = profile(rule(["mkdir", "mkdirat"], "SCMP_ACT_LOG"))
    res = run_in(sh("mkdir /tmp/logged && echo made"), linux={"seccomp": sc})
    assert res.stdout == "made\n"


def test_seccomp_argument_rule(run_in: RunIn) -> None:
    # umask(0o077) is refused, any other mask is allowed
    args = [{"index": 0, "value": 0o077, "op": "SCMP_CMP_EQ"}]
    sc = profile(rule(["umask"], "SCMP_ACT_ERRNO", args=args, errnoRet=1))
    res = run_in(sh("umask 077; umask; umask 027; umask"), linux={"seccomp": sc})
    assert res.stdout.split() == ["0022", "0027"], describe(res)


def test_seccomp_default_errno_allowlist(run_in: RunIn) -> None:
    # a default ERRNO with an allow-list: what is not listed fails with defaultErrnoRet
    sc = json.loads(DOCKER_PROFILE.read_text())
    for r in sc["syscalls"]:
        r["names"] = [n for n in r["names"] if n not in ("mkdir", "mkdirat")]
    sc["syscalls"] = [r for r in sc["syscalls"] if r["names"]]
    sc["defaultErrnoRet"] = 13
    res = run_in(sh("mkdir /tmp/x; echo rc=$?"), linux={"seccomp": sc})
    assert "Permission denied" in res.stderr and res.stdout == "rc=1\n", describe(res)


def test_docker_default_profile_runs_shell(run_in: RunIn) -> None:
    sc = json.loads(DOCKER_PROFILE.read_text())
    script = "echo hello; mkdir /tmp/d && ls -d /tmp/d; cat /etc/passwd | wc -l; id -u; ps | wc -l >/dev/null; echo ok"
    res = run_in(sh(script), linux={"seccomp": sc})
    assert res.stdout.split() == ["hello", "/tmp/d", "3", "0", "ok"], describe(res)


def test_seccomp_notify_listener(runtime: Runtime, make_bundle: BundleFactory) -> None:
    agent = FdReceiver(runtime.workdir / "agent.sock")
    try:
        sc = profile(rule(["mkdir", "mkdirat"], "SCMP_ACT_NOTIFY"), listenerPath=str(agent.path),
                     listenerMetadata="test-metadata")
        cid = runtime.new_id()
        b = make_bundle(sh("mkdir /tmp/notified; echo rc=$?"), linux={"seccomp": sc})
        runtime.create(b, cid)
        fd = agent.wait()
        assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:seccomp notify"
        agent.join()
        if agent.data:
            st = json.loads(agent.data)
            assert st["fds"] == ["seccompFd"], st
            assert st["metadata"] == "test-metadata", st
            assert st["state"]["id"] == cid and st["state"]["bundle"] == str(b.path), st
            assert st["pid"] == runtime.init_pid(cid) or st["state"]["pid"] == runtime.init_pid(cid), st
        agent.close()  # no agent: the notified syscall fails (ENOSYS) instead of hanging
        runtime.start(cid)
        runtime.wait_output(cid, "rc=")
        assert runtime.output(cid) == "rc=1\n"
        runtime.wait_exit(runtime.init_pid(cid))
    finally:
        agent.close()


def cache_entries(runtime: Runtime) -> list[Path]:
    d = runtime.root / "@railcar/cache/seccomp"
    return sorted(p for p in d.rglob("*") if p.is_file()) if d.is_dir() else []


def timed_run(runtime: Runtime, make_bundle: BundleFactory, sc: dict[str, Any], args: list[str]) -> tuple[float, str]:
    b = make_bundle(args, linux={"seccomp": sc})
    t0 = time.monotonic()
    res = runtime.run_container(b)
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, describe(res)
    return elapsed, res.stdout


@pytest.mark.railcar_only
def test_seccomp_cache_warm_reuses_the_compiled_filter(
    runtime: Runtime, make_bundle: BundleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile is compiled once: the first run compiles it (the compiler is imported) and stores
    the filter; the next run reads it back (no compiler import, the entry not rewritten). Not a
    timing: the cold path is as fast as a warm one for the profiles railcar emits itself."""
    sc = json.loads(DOCKER_PROFILE.read_text())
    monkeypatch.setenv("RAILCAR_IMPORTTIME", "1")
    for p in cache_entries(runtime):
        p.unlink()
    cold = runtime.run_container(make_bundle(["true"], linux={"seccomp": sc}))
    assert cold.returncode == 0, describe(cold)
    assert "railcar.seccomp.compiler" in cold.stderr, "the cold run did not compile the profile"
    entries = cache_entries(runtime)
    assert entries, f"no cache entry under {runtime.root / '@railcar/cache/seccomp'}"
    before = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in entries]
    warm = runtime.run_container(make_bundle(["true"], linux={"seccomp": sc}))
    assert warm.returncode == 0, describe(warm)
    assert "railcar.seccomp.compiler" not in warm.stderr, "the warm run compiled the profile again"
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in cache_entries(runtime)] == before


@pytest.mark.railcar_only
@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_seccomp_corrupted_cache_rebuilt(runtime: Runtime, make_bundle: BundleFactory, damage: str) -> None:
    args = sh("mkdir /tmp/blocked; echo rc=$?")
    _, out = timed_run(runtime, make_bundle, MKDIR_ENOSYS, args)
    assert out == "rc=1\n"
    entries = cache_entries(runtime)
    assert entries
    bad = {}
    for p in entries:
        data = p.read_bytes()
        bad[p] = {"garbage": os.urandom(len(data)), "truncated": data[: len(data) // 2 - 3], "empty": b""}[damage]
        p.write_bytes(bad[p])
    b = make_bundle(args, linux={"seccomp": MKDIR_ENOSYS})
    res = runtime.run_container(b)
    assert (res.returncode, res.stdout) == (0, "rc=1\n"), describe(res)  # still runs, still filtered
    assert "Function not implemented" in res.stderr
    now = cache_entries(runtime)
    assert now and all(p.read_bytes() != bad.get(p) for p in now), "the corrupted entry was not rebuilt"


# --- CVE-2019-5736 and /proc/<pid>/exe --------------------------------------------------------------
def test_pid1_exe_is_not_host_binary(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = runtime.create_started(make_bundle(["sleep", "30"]))
    pid = runtime.init_pid(cid)
    bad = host_binaries()
    st = os.stat(f"/proc/{pid}/exe")
    target = os.readlink(f"/proc/{pid}/exe")
    assert (st.st_dev, st.st_ino) not in bad, target
    if runtime.is_railcar:
        assert target.startswith("/memfd:railcar-init"), target
    else:
        assert target == "/bin/busybox", target


@pytest.mark.slow
@reference_gap("Debian's runc 1.1.5 lets the container open /proc/N/exe = the host's /usr/sbin/runc")
def test_entrypoint_shebang_proc_self_exe(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b = make_bundle(["/evil"])
    write_attacker(b.rootfs)
    cid = runtime.new_id()
    runtime.create(b, cid)
    # the attacker joins the created container before its entrypoint runs
    runtime.run("exec", "--detach", cid, "sh", "/attack.sh", check=True)
    runtime.wait_until(lambda: (b.rootfs / "tmp/attacker-ready").exists(), 10, "attacker")
    runtime.start(cid, check=False)  # whatever /evil does, it must not expose the runtime binary
    time.sleep(1.0)
    (b.rootfs / "tmp/stop").write_text("")
    # the attacker finishes, or dies with the container's pid 1 (we reap it: it was reparented to us,
    # and the exiting pid 1 waits in zap_pid_ns_processes until it is reaped)
    def finished() -> bool:
        runtime.reap_zombies()
        return (b.rootfs / "tmp/attacker-done").exists() or runtime.try_status(cid) == "stopped"

    runtime.wait_until(finished, 20, "attacker to finish")
    check_attacker_report(b.rootfs, require_seen=False)


# --- fds, mounts, masks -----------------------------------------------------------------------------
def test_leaked_fd_not_visible(runtime: Runtime, make_bundle: BundleFactory) -> None:
    leak = os.open("/", os.O_RDONLY | os.O_DIRECTORY)  # a host directory fd without CLOEXEC
    try:
        script = "ls /proc/self/fd | tr '\\n' ' '; echo; readlink /proc/self/cwd"
        res = runtime.run_container(make_bundle(sh(script)), fds={3: leak})
    finally:
        os.close(leak)
    assert res.returncode == 0, describe(res)
    lines = res.stdout.splitlines()
    assert lines[:2] == ["0 1 2 3 ", "/"], describe(res)  # fd 3 is ls's own directory


@pytest.mark.parametrize("link", ["/", "../../../../../../../..", "/tmp/../"])
def test_symlinked_mount_target_stays_in_rootfs(runtime: Runtime, make_bundle: BundleFactory, link: str) -> None:
    name = f"escape-{secrets.token_hex(4)}"
    src = runtime.workdir / "src"
    src.mkdir()
    (src / "marker").write_text("bound")
    b = make_bundle(sh(f"cat /tmp/{name}/marker"))
    (b.rootfs / "link").symlink_to(link)
    b.add_mount(f"/link/tmp/{name}", "bind", str(src), ["rbind", "ro"])
    before = host_mountpoints()
    res = runtime.run_container(b)
    assert host_mountpoints() == before
    assert not Path(f"/tmp/{name}").exists(), "the runtime created the mount target on the host"
    assert (res.returncode, res.stdout) == (0, "bound"), describe(res)
    assert (b.rootfs / "tmp" / name).is_dir()


def test_masked_directory_empty_and_readonly(run_in: RunIn, make_bundle: BundleFactory, runtime: Runtime) -> None:
    b = make_bundle(sh("ls -A /secretdir | wc -l; touch /secretdir/new 2>&1; echo rc=$?; "
                       "cat /secretfile; echo; stat -c %t,%T /secretfile; "
                       "grep ' /secretdir ' /proc/self/mountinfo"))
    (b.rootfs / "secretdir").mkdir()
    (b.rootfs / "secretdir/key").write_text("top secret")
    (b.rootfs / "secretfile").write_text("also secret")
    b.config["linux"]["maskedPaths"] = ["/secretdir", "/secretfile"]
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    lines = res.stdout.splitlines()
    assert lines[0].strip() == "0"
    assert "Read-only file system" in lines[1] and lines[2] == "rc=1", lines
    assert lines[3:5] == ["", "1,3"], lines  # /dev/null
    mi = lines[5].split()
    assert mi[5].split(",")[0] == "ro" and "tmpfs" in lines[5], lines[5]


@pytest.mark.railcar_only
def test_unknown_capability_fails_create(runtime: Runtime, make_bundle: BundleFactory) -> None:
    caps = {k: ["CAP_KILL", "CAP_TEST"] for k in ("bounding", "effective", "permitted")}
    cid = runtime.new_id()
    res = runtime.create(make_bundle(["true"], process={"capabilities": caps}), cid, check=False)
    assert res.returncode == 1 and "CAP_TEST" in res.stderr, describe(res)
    assert "Traceback" not in res.stderr
    assert runtime.container_dirs() == [] and runtime.stray_processes() == []


def host_lacks(bit: int) -> bool:
    return not int(parse_status(Path("/proc/self/status").read_text())["CapBnd"], 16) & (1 << bit)


@pytest.mark.railcar_only
@pytest.mark.skipif(not host_lacks(24), reason="the host has CAP_SYS_RESOURCE in its bounding set")
def test_capability_missing_on_host_clear_error(runtime: Runtime, make_bundle: BundleFactory) -> None:
    caps = {k: ["CAP_KILL", "CAP_SYS_RESOURCE"] for k in ("bounding", "effective", "permitted")}
    cid = runtime.new_id()
    res = runtime.create(make_bundle(["true"], process={"capabilities": caps}), cid, check=False)
    assert res.returncode == 1, describe(res)
    assert "CAP_SYS_RESOURCE" in res.stderr and "Traceback" not in res.stderr, describe(res)
    assert runtime.container_dirs() == [] and runtime.stray_processes() == []


def test_process_not_dumpable_until_its_exec(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # before its execve the process runs railcar's code (in init mode inside the init's memory):
    # nobody may ptrace it then, which /proc shows as root-owned /proc/PID files (the directory
    # always shows the euid); after exec they are the user's, as with any program
    cid = runtime.new_id()
    runtime.create(make_bundle(["sleep", "60"], process={"user": {"uid": 1000, "gid": 1000}}), cid)
    init = runtime.init_pid(cid)
    kids = open(f"/proc/{init}/task/{init}/children").read().split()
    procs = [int(k) for k in kids] if runtime.is_railcar else [init]
    assert procs, "no process under the init"
    for p in procs:
        assert os.stat(f"/proc/{p}/environ").st_uid == 0, p
    runtime.start(cid)
    runtime.wait_until(lambda: open(f"/proc/{procs[0]}/comm").read().strip() == "sleep", 5, "the exec")
    assert os.stat(f"/proc/{procs[0]}/environ").st_uid == 1000
    runtime.kill(cid, "KILL")
    runtime.wait_exit(init)


def test_no_capabilities_field_means_none(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """A config silent about capabilities runs with none (runc's reading), not with the runtime's."""
    b = make_bundle(["cat", "/proc/self/status"])
    del b.config["process"]["capabilities"]
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    st = parse_status(res.stdout)
    assert {k: st[STATUS_KEY[k]] for k in SETS} == {k: "0" * 16 for k in SETS}


@pytest.mark.parametrize("target", ["/proc/sys/kernel/core_pattern", "/proc/self/attr/current",
                                    "/via-link/core_pattern"])
def test_bind_into_proc_refused(runtime: Runtime, make_bundle: BundleFactory, target: str) -> None:
    """What the kernel reads from /proc must stay the kernel's (CVE-2019-16884); a symlink that
    leads into /proc is resolved first, so it does not get around the rule."""
    src = runtime.workdir / "fake"
    src.write_text("|/tmp/evil\n")
    b = make_bundle(["cat", "/proc/sys/kernel/core_pattern"])
    (b.rootfs / "via-link").symlink_to("/proc/sys/kernel")
    b.add_mount(target, "bind", str(src), ["bind"])
    cid = runtime.new_id()
    before = host_mountpoints()
    res = runtime.create(b, cid, check=False)
    assert res.returncode == 1, describe(res)
    assert "inside /proc" in res.stderr, describe(res)
    assert runtime.container_dirs() == [] and host_mountpoints() == before


def test_bind_onto_lxcfs_proc_file_allowed(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """lxcfs binds its own /proc/meminfo and friends: those few stay allowed."""
    src = runtime.workdir / "meminfo"
    src.write_text("MemTotal: 1234 kB\n")
    b = make_bundle(["head", "-1", "/proc/meminfo"])
    b.add_mount("/proc/meminfo", "bind", str(src), ["bind", "ro"])
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    assert res.stdout == "MemTotal: 1234 kB\n"


# --- railcar's init (pid 1): what it keeps ---------------------------------------------------------
# The init drops every capability but CAP_KILL (to forward signals to a process of another uid) and
# sets no_new_privs once it has cloned the process; the process keeps what its config gives it.
INIT_KEEPS = {"CapEff": mask(["CAP_KILL"]), "CapPrm": mask(["CAP_KILL"]), "CapBnd": "0" * 16,
              "CapInh": "0" * 16, "CapAmb": "0" * 16, "NoNewPrivs": "1"}
SHOW_INIT_AND_SELF = sh("cat /proc/1/status; echo ---; cat /proc/self/status")
ROOT_CAPS = ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_MKNOD", "CAP_SETUID"]
USERNS_MAPPING = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def init_and_self(text: str) -> tuple[dict[str, str], dict[str, str]]:
    init, _, me = text.partition("---\n")
    return parse_status(init), parse_status(me)


def assert_init_unprivileged(st: dict[str, str]) -> None:
    assert st["Name"] == "railcar-init", st
    assert {k: st[k] for k in INIT_KEEPS} == INIT_KEEPS
    assert st["Uid"].split() == ["0"] * 4 and st["Gid"].split() == ["0"] * 4, st


@pytest.mark.railcar_only
@pytest.mark.parametrize("userns", [False, True], ids=["host-userns", "userns"])
def test_init_drops_its_capabilities(runtime: Runtime, make_bundle: BundleFactory, userns: bool) -> None:
    # a root process with wide sets and no no_new_privs: none of the init's drop may reach it
    b = make_bundle(SHOW_INIT_AND_SELF, process={"capabilities": {k: ROOT_CAPS for k in SETS},
                                                 "noNewPrivileges": False})
    if userns:
        b.set_namespace("user")
        b.config["linux"].update(uidMappings=USERNS_MAPPING, gidMappings=USERNS_MAPPING)
        b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "cgroup"]
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    init, me = init_and_self(res.stdout)
    assert_init_unprivileged(init)
    assert {k: me[STATUS_KEY[k]] for k in SETS} == {k: mask(ROOT_CAPS) for k in SETS}
    assert me["NoNewPrivs"] == "0"


@pytest.mark.railcar_only
def test_init_of_a_terminal_container_drops_its_capabilities(runtime: Runtime, make_bundle: BundleFactory) -> None:
    recv = FdReceiver(runtime.workdir / "console.sock")
    try:
        cid = runtime.new_id()
        b = make_bundle(sh('trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done'),
                        process={"terminal": True, "user": {"uid": 1000, "gid": 1000}})
        runtime.create(b, cid, "--console-socket", str(recv.path))
        master = recv.wait()
        pid = runtime.init_pid(cid)
        assert_init_unprivileged(parse_status(Path(f"/proc/{pid}/status").read_text()))
        runtime.start(cid)
        assert b"ready" in read_until(master, b"ready")
        runtime.kill(cid, "TERM")
        assert runtime.wait_exit(pid) == 42
        os.close(master)
    finally:
        recv.close()


# kill(2) of another uid's process needs CAP_KILL: the init must still reach the process when it runs
# as user.uid 1000, or becomes another uid after the init dropped its capabilities (su execs in place)
TRAP_TERM_LOOP = 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done'
SETUID_CAPS = {k: ["CAP_SETUID", "CAP_SETGID", "CAP_KILL"] for k in ("bounding", "effective", "permitted")}


@pytest.mark.parametrize("how", ["user-uid", "su-later"])
def test_signal_reaches_a_process_of_another_uid(runtime: Runtime, make_bundle: BundleFactory, how: str) -> None:
    if how == "user-uid":
        b = make_bundle(sh(TRAP_TERM_LOOP), process={"user": {"uid": 1000, "gid": 1000}})
    else:
        b = make_bundle(sh(f"exec su tester -s /bin/sh -c '{TRAP_TERM_LOOP}'"),
                        process={"capabilities": SETUID_CAPS})
    cid = runtime.create_started(b)
    runtime.wait_output(cid, "ready")
    pid = runtime.init_pid(cid)
    runtime.kill(cid, "TERM")
    assert runtime.wait_exit(pid) == 42
    assert runtime.status(cid) == "stopped"


@pytest.mark.railcar_only
def test_unprivileged_init_reaps_orphans_of_a_non_root_process(runtime: Runtime, make_bundle: BundleFactory) -> None:
    from tests.support.procfs import ns_link, pids_in_pidns, proc_state

    b = make_bundle(sh('for i in 1 2 3; do sh -c "sleep 0.05 &"; done; echo ready; exec sleep 60'),
                    process={"user": {"uid": 1000, "gid": 1000}})
    cid = runtime.create_started(b)
    runtime.wait_output(cid, "ready")
    pid = runtime.init_pid(cid)
    time.sleep(0.5)
    pids = pids_in_pidns(ns_link("pid", pid))
    assert len(pids) == 2, pids  # the init and sleep 60: the three orphans were reaped
    assert [p for p in pids if proc_state(p) == "Z"] == []
    runtime.kill(cid, "KILL")
    assert runtime.wait_exit(pid) in (-9, 137)
