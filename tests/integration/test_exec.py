"""exec: inline and --process forms, detached exec, exit status, namespaces, refusals."""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PR_SET_CHILD_SUBREAPER, BundleFactory, Runtime, describe
from tests.support.bundle import sh
from tests.support.procfs import parse_status

NAMESPACES = ("pid", "uts", "ipc", "mnt", "net")
INIT_SCRIPT = "echo written-by-init > /tmp/marker; exec sleep 60"
IN_CREATE, IN_MOVED_TO, IN_CLOSE_WRITE, IN_NONBLOCK = 0x100, 0x80, 0x8, 0o4000
_libc = ctypes.CDLL(None, use_errno=True)


def start_container(runtime: Runtime, make_bundle: BundleFactory, **overrides: object) -> str:
    """A running container (hostname execbox) whose init wrote /tmp/marker and sleeps."""
    overrides.setdefault("hostname", "execbox")
    cid = runtime.create_started(make_bundle(sh(INIT_SCRIPT), **overrides))
    runtime.wait_until(
        lambda: (runtime.workdir / "bundle0/rootfs/tmp/marker").exists(), 10, "the init to write /tmp/marker"
    )
    return cid


def exec_(runtime: Runtime, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return runtime.run("exec", *args, pipes=True, **kw)  # type: ignore[arg-type]


def test_inline_exec_output_and_exit_status(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    res = exec_(runtime, cid, "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (res.returncode, res.stdout, res.stderr) == (7, "out\n", "err\n"), describe(res)
    res = exec_(runtime, cid, "true")
    assert res.returncode == 0, describe(res)
    assert runtime.status(cid) == "running"


def test_inline_exec_stdin(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    res = exec_(runtime, cid, "cat", input="to exec stdin\n")
    assert (res.returncode, res.stdout) == (0, "to exec stdin\n"), describe(res)


def test_inline_exec_user_env_cwd(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    script = "id -u; id -g; echo FOO=$FOO; echo BAR=$BAR; pwd; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status"
    opts = ["-e", "FOO=bar baz", "-e", "BAR=1", "-u", "1000:1000", "--cwd", "/home/tester"]
    res = exec_(runtime, *opts, cid, "sh", "-c", script)
    assert res.returncode == 0, describe(res)
    lines = res.stdout.splitlines()
    assert lines[:5] == ["1000", "1000", "FOO=bar baz", "BAR=1", "/home/tester"], res.stdout
    st = parse_status("\n".join(lines[5:]))
    assert st["CapEff"] == "0000000000000000"  # non-root, no ambient caps for exec by default
    assert st["NoNewPrivs"] == "1"  # inherited from the container's process.noNewPrivileges


def test_inline_exec_uid_only(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    res = exec_(runtime, "-u", "1000", cid, "sh", "-c", "id -u; id -g")
    assert (res.returncode, res.stdout.split()) == (0, ["1000", "0"]), describe(res)


def test_exec_process_json(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    caps = ["CAP_NET_RAW", "CAP_CHOWN"]
    process = {
        "terminal": False,
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [29]},
        "args": ["sh", "-c", "pwd; echo $GREETING; id -G; cat /proc/self/status; exit 3"],
        "env": ["PATH=/bin", "GREETING=hello from process.json"],
        "cwd": "/tmp",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps,
                         "ambient": ["CAP_NET_RAW"]},
        "noNewPrivileges": False,
    }
    pj = runtime.workdir / "process.json"
    pj.write_text(json.dumps(process))
    res = exec_(runtime, "--process", str(pj), cid)
    assert res.returncode == 3, describe(res)
    pwd, greeting, groups, status = res.stdout.split("\n", 3)
    assert (pwd, greeting) == ("/tmp", "hello from process.json")
    assert set(groups.split()) == {"1000", "29"}
    st = parse_status(status)
    assert st["Uid"] == "1000 1000 1000 1000"
    assert st["CapBnd"] == f"{(1 << 13) | (1 << 0):016x}"
    assert (st["CapAmb"], st["CapEff"], st["CapPrm"]) == (f"{1 << 13:016x}",) * 3
    assert st["NoNewPrivs"] == "0"


def test_exec_sees_container_namespaces_and_files(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    init = runtime.init_pid(cid)
    script = "hostname; cat /tmp/marker; test -d /proc/1 && echo HAS-PID1; echo $$; " + "; ".join(
        f"readlink /proc/self/ns/{ns}" for ns in NAMESPACES
    )
    res = exec_(runtime, cid, "sh", "-c", script)
    assert res.returncode == 0, describe(res)
    lines = res.stdout.splitlines()
    assert lines[:3] == ["execbox", "written-by-init", "HAS-PID1"], res.stdout
    assert 1 < int(lines[3]) < 100  # a small pid: inside the container's pid namespace
    assert lines[4:] == [os.readlink(f"/proc/{init}/ns/{ns}") for ns in NAMESPACES]
    res = exec_(runtime, cid, "ps", "-o", "pid,comm")
    pids = [int(row.split()[0]) for row in res.stdout.splitlines()[1:]]
    assert 1 in pids and max(pids) < 100, res.stdout


def test_exec_writes_visible_to_container(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    exec_(runtime, cid, "sh", "-c", "echo from-exec > /tmp/from-exec", check=True)
    assert (runtime.workdir / "bundle0/rootfs/tmp/from-exec").read_text() == "from-exec\n"


class Inotify:
    def __init__(self, directory: Path) -> None:
        self.fd = _libc.inotify_init1(IN_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        assert _libc.inotify_add_watch(self.fd, str(directory).encode(), IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) >= 0

    def events(self) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return out
        off = 0
        while off < len(data):
            _, mask, _, ln = struct.unpack_from("iIII", data, off)
            name = data[off + 16 : off + 16 + ln].rstrip(b"\0").decode()
            out.append((mask, name))
            off += 16 + ln
        return out

    def close(self) -> None:
        os.close(self.fd)


def test_detached_exec_pid_file_and_reaping(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # The caller is a child subreaper (conftest sets it for the session; make sure here too).
    assert _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    cid = start_container(runtime, make_bundle)
    piddir = runtime.workdir / "piddir"
    piddir.mkdir()
    pidfile = piddir / "exec.pid"
    watch = Inotify(piddir)
    try:
        t0 = time.monotonic()
        res = runtime.run("exec", "--detach", "--pid-file", str(pidfile), cid, "sh", "-c", "sleep 1; exit 5")
        assert res.returncode == 0, describe(res)
        assert time.monotonic() - t0 < 1.0, "exec --detach waited for the process"
        events = watch.events()
    finally:
        watch.close()
    text = pidfile.read_text()
    assert text.strip().isdigit(), repr(text)
    pid = int(text)
    # atomic: the final name appears by rename, never created and written in place
    assert (IN_MOVED_TO, "exec.pid") in events, events
    assert not any(m & (IN_CREATE | IN_CLOSE_WRITE) and n == "exec.pid" for m, n in events), events
    assert os.listdir(piddir) == ["exec.pid"]
    st = parse_status(Path(f"/proc/{pid}/status").read_text())
    assert int(st["PPid"]) == os.getpid(), "the detached process was not reparented to the subreaper"
    assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink(f"/proc/{runtime.init_pid(cid)}/ns/pid")
    assert os.path.samefile(f"/proc/{pid}/root", runtime.workdir / "bundle0/rootfs")
    assert runtime.wait_exit(pid, timeout=10) == 5
    assert runtime.status(cid) == "running"


def test_detached_exec_with_process_json(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    pj = runtime.workdir / "process.json"
    pj.write_text(json.dumps({"args": ["sh", "-c", "echo detached-ran > /tmp/d; exit 4"], "cwd": "/",
                              "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}))
    pidfile = runtime.workdir / "exec.pid"
    res = runtime.run("exec", "--process", str(pj), "--detach", "--pid-file", str(pidfile), cid)
    assert res.returncode == 0, describe(res)
    assert runtime.wait_exit(int(pidfile.read_text()), timeout=10) == 4
    assert (runtime.workdir / "bundle0/rootfs/tmp/d").read_text() == "detached-ran\n"


def test_exec_into_paused_container_fails(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    runtime.run("pause", cid, check=True)
    try:
        res = exec_(runtime, cid, "true")
        assert res.returncode == 255, describe(res)
        assert "cannot exec in a paused container" in res.stderr, describe(res)
    finally:
        runtime.run("resume", cid, check=True)
    assert exec_(runtime, cid, "true").returncode == 0


def test_exec_into_stopped_container_fails(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = runtime.create_started(make_bundle(["true"]))
    runtime.wait_exit(runtime.init_pid(cid))
    runtime.wait_status(cid, "stopped")
    res = exec_(runtime, cid, "true")
    assert res.returncode == 255, describe(res)  # the runtime failed, not the process
    # INTERFACE.md's text; runc 1.1.5 says "cannot exec in a stopped container"
    text = "container not running" if runtime.is_railcar else "cannot exec in a stopped container"
    assert text in res.stderr, describe(res)


def test_exec_unknown_container(runtime: Runtime) -> None:
    res = exec_(runtime, "no-such-container", "true")
    assert res.returncode != 0
    assert "container does not exist" in res.stderr, describe(res)


def test_exec_missing_executable(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    res = exec_(runtime, cid, "no-such-program")
    assert res.returncode != 0
    assert "executable file not found in $PATH" in res.stderr and "no-such-program" in res.stderr, describe(res)
    assert runtime.status(cid) == "running"


def test_exec_leaked_fd_closed(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    leak = os.open("/", os.O_RDONLY | os.O_DIRECTORY)  # a host directory: the CVE-2024-21626 shape
    try:
        script = "ls /proc/self/fd | tr '\\n' ' '; (cat <&3) 2>/dev/null || echo CLOSED"
        res = runtime.run("exec", cid, "sh", "-c", script, pipes=True, fds={3: leak, 5: leak})
    finally:
        os.close(leak)
    assert res.returncode == 0, describe(res)
    assert res.stdout.splitlines() == ["0 1 2 3 CLOSED"], res.stdout  # ls's own directory fd is 3


def host_binaries() -> set[tuple[int, int]]:
    """(dev, ino) of the runtime binary and of python interpreters on the host."""
    from tests.conftest import RUNTIME

    out = set()
    for p in {RUNTIME, os.path.realpath(RUNTIME), os.path.realpath("/proc/self/exe"), "/usr/bin/python3.11"}:
        try:
            st = os.stat(p)
        except OSError:
            continue
        out.add((st.st_dev, st.st_ino))
    return out


def test_exec_process_exe_is_not_host_binary(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    pidfile = runtime.workdir / "exec.pid"
    runtime.run("exec", "--detach", "--pid-file", str(pidfile), cid, "sleep", "30", check=True)
    pid = int(pidfile.read_text())
    bad = host_binaries()
    pidns = os.readlink(f"/proc/{pid}/ns/pid")
    from tests.support.procfs import pids_in_pidns

    seen = {}
    for p in pids_in_pidns(pidns):
        st = os.stat(f"/proc/{p}/exe")
        seen[p] = os.readlink(f"/proc/{p}/exe")
        assert (st.st_dev, st.st_ino) not in bad, f"pid {p} runs a host binary: {seen[p]}"
    assert seen[pid] == "/bin/busybox", seen
    os.kill(pid, 9)
    runtime.wait_exit(pid)


@pytest.mark.slow
def test_exec_shebang_proc_self_exe(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """CVE-2019-5736: an exec target `#!/proc/self/exe` must not hand the container the runtime's binary.
    An attacker in the container grabs every /proc/N/exe it can open; none may be a host binary."""
    b = make_bundle(sh(INIT_SCRIPT), hostname="execbox")
    write_attacker(b.rootfs)
    cid = runtime.create_started(b)
    runtime.wait_until(lambda: (b.rootfs / "tmp/marker").exists(), 10, "init")
    runtime.run("exec", "--detach", cid, "sh", "/attack.sh", check=True)
    runtime.wait_until(lambda: (b.rootfs / "tmp/attacker-ready").exists(), 10, "attacker")
    for _ in range(5):
        exec_(runtime, cid, "/evil", timeout=20)  # whatever it does, it must not expose the runtime binary
    (b.rootfs / "tmp/stop").write_text("")
    runtime.wait_until(lambda: (b.rootfs / "tmp/attacker-done").exists(), 20, "attacker to finish")
    check_attacker_report(b.rootfs)


ATTACK = r"""
touch /tmp/attacker-ready
while [ ! -e /tmp/stop ]; do
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    { echo "$(stat -L -c '%d %i' /proc/self/fd/7) $(readlink $p/exe)" >> /tmp/seen; } 2>/dev/null 7<$p/exe
  done
done
touch /tmp/attacker-done
"""


def write_attacker(rootfs: Path) -> None:
    (rootfs / "evil").write_text("#!/proc/self/exe\n")
    (rootfs / "evil").chmod(0o755)
    (rootfs / "attack.sh").write_text(ATTACK)


def check_attacker_report(rootfs: Path, require_seen: bool = True) -> None:
    seen = (rootfs / "tmp/seen").read_text() if (rootfs / "tmp/seen").exists() else ""
    bad = host_binaries()
    grabbed = set()
    for line in seen.splitlines():
        dev, ino, *target = line.split()
        # stat -L inside the container reports the device number in decimal (st_dev)
        if dev.isdigit() and (int(dev), int(ino)) in bad:
            grabbed.add(" ".join(target))
    assert "/bin/busybox" in seen or not require_seen, f"the attacker saw nothing (test not effective): {seen!r}"
    assert not grabbed, f"the container opened a host binary through /proc/N/exe: {grabbed}\n{seen}"


@pytest.mark.railcar_only  # runc 1.1.5 only fails at the execve, with another text
def test_exec_process_json_with_a_nul_is_refused(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    pj = runtime.workdir / "process.json"
    pj.write_text(json.dumps({"args": ["ec\0ho", "x"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}))
    res = exec_(runtime, "--process", str(pj), cid)
    assert res.returncode == 255, describe(res)
    assert "process.args[0]: must not contain a NUL" in res.stderr and "Traceback" not in res.stderr, describe(res)
    assert runtime.status(cid) == "running"


@pytest.mark.parametrize("flag, lsm, field", [("--apparmor", "/sys/module/apparmor/parameters/enabled",
                                                "process.apparmorProfile"),
                                               ("--process-label", "/sys/fs/selinux/enforce", "process.selinuxLabel")])
def test_exec_lsm_flag_never_ignored(runtime: Runtime, make_bundle: BundleFactory, flag: str, lsm: str,
                                     field: str) -> None:
    """Where the host has no such LSM, asking for a profile or label is an error, not a no-op."""
    if Path(lsm).exists() and (not lsm.endswith("enabled") or Path(lsm).read_text().strip() == "Y"):
        pytest.skip(f"the host has this LSM ({lsm}): a real profile would be needed")
    cid = start_container(runtime, make_bundle)
    res = exec_(runtime, flag, "no-such-profile", cid, "true")
    assert res.returncode == 255, describe(res)
    if runtime.is_railcar:
        assert field in res.stderr and "no-such-profile" in res.stderr, describe(res)


def test_exec_cap_never_inheritable(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """CVE-2022-29162: --cap goes to the bounding, effective and permitted sets, never inheritable
    (nor ambient, which needs inheritable): a non-root user does not get it through its execs."""
    cid = start_container(runtime, make_bundle)
    for user in ("0:0", "1000:1000"):
        res = exec_(runtime, "--cap", "CAP_SYS_ADMIN", "-u", user, cid, "cat", "/proc/self/status")
        assert res.returncode == 0, describe(res)
        st = {k: v for k, _, v in (ln.partition(":\t") for ln in res.stdout.splitlines())}
        assert st["CapInh"] == st["CapAmb"] == "0" * 16, (user, st)
        if user == "1000:1000":
            assert st["CapEff"] == "0" * 16, st


def test_exec_additional_gids_added_to_the_process_own(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle, process={"user": {"uid": 0, "gid": 0, "additionalGids": [7]}})
    res = exec_(runtime, "-u", "1000:1000", "--additional-gids", "9", cid, "cat", "/proc/self/status")
    assert res.returncode == 0, describe(res)
    groups = next(ln for ln in res.stdout.splitlines() if ln.startswith("Groups:")).split()[1:]
    assert sorted(groups) == ["7", "9"]


def test_exec_keeps_double_dash_in_the_command(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """`--` after the command is the command's own word; before it, the end of the options."""
    cid = start_container(runtime, make_bundle)
    res = exec_(runtime, cid, "sh", "-c", 'echo "$#" "$@"', "argv0", "a", "--", "b")
    assert res.returncode == 0 and res.stdout == "3 a -- b\n", describe(res)
    if runtime.is_railcar:  # runc runs a program named "--"
        res = exec_(runtime, cid, "--", "echo", "x", "--", "y")
        assert res.returncode == 0 and res.stdout == "x -- y\n", describe(res)


def test_boolean_flags_take_go_values(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """--flag=true / =false, as Go's flag package reads them (engines' runtimeArgs do this)."""
    cid = start_container(runtime, make_bundle)
    res = runtime.run("--debug=false", "exec", "--detach=false", cid, "echo", "ok", pipes=True)
    assert res.returncode == 0 and res.stdout == "ok\n", describe(res)
    res = runtime.run("exec", "--detach=maybe", cid, "true", pipes=True)
    assert res.returncode != 0


# exec's cwd comes from --cwd, from the --process file, or from the container's config.json: an error
# names the one it came from (runc 1.1.5 says "set in config.json" whatever the source)
CWD_CASES = {
    "cwd-missing": ("--cwd", "/nope", "no such file or directory",
                    'chdir to cwd ("/nope") given by --cwd: no such file or directory'),
    "cwd-not-a-directory": ("--cwd", "/bin/sh", "not a directory",
                            'chdir to cwd ("/bin/sh") given by --cwd: not a directory'),
    "cwd-relative": ("--cwd", "rel", "absolute path", '--cwd: must be an absolute path, got "rel"'),
    "process-json-cwd-missing": ("-p", "/nope", "no such file or directory",
                                 'chdir to cwd ("/nope") set in {pj}: no such file or directory'),
    "process-json-cwd-relative": ("-p", "rel", "absolute path", '{pj}: process.cwd: must be an absolute path'),
}


@pytest.mark.parametrize("case", list(CWD_CASES))
def test_exec_cwd_error_names_its_source(runtime: Runtime, make_bundle: BundleFactory, case: str) -> None:
    how, cwd, hint, railcar_says = CWD_CASES[case]
    cid = start_container(runtime, make_bundle)
    pj = runtime.workdir / "process.json"
    if how == "-p":
        pj.write_text(json.dumps({"args": ["true"], "cwd": cwd, "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}))
        res = exec_(runtime, "--process", str(pj), cid)
    else:
        res = exec_(runtime, "--cwd", cwd, cid, "true")
    assert res.returncode == 255, describe(res)
    assert hint in res.stderr.lower(), describe(res)
    if runtime.is_railcar:
        assert railcar_says.replace("{pj}", str(pj)) in res.stderr, describe(res)
        assert "config.json" not in res.stderr and "Traceback" not in res.stderr, describe(res)
    assert runtime.status(cid) == "running"


def test_exec_cwd_from_the_config_still_names_config_json(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle, process={"cwd": "/tmp/gone"})
    (runtime.workdir / "bundle0/rootfs/tmp/gone").rmdir()
    res = exec_(runtime, cid, "true")
    assert res.returncode == 255, describe(res)
    assert "/tmp/gone" in res.stderr and "set in config.json" in res.stderr, describe(res)  # runc: \"/tmp/gone\"


@pytest.mark.railcar_only  # runc 1.1.5 starts the program, which dies of the limit (exit 139)
def test_exec_rlimit_as_too_small_is_named(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = start_container(runtime, make_bundle)
    pj = runtime.workdir / "process.json"
    pj.write_text(json.dumps({"args": ["true"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0},
                              "rlimits": [{"type": "RLIMIT_AS", "soft": 65536, "hard": 65536}]}))
    res = exec_(runtime, "--process", str(pj), cid)
    assert res.returncode == 255, describe(res)
    assert "container process exited before it was ready: killed by" in res.stderr, describe(res)
    assert "(process.rlimits RLIMIT_AS 65536 is too small?)" in res.stderr, describe(res)
    assert runtime.status(cid) == "running"


def test_exec_gets_the_containers_oom_score_adj(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """As runc: every exec'd process gets the container's process.oomScoreAdj, not its caller's
    (the kubelet's shims run at -998: probes would be the last the OOM killer picks)."""
    b = make_bundle(["sleep", "60"])
    b.config["process"]["oomScoreAdj"] = 500
    cid = runtime.create_started(b)
    res = subprocess.run(["sh", "-c", 'echo 1 > /proc/self/oom_score_adj; exec "$@"', "sh", runtime.binary,
                          "--root", str(runtime.root), "exec", cid, "cat", "/proc/self/oom_score_adj"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert res.returncode == 0 and res.stdout.strip() == "500", (res.returncode, res.stdout, res.stderr)
