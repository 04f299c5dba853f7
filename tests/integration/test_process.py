"""The process: args, env, cwd, user, umask, rlimits, hostname, capabilities, init."""

from __future__ import annotations

import pytest

from tests.conftest import BundleFactory, RunIn, Runtime, reference_gap
from tests.support.bundle import DEFAULT_SPEC, sh
from tests.support.procfs import parse_limits, parse_status

STATUS = ["cat", "/proc/self/status"]


def status_of(run_in: RunIn, **overrides: object) -> dict[str, str]:
    return parse_status(run_in(STATUS, **overrides).stdout)


def test_args_preserved(run_in: RunIn) -> None:
    res = run_in(["printf", "[%s]", "a b", "", "c'd\"e", "$HOME"])
    assert res.stdout == "[a b][][c'd\"e][$HOME]"


def test_env(run_in: RunIn) -> None:
    env = ["PATH=/bin", "FOO=bar baz", "EMPTY=", "EQ=a=b", "HOME=/custom"]
    res = run_in(["env"], process={"env": env})
    assert sorted(res.stdout.splitlines()) == sorted(env)


@pytest.mark.parametrize("uid, home", [(0, "/root"), (1000, "/home/tester"), (4242, "/")])
def test_home_from_passwd_when_unset(run_in: RunIn, uid: int, home: str) -> None:
    res = run_in(["env"], process={"env": ["PATH=/bin"], "user": {"uid": uid, "gid": uid}})
    assert sorted(res.stdout.splitlines()) == sorted(["PATH=/bin", f"HOME={home}"])


def test_path_lookup_uses_container_path(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b = make_bundle(["hello-tool"], process={"env": ["PATH=/opt/tools:/bin"]})
    (b.rootfs / "opt/tools").mkdir(parents=True)
    (b.rootfs / "opt/tools/hello-tool").write_text("#!/bin/sh\necho tool ran from $0\n")
    (b.rootfs / "opt/tools/hello-tool").chmod(0o755)
    res = runtime.run_container(b)
    assert (res.returncode, res.stdout) == (0, "tool ran from /opt/tools/hello-tool\n"), res.stderr


def test_stdin_is_passed(runtime: Runtime, make_bundle: BundleFactory) -> None:
    res = runtime.run_container(make_bundle(["cat"]), input="through stdin\n")
    assert (res.returncode, res.stdout) == (0, "through stdin\n")


@pytest.mark.parametrize("cwd", ["/home/tester", "/does/not/exist/yet"])
def test_cwd(run_in: RunIn, cwd: str) -> None:
    assert run_in(["pwd"], process={"cwd": cwd}).stdout == f"{cwd}\n"


def test_hostname(run_in: RunIn) -> None:
    assert run_in(["hostname"], hostname="box-1").stdout == "box-1\n"


@reference_gap("runc 1.1.5 ignores the domainname field (the container sees '(none)')")
def test_domainname(run_in: RunIn) -> None:
    res = run_in(sh("hostname; cat /proc/sys/kernel/domainname"), hostname="box-1", domainname="example.org")
    assert res.stdout == "box-1\nexample.org\n"


def test_user_and_groups(run_in: RunIn) -> None:
    user = {"uid": 1000, "gid": 1000, "additionalGids": [10, 29]}
    res = run_in(sh("id; cat /proc/self/status"), process={"user": user})
    idline, status = res.stdout.split("\n", 1)
    st = parse_status(status)
    assert st["Uid"] == "1000 1000 1000 1000"
    assert st["Gid"] == "1000 1000 1000 1000"
    assert set(st["Groups"].split()) == {"10", "29"}
    assert idline.startswith("uid=1000(tester) gid=1000(tester) groups=")


def test_user_nobody_without_groups(run_in: RunIn) -> None:
    st = status_of(run_in, process={"user": {"uid": 65534, "gid": 65534}})
    assert (st["Uid"], st["Gid"], st["Groups"]) == ("65534 65534 65534 65534", "65534 65534 65534 65534", "")


@pytest.mark.parametrize("umask, want", [(None, "0022"), (0o027, "0027"), (0, "0000")])
def test_umask(run_in: RunIn, umask: int | None, want: str) -> None:
    user = {"uid": 0, "gid": 0, **({"umask": umask} if umask is not None else {})}
    res = run_in(sh("umask; grep Umask /proc/self/status"), process={"user": user})
    assert res.stdout.split() == [want, "Umask:", want]


def test_rlimits(run_in: RunIn) -> None:
    rlimits = [
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 800},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
    ]
    res = run_in(sh("ulimit -n; ulimit -Hn; cat /proc/self/limits"), process={"rlimits": rlimits})
    soft, hard, limits = res.stdout.split("\n", 2)
    assert (soft, hard) == ("512", "800")
    lim = parse_limits(limits)
    assert lim["Max open files"] == ("512", "800")
    assert lim["Max core file size"] == ("0", "4096")
    assert lim["Max processes"] == ("300", "400")


