"""kill: signal spellings, --all, ignored signals, reaping of orphans."""

from __future__ import annotations

import time

import pytest

from tests.conftest import BundleFactory, RunIn, Runtime, describe
from tests.support.bundle import sh
from tests.support.procfs import ns_link, pids_in_pidns, proc_state

# An init that handles TERM (a pid-namespace init only gets signals it has a handler for).
TRAP_TERM = sh('trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done')
IGNORE_TERM = sh('trap "" TERM; echo ready; while :; do sleep 0.05; done')
# Two children that keep the default TERM action, then an init that ignores TERM.
CHILDREN_THEN_IGNORE = sh('sleep 100 & sleep 100 & trap "" TERM; echo ready; while :; do sleep 0.05; done')


def started(runtime: Runtime, make_bundle: BundleFactory, args: list[str]) -> tuple[str, int]:
    """A running container that printed 'ready'; returns (id, host pid of its init)."""
    cid = runtime.create_started(make_bundle(args))
    runtime.wait_output(cid, "ready")
    return cid, runtime.init_pid(cid)


def container_pids(pid: int) -> list[int]:
    return pids_in_pidns(ns_link("pid", pid))


@pytest.mark.parametrize("sig", ["15", "TERM", "SIGTERM", None], ids=["15", "TERM", "SIGTERM", "default"])
def test_kill_term(runtime: Runtime, make_bundle: BundleFactory, sig: str | None) -> None:
    cid, pid = started(runtime, make_bundle, TRAP_TERM)
    runtime.kill(cid, sig)
    assert runtime.wait_exit(pid) == 42
    assert runtime.status(cid) == "stopped"


@pytest.mark.parametrize("sig", ["9", "KILL", "SIGKILL"])
def test_kill_kill(runtime: Runtime, make_bundle: BundleFactory, sig: str) -> None:
    cid, pid = started(runtime, make_bundle, IGNORE_TERM)
    runtime.kill(cid, sig)
    assert runtime.wait_exit(pid) in (-9, 137)
    assert runtime.status(cid) == "stopped"


def test_kill_user_signal_by_number(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # docker sends numbers (10 = SIGUSR1 on x86_64)
    cid, pid = started(runtime, make_bundle, sh('trap "exit 10" USR1; echo ready; while :; do sleep 0.05; done'))
    runtime.kill(cid, "10")
    assert runtime.wait_exit(pid) == 10


def test_ignored_term_survives_then_kill(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid, pid = started(runtime, make_bundle, IGNORE_TERM)
    runtime.kill(cid, "TERM")
    time.sleep(0.5)
    assert runtime.status(cid) == "running"
    assert proc_state(pid) not in (None, "Z")
    runtime.kill(cid, "KILL")
    runtime.wait_status(cid, "stopped")


def test_kill_all(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid, pid = started(runtime, make_bundle, CHILDREN_THEN_IGNORE)
    before = container_pids(pid)
    assert len(before) >= 3
    runtime.kill(cid, "TERM", all_=True)
    # the sleepers die, the TERM-ignoring init (and, for railcar, its pid-1 init) lives on
    runtime.wait_until(lambda: len(container_pids(pid)) < len(before), 5, "the children to die")
    assert runtime.status(cid) == "running"
    runtime.kill(cid, "KILL", all_=True)
    runtime.wait_status(cid, "stopped")
    runtime.wait_exit(pid)
    assert all(proc_state(p) in (None, "Z") for p in before)


@pytest.mark.parametrize("sig", ["BOGUS", "99", "-1"])
def test_kill_bad_signal(runtime: Runtime, make_bundle: BundleFactory, sig: str) -> None:
    cid, pid = started(runtime, make_bundle, IGNORE_TERM)
    res = runtime.kill(cid, sig, check=False)
    assert res.returncode == 1 and res.stderr.strip(), res
    assert runtime.status(cid) == "running"


def test_kill_stopped_fails(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = runtime.create_started(make_bundle(["true"]))
    runtime.wait_status(cid, "stopped")
    res = runtime.kill(cid, "KILL", check=False)
    assert res.returncode == 1
    assert "container not running" in res.stderr


def test_kill_created(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = runtime.new_id()
    runtime.create(make_bundle(["sleep", "60"]), cid)
    pid = runtime.init_pid(cid)
    runtime.kill(cid, "KILL")
    assert runtime.wait_exit(pid) in (None, -9, 137)
    runtime.wait_status(cid, "stopped")


def test_shell_init_reaps_orphans(run_in: RunIn) -> None:
    # Orphans are reparented to pid 1 of the namespace (a waiting shell, or railcar's init).
    res = run_in(sh('for i in 1 2 3; do sh -c "true &"; done; sleep 0.5; ps -o stat,comm'))
    states = [line.split()[0] for line in res.stdout.splitlines()[1:]]
    assert states and "Z" not in states, res.stdout


@pytest.mark.railcar_only
def test_init_reaps_orphans_of_non_reaping_program(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # The program execs into something that never waits: only railcar's init can reap.
    cid, pid = started(
        runtime, make_bundle, sh('for i in 1 2 3; do sh -c "sleep 0.05 &"; done; echo ready; exec sleep 60')
    )
    time.sleep(0.5)
    zombies = [p for p in container_pids(pid) if proc_state(p) == "Z"]
    assert zombies == [], f"unreaped: {zombies} in {cid}"


def test_kill_all_of_a_stopped_container_is_no_error(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """containerd sends `kill --all` after the init exited: nothing left to signal is not a failure."""
    cid = runtime.create_started(make_bundle(["true"]))
    runtime.wait_status(cid, "stopped")
    res = runtime.kill(cid, "KILL", all_=True, check=False)
    assert res.returncode == 0, describe(res)


def test_signal_zero_checks_only(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid, pid = started(runtime, make_bundle, IGNORE_TERM)
    res = runtime.kill(cid, "0", check=False)
    assert res.returncode == 0, describe(res)
    assert runtime.status(cid) == "running"


def test_kill_of_a_paused_container_thaws_it_to_die(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid, pid = started(runtime, make_bundle, IGNORE_TERM)
    runtime.run("pause", cid, check=True)
    runtime.kill(cid, "KILL")
    runtime.wait_exit(pid)
    runtime.wait_status(cid, "stopped")
