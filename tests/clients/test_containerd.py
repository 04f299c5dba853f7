"""containerd's ctr with --runc-binary: run, exec, kill, delete."""

from __future__ import annotations

from tests.clients.engines import IMAGE, Containerd, wait_for

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