def test_default_capabilities_and_no_new_privs(run_in: RunIn) -> None:
    st = status_of(run_in)
    caps = {"CAP_AUDIT_WRITE": 29, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10}
    assert set(DEFAULT_SPEC["process"]["capabilities"]["bounding"]) == set(caps)
    mask = f"{sum(1 << b for b in caps.values()):016x}"
    assert (st["CapBnd"], st["CapEff"], st["CapPrm"]) == (mask, mask, mask)
    assert st["NoNewPrivs"] == "1"


def test_non_root_drops_effective_caps(run_in: RunIn) -> None:
    st = status_of(run_in, process={"user": {"uid": 1000, "gid": 1000}, "capabilities": {"ambient": []}})
    assert st["CapEff"] == "0000000000000000"


def test_oom_score_adj(run_in: RunIn) -> None:
    assert run_in(["cat", "/proc/self/oom_score_adj"], process={"oomScoreAdj": 123}).stdout == "123\n"


@pytest.mark.parametrize(
    "args, text",
    [
        (["no-such-program"], "executable file not found in $PATH"),
        (["/bin/no-such-program"], "no such file or directory"),
        (["/etc/passwd"], "permission denied"),
    ],
    ids=["bare-name", "path", "not-executable"],
)
def test_bad_executable_fails_at_create(
    runtime: Runtime, make_bundle: BundleFactory, args: list[str], text: str
) -> None:
    cid = runtime.new_id()
    res = runtime.create(make_bundle(args), cid, check=False)
    assert res.returncode == 1
    assert text in res.stderr and args[0] in res.stderr, res.stderr
    words = res.stderr.replace('\\"', '"')  # runc's log line escapes the quotes
    assert f'unable to start container process: exec: "{args[0]}": ' in words, res.stderr  # runc's words
    assert runtime.container_dirs() == []
    assert runtime.stray_processes() == []


def test_executable_not_run_as_directory(runtime: Runtime, make_bundle: BundleFactory) -> None:
    res = runtime.create(make_bundle(["/etc"]), runtime.new_id(), check=False)
    assert res.returncode == 1 and "/etc" in res.stderr


def test_pid_namespace_only_own_processes(run_in: RunIn) -> None:
    res = run_in(["ps", "-o", "pid,comm"])
    rows = [line.split() for line in res.stdout.splitlines()[1:]]
    assert len(rows) <= 2 + 1  # (railcar's init), the program, ps
    assert all(int(pid) <= 3 for pid, _ in rows), rows


@pytest.mark.railcar_only
def test_init_is_pid1_by_default(run_in: RunIn) -> None:
    res = run_in(sh("echo $$; cat /proc/1/comm"))
    pid, comm = res.stdout.split()
    assert pid == "2" and comm != "sh"


@pytest.mark.railcar_only
def test_no_init_runs_program_as_pid1(run_in: RunIn) -> None:
    assert run_in(sh("echo $$"), "--no-init").stdout == "1\n"


@pytest.mark.railcar_only
def test_init_forwards_exit_code_and_signal(run_in: RunIn) -> None:
    run_in(sh("exit 9"), expect=9)
    run_in(sh("kill -KILL $$"), expect=137)  # killed by a signal: 128+N like a shell


def test_sysctl_written_though_proc_sys_is_read_only(run_in: RunIn) -> None:
    # docker's config has both: the sysctls must be written before /proc/sys turns read-only
    assert "/proc/sys" in DEFAULT_SPEC["linux"]["readonlyPaths"]
    res = run_in(sh("cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/msgmax;"
                    " echo 1 > /proc/sys/kernel/msgmax && echo writable"),
                 expect=None, linux={"sysctl": {"net.ipv4.ip_unprivileged_port_start": "0",
                                                "kernel.msgmax": "12345"}})
    assert res.stdout.split()[:2] == ["0", "12345"], res.stdout
    assert "writable" not in res.stdout  # and /proc/sys is still read-only afterwards
    assert res.returncode != 0


@pytest.mark.railcar_only
def test_init_keeps_no_heap(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # every page the init touches is charged to the container: no brk heap, no malloc arena
    cid = runtime.create_started(make_bundle(["sleep", "60"]))
    init = runtime.init_pid(cid)
    maps = open(f"/proc/{init}/maps").read()
    assert "[heap]" not in maps, maps
    assert "railcar-init" in open(f"/proc/{init}/comm").read()
    runtime.kill(cid, "KILL")
    runtime.wait_exit(init)


@pytest.mark.parametrize("n", [255, 256, 1000])
def test_many_args_reach_the_program(run_in: RunIn, n: int) -> None:
    args = [f"a{i}" for i in range(n)]
    res = run_in(["sh", "-c", 'echo $#; echo "$1 ${200}"', "sh", *args])
    assert res.stdout.split("\n")[:2] == [str(n), "a0 a199" if n >= 200 else "a0 "], res.stdout
