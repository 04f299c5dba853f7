"""containerd's ctr with --runc-binary: run (also with a terminal), exec, kill, pause, resume, delete."""

from __future__ import annotations

from tests.clients.engines import IMAGE, Containerd, cgroup_file, run_tty, wait_for

REF = f"docker.io/{IMAGE}:latest"


def test_run_rm_output_and_exit_code(containerd: Containerd) -> None:
    res = containerd.cli("run", "--rm", *containerd.runtime_flags(), REF, "ctr-run", "sh", "-c", "echo out; exit 3")
    assert (res.code, res.out) == (3, "out\n"), res


def test_detached_exec_kill_delete(containerd: Containerd) -> None:
    cid = "ctr-detached"
    containerd.cli(
        "run",
        "-d",
        *containerd.runtime_flags(),
        REF,
        cid,
        "sh",
        "-c",
        "trap 'exit 9' TERM; while true; do sleep 0.1; done",
    ).ok()
    try:
        wait_for("the task to run", lambda: "RUNNING" in containerd.cli("task", "ls").out, 10)
        res = containerd.cli("task", "exec", "--exec-id", "e1", cid, "sh", "-c", "echo in-exec; exit 4")
        assert (res.code, res.out) == (4, "in-exec\n"), res
        res = containerd.cli("task", "ps", cid)
        assert res.code == 0 and len(res.out.splitlines()) >= 2, res
        containerd.cli("task", "kill", "-s", "SIGTERM", cid).ok()
        wait_for("the task to stop", lambda: "STOPPED" in containerd.cli("task", "ls").out, 10)
        res = containerd.cli("task", "delete", cid)
        assert res.code == 0 and "exit code 9" in res.err, res  # ctr warns with the exit status
    finally:
        containerd.cli("task", "delete", "--force", cid)
        containerd.cli("containers", "delete", cid)
    assert cid not in containerd.cli("containers", "ls", "-q").out


def test_run_tty(containerd: Containerd) -> None:
    res = run_tty(containerd.argv("run", "--rm", "-t", *containerd.runtime_flags(), REF, "ctr-tty",
                                  "sh", "-c", "tty; read x; echo got:$x; exit 5"), input="typed\n")  # fmt: skip
    assert res.code == 5 and "/dev/pts/0" in res.out and "got:typed" in res.out, res


def test_pause_resume_and_memory_limit(containerd: Containerd) -> None:
    cid = "ctr-paused"
    containerd.cli("run", "-d", "--memory-limit", str(64 << 20), *containerd.runtime_flags(), REF, cid,
                   "sh", "-c", "while true; do sleep 0.1; done").ok()  # fmt: skip
    try:
        wait_for("the task to run", lambda: "RUNNING" in containerd.cli("task", "ls").out, 10)
        pid = int(containerd.cli("task", "ls").out.split("\n")[1].split()[1])
        assert cgroup_file(pid, "memory", "memory.limit_in_bytes").read_text().strip() == str(64 << 20)
        containerd.cli("task", "pause", cid).ok()
        assert "PAUSED" in containerd.cli("task", "ls").out
        assert cgroup_file(pid, "freezer", "freezer.state").read_text().strip() == "FROZEN"
        containerd.cli("task", "resume", cid).ok()
        assert "RUNNING" in containerd.cli("task", "ls").out
        assert cgroup_file(pid, "freezer", "freezer.state").read_text().strip() == "THAWED"
        res = containerd.cli("task", "exec", "--exec-id", "e2", cid, "echo", "after-resume")
        assert (res.code, res.out) == (0, "after-resume\n"), res
    finally:
        containerd.cli("task", "kill", "-s", "SIGKILL", cid)
        wait_for("the task to stop", lambda: "RUNNING" not in containerd.cli("task", "ls").out, 10)
        containerd.cli("task", "delete", "--force", cid)
        containerd.cli("containers", "delete", cid)
    assert cid not in containerd.cli("containers", "ls", "-q").out
