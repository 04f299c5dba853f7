"""OCI hooks: every kind at its moment, the state on stdin, timeouts, failures and teardown."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BundleFactory, Runtime, describe
from tests.support.bundle import Bundle

CREATE_KINDS = ("prestart", "createRuntime", "createContainer")
ALL_KINDS = (*CREATE_KINDS, "startContainer", "poststart", "poststop")
IN_CONTAINER_DIR = "/hooklog"  # startContainer hooks run (and resolve paths) inside the container


def recording_hook(kind: str, logdir: str) -> dict[str, Any]:
    """A hook that saves its stdin to <logdir>/<kind>.json and appends its kind to <logdir>/order."""
    script = f"cat > {logdir}/{kind}.json; echo {kind} >> {logdir}/order"
    return {"path": "/bin/sh", "args": ["sh", "-c", script]}


def hooked_bundle(make_bundle: BundleFactory, logdir: Path, args: tuple[str, ...] = ("sleep", "60")) -> Bundle:
    logdir.mkdir(exist_ok=True)
    hooks = {
        kind: [recording_hook(kind, IN_CONTAINER_DIR if kind == "startContainer" else str(logdir))]
        for kind in ALL_KINDS
    }
    b = make_bundle(list(args), hooks=hooks)
    b.add_mount(IN_CONTAINER_DIR, "bind", str(logdir), ["rbind", "rw"])
    return b


def mark(logdir: Path, what: str) -> None:
    with open(logdir / "order", "a") as f:
        f.write(what + "\n")


def order(logdir: Path) -> list[str]:
    p = logdir / "order"
    return p.read_text().split() if p.exists() else []


def test_hooks_run_in_order_with_state(runtime: Runtime, make_bundle: BundleFactory) -> None:
    logdir = runtime.workdir / "hooklog"
    b = hooked_bundle(make_bundle, logdir)
    cid = runtime.new_id()
    runtime.create(b, cid)
    pid = runtime.init_pid(cid)
    mark(logdir, "--created")
    runtime.start(cid)
    mark(logdir, "--started")
    runtime.kill(cid, "KILL")
    runtime.wait_exit(pid)
    runtime.wait_status(cid, "stopped")
    mark(logdir, "--exited")
    runtime.delete(cid)
    mark(logdir, "--deleted")
    want = [
        "prestart", "createRuntime", "createContainer", "--created",
        "startContainer", "poststart", "--started", "--exited", "poststop", "--deleted",
    ]  # fmt: skip
    if not runtime.is_railcar:  # runc 1.1.5 runs poststart during `create` (a known runc bug)
        want.remove("poststart")
        want.insert(3, "poststart")
    assert order(logdir) == want
    states = {kind: json.loads((logdir / f"{kind}.json").read_text()) for kind in ALL_KINDS}
    for kind, st in states.items():
        assert st["id"] == cid, (kind, st)
        assert st["bundle"] == str(b.path), (kind, st)
        assert st["ociVersion"] == b.config["ociVersion"], (kind, st)
    for kind in (*CREATE_KINDS, "startContainer", "poststart"):
        # the host pid; runc 1.1.5 gives the in-container hooks its own view (1)
        ok = (pid,) if runtime.is_railcar or kind not in ("createContainer", "startContainer") else (pid, 1)
        assert states[kind]["pid"] in ok, (kind, states[kind])
    want_status = {
        "prestart": "creating", "createRuntime": "creating", "createContainer": "creating",
        "startContainer": "created", "poststart": "running", "poststop": "stopped",
    }  # fmt: skip
    if not runtime.is_railcar:
        want_status["poststart"] = "created"  # the same runc bug: poststart runs in `create`
    assert {k: s["status"] for k, s in states.items()} == want_status, states


def test_hook_args_env_and_multiple_hooks(runtime: Runtime, make_bundle: BundleFactory) -> None:
    log = runtime.workdir / "prestart.log"
    hooks = {
        "prestart": [
            {"path": "/bin/sh", "args": ["sh", "-c", f'echo "one $0 $1 $HOOKVAR" >> {log}', "arg0", "arg1"],
             "env": ["HOOKVAR=from-env"]},
            {"path": "/bin/sh", "args": ["sh", "-c", f"echo two >> {log}"]},
        ]
    }  # fmt: skip
    res = runtime.run_container(make_bundle(["true"], hooks=hooks))
    assert res.returncode == 0, describe(res)
    assert log.read_text().splitlines() == ["one arg0 arg1 from-env", "two"]


def assert_nothing_left(runtime: Runtime, cgroup: str) -> None:
    assert runtime.container_dirs() == []
    assert runtime.stray_processes() == []
    assert runtime.cgroup_dirs(cgroup) == []


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_hook_tears_down(runtime: Runtime, make_bundle: BundleFactory, kind: str) -> None:
    cid = runtime.new_id()
    cgroup = f"/railcar-test-hooks/{cid}"
    hooks = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", "echo hook-says-no >&2; exit 3"]}]}
    b = make_bundle(["true"], hooks=hooks, linux={"cgroupsPath": cgroup})
    runtime.cgroups.append("/railcar-test-hooks")
    res = runtime.create(b, cid, check=False)
    assert res.returncode == 1, describe(res)
    assert kind in res.stderr or "hook" in res.stderr.lower(), describe(res)
    assert_nothing_left(runtime, cgroup)


def test_hook_timeout_kills_hook_and_fails(runtime: Runtime, make_bundle: BundleFactory) -> None:
    cid = runtime.new_id()
    cgroup = f"/railcar-test-hooks/{cid}"
    marker = runtime.workdir / "hook-pid"
    hooks = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", f"echo $$ > {marker}; exec sleep 60"],
                           "timeout": 1}]}  # fmt: skip
    b = make_bundle(["true"], hooks=hooks, linux={"cgroupsPath": cgroup})
    runtime.cgroups.append("/railcar-test-hooks")
    t0 = time.monotonic()
    res = runtime.create(b, cid, check=False, timeout=15)
    elapsed = time.monotonic() - t0
    assert res.returncode == 1, describe(res)
    assert elapsed < 8, f"create took {elapsed:.1f}s with a 1s hook timeout"
    assert "timeout" in res.stderr.lower() or "timed out" in res.stderr.lower(), describe(res)
    hook_pid = int(marker.read_text())
    runtime.wait_until(lambda: not Path(f"/proc/{hook_pid}").exists() or _zombie(hook_pid), 5, "the hook to be killed")
    assert_nothing_left(runtime, cgroup)


def test_start_container_hook_timeout(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """A startContainer hook (run inside the container) is killed at its timeout, and the
    container does not start its program."""
    hooks = {"startContainer": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}
    b = make_bundle(["sh", "-c", "echo program-ran"], hooks=hooks)
    cid = runtime.new_id()
    runtime.create(b, cid)
    pid = runtime.init_pid(cid)
    t0 = time.monotonic()
    runtime.start(cid, check=False)
    runtime.wait_exit(pid, timeout=10)
    elapsed = time.monotonic() - t0
    assert 0.9 < elapsed < 5, f"the container ended {elapsed:.1f}s after start with a 1s hook timeout"
    err = runtime.io_text(cid, "err")
    if runtime.is_railcar:
        assert "timed out after 1s" in err, err
    assert "program-ran" not in runtime.output(cid)


def _zombie(pid: int) -> bool:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return data[data.rindex(")") + 2] == "Z"


@pytest.mark.parametrize("kind", ["poststart", "poststop"])
def test_failing_post_hook_does_not_fail_command(runtime: Runtime, make_bundle: BundleFactory, kind: str) -> None:
    if kind == "poststart" and not runtime.is_railcar:
        pytest.skip("runc 1.1.5 fails `start` (and kills the container) when a poststart hook fails")
    log = runtime.workdir / "after.log"
    hooks = {
        kind: [
            {"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]},
            {"path": "/bin/sh", "args": ["sh", "-c", f"echo second-hook-ran >> {log}"]},
        ]
    }
    cid = runtime.new_id()
    b = make_bundle(["sleep", "60"], hooks=hooks)
    runtime.create(b, cid)
    pid = runtime.init_pid(cid)
    res = runtime.start(cid, check=False)
    assert res.returncode == 0, describe(res)
    assert runtime.status(cid) == "running"
    runtime.kill(cid, "KILL")
    runtime.wait_exit(pid)
    runtime.wait_status(cid, "stopped")
    res = runtime.delete(cid, check=False)
    assert res.returncode == 0, describe(res)
    assert runtime.container_dirs() == []
    if runtime.is_railcar:  # the spec: remaining hooks continue as if the hook had succeeded
        assert log.read_text() == "second-hook-ran\n"


@pytest.mark.parametrize("size", [100, 40000])
def test_start_container_hook_gets_large_state(runtime: Runtime, make_bundle: BundleFactory, size: int) -> None:
    # the state travels through the exec fifo: small and large (annotations) both arrive whole
    logdir = runtime.workdir / "hooklog"
    logdir.mkdir()
    hooks = {"startContainer": [recording_hook("startContainer", IN_CONTAINER_DIR)]}
    b = make_bundle(["true"], hooks=hooks, annotations={"big": "x" * size})
    b.add_mount(IN_CONTAINER_DIR, "bind", str(logdir), ["rbind", "rw"])
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    state = json.loads((logdir / "startContainer.json").read_text())
    assert state["annotations"]["big"] == "x" * size
    assert state["status"] == "created"


def test_hook_without_env_gets_the_runtimes(runtime: Runtime, make_bundle: BundleFactory,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """No `env`: the runtime's own environment (runc's reading; hooks rely on PATH); `env: []`: none."""
    monkeypatch.setenv("HOOK_CALLER_MARK", "from-caller")
    log = runtime.workdir / "env.log"
    script = f'echo "${{HOOK_CALLER_MARK:-unset}}" >> {log}'
    hooks = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", script]},
                          {"path": "/bin/sh", "args": ["sh", "-c", script], "env": []}]}
    res = runtime.run_container(make_bundle(["true"], hooks=hooks))
    assert res.returncode == 0, describe(res)
    assert log.read_text().splitlines() == ["from-caller", "unset"]


@pytest.mark.parametrize("kind", ["prestart", "createRuntime"])
def test_failed_create_runs_poststop(runtime: Runtime, make_bundle: BundleFactory, kind: str) -> None:
    """The container existed and is destroyed: its poststop hooks run, as at delete (runc too)."""
    log = runtime.workdir / "poststop.log"
    hooks = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}],
             "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {log}"]}]}
    cid = runtime.new_id()
    res = runtime.create(make_bundle(["true"], hooks=hooks), cid, check=False)
    assert res.returncode == 1, describe(res)
    assert json.loads(log.read_text())["id"] == cid
    assert runtime.container_dirs() == []


def _gated_create(runtime: Runtime, make_bundle: BundleFactory) -> tuple[str, Path, Any]:
    """A create held in its prestart hook until the test touches the gate file."""
    gate, entered = runtime.workdir / "gate", runtime.workdir / "entered"
    hook = f"touch {entered}; while [ ! -e {gate} ]; do sleep 0.02; done"
    cid = runtime.new_id()
    b = make_bundle(["sleep", "60"], hooks={"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", hook]}]})
    runtime._prepare(b, cid)
    proc = runtime.popen("create", "--bundle", str(b.path), cid, io=cid)
    runtime.wait_until(entered.exists, 10, "the prestart hook to run")
    return cid, gate, proc


@pytest.mark.railcar_only
def test_container_being_created_is_creating(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """While create runs its hooks, state and list say "creating" (the OCI status), exec is
    refused, and a delete waits for create to finish instead of removing a half-made container."""
    cid, gate, create = _gated_create(runtime, make_bundle)
    delete = None
    try:
        assert runtime.status(cid) == "creating"
        listed = json.loads(runtime.run("list", "--format", "json", check=True).stdout)
        assert [(e["id"], e["status"]) for e in listed] == [(cid, "creating")]
        res = runtime.run("exec", cid, "true")
        assert res.returncode == 255 and "being created" in res.stderr, describe(res)  # exec: as runc
        delete = runtime.popen("delete", cid, io="delete")
        time.sleep(0.3)
        assert delete.poll() is None, "delete did not wait for the create in progress"
    finally:
        gate.touch()
        assert create.wait(timeout=20) == 0, runtime.io_text(cid, "err")
        if delete is not None:
            assert delete.wait(timeout=20) == 0, runtime.io_text("delete", "err")
    assert runtime.try_status(cid) is None  # delete then removed the created container
    assert runtime.stray_processes() == []


@pytest.mark.railcar_only
def test_create_killed_midway_leaves_a_stopped_container(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """A create that dies during its hooks holds no lock any more: what it saved is "stopped"
    and delete removes it with its cgroup."""
    cid, gate, create = _gated_create(runtime, make_bundle)
    try:
        create.kill()
        create.wait(timeout=10)
        assert runtime.status(cid) == "stopped"
        runtime.delete(cid)
    finally:
        gate.touch()
    assert runtime.container_dirs() == []
    runtime.wait_until(lambda: runtime.stray_processes() == [], 10, "the container's processes to go")
    assert runtime.cgroup_dirs(cid) == []
