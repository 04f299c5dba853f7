"""The fault cases (issue 20), runtime-agnostic: each unit runs one or more cases on a Suite.

A unit is (group, name, function); the pytest wrappers make one test per unit and runtime, the
runner runs them all and prints one summary row per group. What each case expects is written
next to it; wherever the brief allows two behaviours (fail cleanly, or succeed fully), both are
accepted and everything else is a failure.
"""

from __future__ import annotations

import errno
import json
import os
import random
import resource
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.faults.harness import (
    MARKER_ENV,
    STATUSES,
    Call,
    Case,
    CaseError,
    CaseSkipped,
    Suite,
    cgroup_pids,
    cgroup_roots,
    clear_error,
    descends_from,
    describe_process,
    marked_cgroups,
    marked_processes,
)
from tests.support.bundle import DEFAULT_SPEC
from tests.support.procfs import proc_state

EXEC_CODES = (0, 1, 255)  # runc exits 255 when `exec` itself fails
HOSTNAME = DEFAULT_SPEC["hostname"]


@dataclass(frozen=True)
class Unit:
    group: str
    name: str
    run: Callable[[Suite], None]

    @property
    def id(self) -> str:
        return f"{self.group}:{self.name}"


UNITS: list[Unit] = []


def unit(group: str, name: str) -> Callable[[Callable[[Suite], None]], Callable[[Suite], None]]:
    def register(fn: Callable[[Suite], None]) -> Callable[[Suite], None]:
        UNITS.append(Unit(group, name, fn))
        return fn

    return register


def expect_clear_failure(c: Case, call: Call, what: str, reasons: Sequence[str] = ()) -> None:
    """`call` must have failed with exit 1 and a clear message (naming one of `reasons`)."""
    if call.code != 1:
        c.outcome.failures.append(f"{what}: expected exit 1: {call.describe()}")
        return
    why = clear_error(call)
    if why:
        c.outcome.failures.append(f"{what}: unclear error ({why}): {call.describe()}")
    elif reasons and not any(r in call.err.lower() for r in reasons):
        c.outcome.failures.append(
            f"{what}: the error does not say {' or '.join(map(repr, reasons))}: {call.describe()}"
        )


# --- 1. SIGKILL at random points -----------------------------------------------------------------
VERBS = ("create", "run-d", "run", "exec", "start", "delete")


def _sigkill_once(c: Case, verb: str, delay: float, i: int) -> None:
    cid = c.new_id()
    b = c.bundle(cid)
    if verb == "create":
        victim = c.spawn(*c.create_args(b, cid))
    elif verb == "run-d":
        victim = c.spawn("run", "-d", "--bundle", str(b.path), "--pid-file", str(c.pid_file(cid)), cid)
    elif verb == "run":
        victim = c.spawn("run", "--bundle", str(b.path), cid)
    else:
        c.must(*c.create_args(b, cid))
        if verb in ("exec", "delete"):
            c.must("start", cid)
        if verb == "exec":
            victim = c.spawn("exec", "--env", f"{MARKER_ENV}={cid}", cid, "sleep", "1000")
        elif verb == "start":
            victim = c.spawn("start", cid)
        elif i % 2 == 0:  # delete --force of a running container
            victim = c.spawn("delete", "--force", cid)
        else:  # delete of a stopped one
            c.must("kill", cid, "KILL")
            c.wait_status(cid, "stopped")
            victim = c.spawn("delete", cid)
    call = c.finish(victim, kill_after=delay, allowed=EXEC_CODES if verb == "exec" else (0, 1))
    c.outcome.hit = call.killed
    c.call("delete", "--force", cid)  # what an engine does next
    c.check_leaks([cid], stage="after SIGKILL and delete --force")


def _sigkill_unit(verb: str) -> None:
    @unit(f"sigkill/{verb}", f"SIGKILL `{verb}` at 0-40 ms, then delete --force")
    def run(s: Suite) -> None:
        rng = s.rng(f"sigkill/{verb}")
        for i in range(s.n):
            delay = rng.uniform(0.0, 0.040)
            what = verb if verb != "delete" else ("delete --force (running)" if i % 2 == 0 else "delete (stopped)")
            with s.case(f"sigkill/{verb}", f"#{i} {what} killed at {delay * 1000:.1f} ms") as c:
                _sigkill_once(c, verb, delay, i)


for _verb in VERBS:
    _sigkill_unit(_verb)


# --- 2. concurrent creates of one id -------------------------------------------------------------
RACE_WIDTH = 16


@unit("race/same-id", f"{RACE_WIDTH} parallel creates of one id")
def same_id_race(s: Suite) -> None:
    for r in range(max(2, s.n // 8)):
        with s.case("race/same-id", f"round {r}: {RACE_WIDTH} creates") as c:
            cid = c.new_id()
            b = c.bundle(cid)
            pid_files = [c.workdir / f"race{i}.pid" for i in range(RACE_WIDTH)]
            pends = [c.spawn("create", "--bundle", str(b.path), "--pid-file", str(pf), cid) for pf in pid_files]
            calls = [c.finish(p) for p in pends]
            winners = [i for i, k in enumerate(calls) if k.code == 0]
            for k in calls:
                if k.code not in (0, None):
                    why = clear_error(k)
                    if why:
                        c.outcome.failures.append(f"a loser's error is unclear ({why}): {k.describe()}")
            if len(winners) != 1:
                losers = "; ".join(k.describe() for k in calls if k.code != 0)[:800]
                c.outcome.failures.append(f"{len(winners)} of {RACE_WIDTH} creates exited 0 (want 1); {losers}")
            else:
                try:
                    wpid = int(pid_files[winners[0]].read_text())
                except (OSError, ValueError) as e:
                    raise CaseError(f"the winner exited 0 without a pid file: {e}") from None
                _check_winner(c, cid, wpid)
            c.call("delete", "--force", cid)
            c.check_leaks([cid], stage="after delete --force")


def _check_winner(c: Case, cid: str, wpid: int) -> None:
    call, st = c.state(cid)
    if st is None:
        c.outcome.failures.append(f"the winner's state is lost: {call.describe()}")
    elif (st.get("status"), st.get("pid")) != ("created", wpid):
        c.outcome.failures.append(
            f"the winner's state is wrong: {st.get('status')} pid {st.get('pid')}, want created {wpid}"
        )
    if proc_state(wpid) in (None, "Z"):
        c.outcome.failures.append(f"the winner's init {wpid} is gone")
    others = [p for p in marked_processes([cid]) if not descends_from(p, wpid)]
    c.outcome.failures += [f"a loser left a process: {describe_process(p)}" for p in others]
    listed = c.listed()
    if listed is not None and cid not in listed:
        c.outcome.failures.append(f"`list` does not show the winner {cid}")


# --- 3. mixed concurrent commands ---------------------------------------------------------------
MIXED_OPS: dict[str, int] = {
    "create": 3,
    "run-d": 1,
    "start": 2,
    "kill": 2,
    "delete": 1,
    "delete-force": 2,
    "state": 2,
    "list": 2,
    "exec": 1,
}
MIXED_THREADS, MIXED_IDS = 6, 3


@unit("race/mixed", f"{MIXED_THREADS} threads of create/start/kill/delete/state/list/exec on {MIXED_IDS} ids")
def mixed(s: Suite) -> None:
    rng = s.rng("race/mixed")
    ops_per_thread = max(8, s.n)
    names, weights = list(MIXED_OPS), list(MIXED_OPS.values())
    with s.case("race/mixed", f"{MIXED_THREADS}x{ops_per_thread} ops") as c:
        ids = [c.new_id() for _ in range(MIXED_IDS)]
        bundles = {cid: c.bundle(cid) for cid in ids}
        plans = [
            [(rng.choices(names, weights)[0], rng.choice(ids)) for _ in range(ops_per_thread)]
            for _ in range(MIXED_THREADS)
        ]
        lock = threading.Lock()

        def bad(msg: str) -> None:
            with lock:
                c.outcome.failures.append(msg)

        def worker(plan: list[tuple[str, str]]) -> None:
            for op, cid in plan:
                b = str(bundles[cid].path)
                argv: tuple[str, ...] = {
                    "create": ("create", "--bundle", b, cid),
                    "run-d": ("run", "-d", "--bundle", b, cid),
                    "start": ("start", cid),
                    "kill": ("kill", cid, "KILL"),
                    "delete": ("delete", cid),
                    "delete-force": ("delete", "--force", cid),
                    "state": ("state", cid),
                    "list": ("list", "--format", "json"),
                    "exec": ("exec", cid, "true"),
                }[op]
                # an exec'd process a concurrent kill or delete --force SIGKILLs exits 128+9, as
                # with runc: exec reports its status, nothing crashed
                call = c.call(*argv, allowed=(*EXEC_CODES, 128 + signal.SIGKILL) if op == "exec" else (0, 1))
                if op == "list":
                    try:
                        ok = call.code == 0 and isinstance(json.loads(call.out) or [], list)
                    except ValueError:
                        ok = False
                    if not ok:
                        bad(f"list failed amid other commands: {call.describe()} stdout {call.out[:200]!r}")
                elif op == "state" and call.code == 0:
                    try:
                        st = call.json()
                        ok = st.get("id") == cid and st.get("status") in STATUSES
                    except (ValueError, AttributeError):
                        ok = False
                    if not ok:
                        bad(f"state printed a bad object: {call.describe()} stdout {call.out[:200]!r}")
                elif call.code not in (0, None) and clear_error(call) and call.argv[3] != "exec":
                    bad(f"unclear error ({clear_error(call)}): {call.describe()}")

        threads = [threading.Thread(target=worker, args=(p,)) for p in plans]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for cid in ids:
            c.call("delete", "--force", cid)
        c.check_leaks(ids, stage="after delete --force of every id")


# --- 4. ENOSPC and file-size limits on --root ---------------------------------------------------
BIG = 5_000_000
FSIZE_LIMIT = 3000 * 1024  # `ulimit -f 3000`


def _fail_clean_or_succeed(c: Case, call: Call, cid: str, reasons: Sequence[str], killed_ok: bool = False) -> None:
    """After a `create` under a resource limit: exit 1 with a clear error and nothing left, or exit
    0 and a fully working container; with `killed_ok`, death by SIGXFSZ, then delete --force must
    clean up."""
    if call.code == 0:
        st_call, st = c.state(cid)
        if st is None or st.get("status") != "created":
            c.outcome.failures.append(f"create exited 0 but the container is not usable: {st_call.describe()}")
        listed = c.listed()
        if listed is not None and cid not in listed:
            c.outcome.failures.append(f"create exited 0 but `list` does not show {cid}")
    elif call.code == -signal.SIGXFSZ and killed_ok:
        pass  # the runtime died mid-write; delete --force must still find everything
    else:
        expect_clear_failure(c, call, "create under the limit", reasons)
        c.check_leaks([cid], stage="after the failed create")
    c.call("delete", "--force", cid)
    c.check_leaks([cid], stage="after delete --force")


@unit("enospc", "--root on a 64k tmpfs, 5 MB annotation")
def enospc_big(s: Suite) -> None:
    with s.case("enospc", "64k tmpfs --root, 5 MB annotation") as c:
        c.tiny_root("64k")
        cid = c.new_id()
        b = c.bundle(cid, annotations={"big": "x" * BIG})
        call = c.call(*c.create_args(b, cid))
        _fail_clean_or_succeed(c, call, cid, ("no space left",))


@unit("enospc", "--root on a 64k tmpfs, annotations of 24-60 KB (the state half fits)")
def enospc_partial(s: Suite) -> None:
    for size in (24_000, 40_000, 60_000):
        with s.case("enospc", f"64k tmpfs --root, {size // 1000} KB annotation") as c:
            c.tiny_root("64k")
            cid = c.new_id()
            b = c.bundle(cid, annotations={"big": "x" * size})
            call = c.call(*c.create_args(b, cid))
            _fail_clean_or_succeed(c, call, cid, ("no space left",))


@unit("enospc", "--root on a full 64k tmpfs")
def enospc_full(s: Suite) -> None:
    with s.case("enospc", "full 64k tmpfs --root, plain config") as c:
        c.tiny_root("64k")
        fd = os.open(c.root / "fill.bin", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
        finally:
            os.close(fd)
        cid = c.new_id()
        b = c.bundle(cid)
        call = c.call(*c.create_args(b, cid))
        _fail_clean_or_succeed(c, call, cid, ("no space left",))


def _fsize_limit(ignore_sigxfsz: bool) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN if ignore_sigxfsz else signal.SIG_DFL)

    return preexec


@unit("fsize", "ulimit -f 3000, SIGXFSZ ignored (writes get EFBIG), 5 MB annotation")
def fsize_ignored(s: Suite) -> None:
    with s.case("fsize", "RLIMIT_FSIZE 3000 KiB, SIGXFSZ ignored, 5 MB annotation") as c:
        cid = c.new_id()
        b = c.bundle(cid, annotations={"big": "x" * BIG})
        call = c.call(*c.create_args(b, cid), preexec=_fsize_limit(True))
        _fail_clean_or_succeed(c, call, cid, ("file too large",))


@unit("fsize", "ulimit -f 3000, SIGXFSZ default (kills mid-write), 5 MB annotation")
def fsize_default(s: Suite) -> None:
    with s.case("fsize", "RLIMIT_FSIZE 3000 KiB, SIGXFSZ default, 5 MB annotation") as c:
        cid = c.new_id()
        b = c.bundle(cid, annotations={"big": "x" * BIG})
        call = c.call(*c.create_args(b, cid), preexec=_fsize_limit(False), allowed=(0, 1, -signal.SIGXFSZ))
        _fail_clean_or_succeed(c, call, cid, ("file too large",), killed_ok=True)


# --- 5. corrupt and forged state ----------------------------------------------------------------
@dataclass
class Forge:
    raw: bytes
    cid: str  # the victim; its cgroupsPath is /<cid>
    real_pid: int
    bystander: int
    bait: str  # a cgroup name the case made in every hierarchy
    rng: random.Random


START_KEYS = ("pid_start", "init_process_start")  # railcar's, runc's


def _walk(x: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(x, dict):
        return {k: _walk(v, fn) for k, v in x.items()}
    if isinstance(x, list):
        return [_walk(v, fn) for v in x]
    return fn(x)


def _swap_pid(f: Forge, drop_start: bool) -> bytes:
    data = json.loads(f.raw)
    n = [0]

    def swap(x: Any) -> Any:
        if type(x) is int and x == f.real_pid:
            n[0] += 1
            return f.bystander
        return x

    data = _walk(data, swap)
    if drop_start:
        for k in START_KEYS:
            data.pop(k, None)
    if not n[0]:
        raise CaseError(f"the state holds no pid {f.real_pid} to forge")
    return json.dumps(data).encode()


def _swap_cgroup(f: Forge, replacement: str) -> bytes:
    data = json.loads(f.raw)
    mounts = tuple(f"{m}/" for m in cgroup_roots())
    n = [0]

    def swap(x: Any) -> Any:
        if isinstance(x, str) and (x == f"/{f.cid}" or x.startswith(mounts)) and f"/{f.cid}" in x:
            n[0] += 1
            return x.replace(f"/{f.cid}", replacement)
        return x

    data = _walk(data, swap)
    if not n[0]:
        raise CaseError("the state holds no cgroup path to forge")
    return json.dumps(data).encode()


def _many_cgroups(f: Forge) -> bytes:
    data = json.loads(f.raw)
    maps: list[dict[str, Any]] = []

    def find(x: Any) -> None:
        if isinstance(x, dict):
            if sum(1 for v in x.values() if isinstance(v, str) and v.startswith("/sys/fs/cgroup/")) >= 3:
                maps.append(x)
            for v in x.values():
                find(v)
        elif isinstance(x, list):
            for v in x:
                find(v)

    find(data)
    if not maps:
        raise CaseError("the state holds no controller -> cgroup map")
    for m in maps:  # more of the container's own paths: nothing of the host's can be hit
        own = [v for v in m.values() if isinstance(v, str) and v.startswith("/sys/fs/cgroup/") and f.cid in v]
        if not own:
            raise CaseError(f"the controller map holds no path of {f.cid}")
        # distinct strings (a runtime may dedupe paths), the same few directories
        m.update({f"name={f.bait}{i}": own[i % len(own)] + "/." * (1 + i // len(own)) for i in range(3000)})
    return json.dumps(data).encode()


@dataclass(frozen=True)
class Forgery:
    name: str
    make: Callable[[Forge], bytes | None]  # None: remove state.json
    bystander_in_bait: bool = True


# The "unrelated process" is a bystander the case starts (host /bin/sleep), not pid 1 or the test
# itself, and forged cgroup paths lead to a cgroup the case made, never to "/": a runtime that
# trusted them would SIGKILL every process of the machine's root cgroup. Both are as good a probe
# (the runtime cannot tell them from pid 1 or "/") and their loss is seen, not suffered.
FORGERIES = (
    Forgery("[1,2]", lambda f: b"[1,2]"),
    Forgery('{"pid": "abc"}', lambda f: b'{"pid": "abc"}'),
    Forgery('{"foo": [1]}', lambda f: b'{"foo": [1]}'),
    Forgery("truncated JSON", lambda f: f.raw[: len(f.raw) // 2]),
    Forgery("empty file", lambda f: b""),
    Forgery("binary garbage", lambda f: bytes(f.rng.randrange(256) for _ in range(512))),
    Forgery("state.json missing", lambda f: None),
    Forgery("pid of a live unrelated process, start time not its", lambda f: _swap_pid(f, False)),
    Forgery("pid of a live unrelated process, no start time", lambda f: _swap_pid(f, True)),
    Forgery("cgroup paths -> a cgroup with an unrelated process", lambda f: _swap_cgroup(f, f"/{f.bait}")),
    Forgery("cgroup paths -> an empty cgroup it did not create", lambda f: _swap_cgroup(f, f"/{f.bait}"), False),
    Forgery("cgroup paths escape with ../", lambda f: _swap_cgroup(f, f"/{f.cid}/../{f.bait}")),
    Forgery("3000 cgroup entries", _many_cgroups),
)


def _forged_unit(fg: Forgery) -> None:
    @unit("corrupt-state", fg.name)
    def run(s: Suite) -> None:
        with s.case("corrupt-state", fg.name) as c:
            _corrupt_case(c, fg, s.rng(f"corrupt-state/{fg.name}"))


for _fg in FORGERIES:
    _forged_unit(_fg)


def _corrupt_case(c: Case, fg: Forgery, rng: random.Random) -> None:
    """Two good containers (created, running) and a victim (running) whose state.json is replaced.
    `list` must work and show the good ones; state/kill/delete of the victim must fail cleanly
    (or tell the truth); nothing may hit the bystander process or the case's own cgroup; delete
    --force must leave nothing of the victim; the good ones stay as they were."""
    # railcar answers state/start/kill/delete of a stopped container from its own `fast` file (C),
    # which the forgery leaves alone; whether a call takes that path or the Python one that reads
    # state.json depends on timing. Turn it off (a documented knob; runc ignores it) so that every
    # call reads the forged state.json, every time.
    c.env["RAILCAR_FASTPATH"] = "0"
    good_a, good_b, victim = c.new_id(), c.new_id(), c.new_id()
    pids: dict[str, int] = {}
    for cid in (good_a, good_b, victim):
        c.must(*c.create_args(c.bundle(cid), cid))
        pids[cid] = int(c.pid_file(cid).read_text())
    c.must("start", good_b)
    c.must("start", victim)
    bait = f"{c.suite.new_token()}-bait"
    bait_dirs = c.bait_cgroup(bait)
    bystander = c.bystander(bait, bait_dirs if fg.bystander_in_bait else ())
    state_file = c.root / victim / "state.json"
    if not state_file.is_file():
        raise CaseSkipped(f"no {state_file}: the runtime keeps its state elsewhere")
    forged = fg.make(Forge(state_file.read_bytes(), victim, pids[victim], bystander.pid, bait, rng))
    if forged is None:
        state_file.unlink()
    else:
        state_file.write_bytes(forged)

    listed = c.listed()
    if listed is not None:
        for cid, want in ((good_a, "created"), (good_b, "running")):
            e = listed.get(cid)
            if e is None or (e.get("status"), e.get("pid")) != (want, pids[cid]):
                c.outcome.failures.append(f"`list` lost the good container {cid}: {e}")
    st_call, st = c.state(victim)
    if st_call.code == 0:
        if st is None or st.get("id") != victim or not (st.get("status") == "stopped" or st.get("pid") == pids[victim]):
            c.outcome.failures.append(f"state of the forged container is a lie: {st_call.out[:300]!r}")
    else:
        expect_clear_failure(c, st_call, "state of the forged container")
    # exec joins the namespaces and cgroups the state names: they must be the container's
    ex = c.call("exec", victim, "sh", "-c", "hostname; cat /proc/self/cgroup", allowed=EXEC_CODES)
    if ex.code == 0:
        lines = ex.out.split()
        if lines[:1] != [HOSTNAME]:
            c.outcome.failures.append(f"exec ran outside the container (hostname {lines[:1]}): {ex.describe()}")
        foreign = [ln for ln in lines[1:] if ln.split(":", 2)[-1] != f"/{victim}"]
        if foreign:
            c.outcome.failures.append(f"exec put the process in cgroups that are not the container's: {foreign[:4]}")
    elif clear_error(ex):
        c.outcome.failures.append(f"exec into the forged container: unclear error ({clear_error(ex)}): {ex.describe()}")
    delete = c.call("delete", victim)
    if delete.code == 0:
        c.check_leaks([victim], stage="after `delete` (no --force) of the running container exited 0")
    elif clear_error(delete):
        c.outcome.failures.append(
            f"delete of the forged container: unclear error ({clear_error(delete)}): {delete.describe()}"
        )
    kill = c.call("kill", victim, "KILL")
    if kill.code != 0 and clear_error(kill):
        c.outcome.failures.append(
            f"kill of the forged container: unclear error ({clear_error(kill)}): {kill.describe()}"
        )
    if delete.code != 0:  # again, now that it should be stopped: the plain delete path
        delete = c.call("delete", victim)
        if delete.code == 0:
            c.check_leaks([victim], stage="after kill and `delete` exited 0")
        elif clear_error(delete):
            c.outcome.failures.append(
                f"delete of the killed forged container: unclear error ({clear_error(delete)}): {delete.describe()}"
            )
    force = c.call("delete", "--force", victim)
    if force.code != 0 and clear_error(force):
        c.outcome.failures.append(f"delete --force: unclear error ({clear_error(force)}): {force.describe()}")

    if proc_state(bystander.pid) in (None, "Z", "X"):
        c.outcome.failures.append(f"an unrelated process (pid {bystander.pid}, not the container's) was killed")
    gone = [str(d) for d in bait_dirs if not d.is_dir()]
    if gone:
        c.outcome.failures.append(f"removed cgroups it did not create: {', '.join(gone)}")
    elif fg.bystander_in_bait:
        moved = [str(d) for d in bait_dirs if bystander.pid not in cgroup_pids(d) and (d / "cgroup.procs").exists()]
        if moved and proc_state(bystander.pid) not in (None, "Z", "X"):
            c.outcome.failures.append(f"moved an unrelated process out of {', '.join(moved[:3])}")
    for cid, want in ((good_a, "created"), (good_b, "running")):
        call, gst = c.state(cid)
        if gst is None or (gst.get("status"), gst.get("pid")) != (want, pids[cid]):
            c.outcome.failures.append(f"the good container {cid} was hurt: {call.describe()}")
    c.check_leaks([victim], stage="after delete --force")


# --- 6. hooks that hang or die -------------------------------------------------------------------
HOST_SLEEP = "/bin/sleep"


def _hanging_hook(cid: str, **extra: Any) -> dict[str, Any]:
    return {"path": HOST_SLEEP, "args": ["sleep", "1000"], "env": [f"{MARKER_ENV}={cid}"], **extra}


def _hook_pid(cid: str) -> int | None:
    want = os.path.realpath(HOST_SLEEP)
    for pid in marked_processes([cid]):
        try:
            if os.path.realpath(f"/proc/{pid}/exe") == want:
                return pid
        except OSError:
            pass
    return None


def _wait_hook(c: Case, cid: str, pend_pid: int, timeout: float = 10.0) -> int | None:
    """The hanging hook's pid once it runs; None if the command ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _hook_pid(cid)
        if pid:
            return pid
        if proc_state(pend_pid) in (None, "Z"):
            return None
        time.sleep(0.01)
    raise CaseError(f"the hook did not start within {timeout}s and the command did not end")


def _hook_hang_unit(kind: str) -> None:
    @unit("hooks", f"{kind} hook hangs, the command is SIGKILLed, delete --force")
    def run(s: Suite) -> None:
        with s.case("hooks", f"{kind} hook hangs; SIGKILL the command; delete --force") as c:
            if not os.access(HOST_SLEEP, os.X_OK):
                raise CaseSkipped(f"no {HOST_SLEEP} on the host")
            cid = c.new_id()
            b = c.bundle(cid, hooks={kind: [_hanging_hook(cid)]})
            pend = c.spawn(*c.create_args(b, cid))
            hook = _wait_hook(c, cid, pend.pid)
            if hook is None:  # the hook runs later than create (e.g. poststart): start
                first = c.finish(pend)
                if first.code != 0:
                    raise CaseError(f"create failed: {first.describe()}")
                pend = c.spawn("start", cid)
                hook = _wait_hook(c, cid, pend.pid)
            if hook is None:
                raise CaseError(f"the {kind} hook never ran")
            killed = c.finish(pend, kill_after=0.0)
            c.outcome.hit = killed.killed
            c.call("delete", "--force", cid)
            c.check_leaks([cid], stage="after delete --force")  # waits a moment for dying processes
            if proc_state(hook) not in (None, "Z", "X"):
                c.outcome.failures.append(f"the hanging {kind} hook survived: {describe_process(hook)}")


for _kind in ("prestart", "createRuntime", "poststart"):
    _hook_hang_unit(_kind)


def _hook_fail_unit(name: str, hook: Callable[[str], dict[str, Any]]) -> None:
    @unit("hooks", name)
    def run(s: Suite) -> None:
        with s.case("hooks", name) as c:
            cid = c.new_id()
            b = c.bundle(cid, hooks={"prestart": [hook(cid)]})
            call = c.call(*c.create_args(b, cid))
            expect_clear_failure(c, call, "create with a failing prestart hook")
            c.check_leaks([cid], stage="after the failed create")
            c.call("delete", "--force", cid)
            c.check_leaks([cid], stage="after delete --force")


_hook_fail_unit("prestart hook hangs past its 1 s timeout", lambda cid: _hanging_hook(cid, timeout=1))
_hook_fail_unit(
    "prestart hook exits 3",
    lambda cid: {"path": "/bin/sh", "args": ["sh", "-c", "exit 3"], "env": [f"{MARKER_ENV}={cid}"]},
)
_hook_fail_unit(
    "prestart hook is killed by SIGKILL",
    lambda cid: {"path": "/bin/sh", "args": ["sh", "-c", "kill -9 $$"], "env": [f"{MARKER_ENV}={cid}"]},
)


# --- 7. escape attempts ------------------------------------------------------------------------
FD_SCRIPT = (
    "echo FDS; ls /proc/$$/fd; echo CG0; cat /proc/$$/cgroup; echo LINKS; "
    'for f in 3 4 5 6 7; do echo -n "$f "; readlink /proc/$$/fd/$f; echo; done; '
    "echo $$ 2>/dev/null >/proc/$$/fd/3; echo $$ 2>/dev/null >/proc/$$/fd/4; "
    "echo CG1; cat /proc/$$/cgroup; echo END"
)


def _sections(out: str) -> dict[str, list[str]]:
    sec: dict[str, list[str]] = {}
    cur = None
    for line in out.splitlines():
        if line in ("FDS", "CG0", "LINKS", "CG1", "END"):
            cur = line
            sec[cur] = []
        elif cur:
            sec[cur].append(line.strip())
    return sec


def _escape_unit(verb: str, preserve: int, passed: tuple[int, ...]) -> None:
    have = ", ".join(map(str, passed)) if passed else "none"
    name = f"{verb} --preserve-fds {preserve}, caller's fds from 3: {have}"

    @unit("escape", name)
    def run(s: Suite) -> None:
        with s.case("escape", name) as c:
            _fd_escape(c, verb, preserve, passed)


def _fd_escape(c: Case, verb: str, preserve: int, passed: tuple[int, ...]) -> None:
    """The container's process must see exactly 0, 1, 2 and the caller's fds it was asked to
    keep (the same files), and must stay in its cgroup after writing its pid through every fd;
    or the command must fail cleanly."""
    files = {}
    for fd in passed:
        p = c.workdir / f"fd{fd}.txt"  # the container may write through it: only ever our own file
        p.write_text(f"fd{fd}\n")
        files[fd] = os.open(p, os.O_RDONLY)
    try:
        cid = c.new_id()
        flags = ["--preserve-fds", str(preserve)] if preserve else []
        if verb == "exec":
            c.must(*c.create_args(c.bundle(cid), cid))
            c.must("start", cid)
            call = c.call("exec", *flags, cid, "sh", "-c", FD_SCRIPT, fds=files, allowed=EXEC_CODES)
        else:
            b = c.bundle(cid, args=("sh", "-c", FD_SCRIPT))
            call = c.call("run", *flags, "--bundle", str(b.path), cid, fds=files, allowed=(0, 1))
    finally:
        for fd in files.values():
            os.close(fd)
    if call.code != 0:  # refused: fine, if it says why
        why = clear_error(call)
        if why:
            c.outcome.failures.append(f"refused without a clear error ({why}): {call.describe()}")
    else:
        sec = _sections(call.out)
        if "END" not in sec:
            c.outcome.failures.append(f"the script did not finish: {call.describe()} stdout {call.out[:300]!r}")
        else:
            want = {0, 1, 2} | {fd for fd in passed if fd < 3 + preserve}
            seen = {int(x) for x in sec["FDS"] if x.isdigit()}
            links = dict((line.split(" ", 1) + [""])[:2] for line in sec["LINKS"])
            if seen != want:
                extra = {fd: links.get(str(fd), "?") for fd in sorted(seen - want)}
                c.outcome.failures.append(
                    f"the container's fds are {sorted(seen)}, want {sorted(want)}; not the caller's: {extra}"
                )
            for fd in want - {0, 1, 2}:
                if links.get(str(fd)) != str(c.workdir / f"fd{fd}.txt"):
                    c.outcome.failures.append(f"fd {fd} is not the caller's file: {links.get(str(fd))!r}")
            outside = [line for line in sec["CG0"] if line.split(":", 2)[-1] != f"/{cid}"]
            if outside:
                c.outcome.failures.append(f"the process is not in the container's cgroup: {outside}")
            if sec["CG0"] != sec["CG1"]:
                moved = sorted(set(sec["CG1"]) - set(sec["CG0"]))
                c.outcome.failures.append(f"the process moved cgroups through an fd: now {moved}")
    c.call("delete", "--force", cid)
    c.check_leaks([cid], stage="after delete --force")


for _verb, _n, _passed in (
    ("exec", 1, ()),
    ("exec", 2, (3,)),
    ("exec", 2, (4,)),
    ("exec", 0, (3, 4)),
    ("run", 0, (3, 4)),
    ("run", 2, ()),
    ("run", 1, (3,)),
):
    _escape_unit(_verb, _n, _passed)


def _bad_link(link: str, s: Suite) -> bool:
    return "python" in link or link == s.binary_real or os.path.basename(link) == os.path.basename(s.binary_real)


@unit("escape", "no container process runs the host's python or the runtime; no runtime fd inside")
def exe_and_fds(s: Suite) -> None:
    with s.case("escape", "/proc/PID/exe and fds of init and exec'd processes") as c:
        cid = c.new_id()
        c.must(*c.create_args(c.bundle(cid), cid))
        c.must("start", cid)
        bg = c.spawn("exec", "--env", f"{MARKER_ENV}={cid}", cid, "sleep", "1000")
        script = 'for p in /proc/[0-9]*; do echo -n "$p "; readlink $p/exe; echo; done'
        inside = c.call("exec", cid, "sh", "-c", script, allowed=EXEC_CODES)
        if inside.code != 0:
            c.outcome.failures.append(f"exec failed: {inside.describe()}")
        for line in inside.out.splitlines():
            parts = line.split(" ", 1)
            if len(parts) == 2 and parts[1] and _bad_link(parts[1], s):
                c.outcome.failures.append(f"inside the container {parts[0]}/exe -> {parts[1]}")
        deadline = time.monotonic() + 5
        dirs = [d for d in marked_cgroups([cid]) if (d / "cgroup.procs").exists()]
        pids: set[int] = set()
        while time.monotonic() < deadline:  # init, its program, and the exec'd sleep
            pids = {p for d in dirs for p in cgroup_pids(d)}
            if len(pids) >= 2 and any(_is_exec_sleep(p, cid) for p in pids):
                break
            time.sleep(0.02)
        if not pids:
            c.outcome.failures.append(f"no process in the container's cgroups {dirs}")
        state_dir = str(c.root)
        for pid in sorted(pids):
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
                fds = {fd: os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
            except OSError:
                continue
            if _bad_link(exe, s):
                c.outcome.failures.append(f"container process {pid} runs {exe}")
            for fd, link in fds.items():
                if link.startswith(("/sys/fs/cgroup", state_dir)) or _bad_link(link, s):
                    c.outcome.failures.append(f"container process {pid} holds the runtime's fd {fd} -> {link}")
        c.call("delete", "--force", cid)
        c.finish(bg, kill_after=3.0, allowed=(*range(256), -signal.SIGKILL))
        c.check_leaks([cid], stage="after delete --force")


def _is_exec_sleep(pid: int, cid: str) -> bool:
    try:
        return (
            f"{MARKER_ENV}={cid}".encode() in Path(f"/proc/{pid}/environ").read_bytes()
            and b"sleep" in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
    except OSError:
        return False


# --- 8. ids beginning with '.' -------------------------------------------------------------------
def _listed_text(c: Case, cid: str) -> bool:
    call = c.call("list")
    return call.code == 0 and any(line.split()[:1] == [cid] for line in call.out.splitlines()[1:])


def _dot_lifecycle(c: Case, cid: str, **overrides: Any) -> str:
    """create + start `cid` (carrying a tagged marker); returns the marker."""
    marker = c.new_id()
    c.extra_ids.append(cid)
    b = c.bundle(cid, marker=marker, **overrides)
    c.must("create", "--bundle", str(b.path), cid)
    c.must("start", cid)
    _, st = c.state(cid)
    if st is None or st.get("status") != "running" or st.get("id") != cid:
        c.outcome.failures.append(f"state of {cid!r} after start: {st}")
    listed = c.listed()
    if listed is not None and cid not in listed:
        c.outcome.failures.append(f"`list --format json` omits {cid!r}")
    if not _listed_text(c, cid):
        c.outcome.failures.append(f"`list` omits {cid!r}")
    return marker


@unit("dot-ids", ".hidden works and is listed")
def dot_hidden(s: Suite) -> None:
    with s.case("dot-ids", ".hidden") as c:
        marker = _dot_lifecycle(c, ".hidden")
        c.must("delete", "--force", ".hidden")
        c.check_leaks([".hidden"], markers=[marker], stage="after delete --force")


SECCOMP = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["swapon"], "action": "SCMP_ACT_ERRNO"}],
}


@unit("dot-ids", ".cache next to seccomp containers")
def dot_cache(s: Suite) -> None:
    with s.case("dot-ids", ".cache between two seccomp containers") as c:
        first = c.new_id()
        c.must(*c.create_args(c.bundle(first, linux={"seccomp": SECCOMP}), first))
        marker = _dot_lifecycle(c, ".cache", linux={"seccomp": SECCOMP})
        second = c.new_id()
        made = c.call(*c.create_args(c.bundle(second, linux={"seccomp": SECCOMP}), second))
        if made.code != 0:
            c.outcome.failures.append(f"a seccomp container after .cache: {made.describe()}")
        c.must("delete", "--force", ".cache")
        gone = c.call("state", ".cache")
        if gone.code != 1:
            c.outcome.failures.append(f"state of the deleted .cache: {gone.describe()}")
        for cid in (first, second):
            _, st = c.state(cid)
            if made.code == 0 and (st is None or st.get("status") != "created"):
                c.outcome.failures.append(f"{cid} broke after .cache came and went: {st}")
        c.check_leaks([".cache"], markers=[marker], stage="after delete --force")
        for cid in (first, second):
            c.call("delete", "--force", cid)
        c.check_leaks([first, second], stage="after delete --force")


@unit("dot-ids", "'.' and '..' are refused and touch nothing outside --root")
def dot_dot(s: Suite) -> None:
    with s.case("dot-ids", "'.' and '..'") as c:
        marker = c.new_id()
        b = c.bundle(marker)
        c.must(*c.create_args(b, marker))  # so --root exists and holds a container
        before = sorted(os.listdir(c.workdir))
        for cid in (".", ".."):
            for args in (("create", "--bundle", str(b.path), cid), ("state", cid), ("delete", "--force", cid)):
                call = c.call(*args)
                if call.code != 1 or clear_error(call):
                    c.outcome.failures.append(f"id {cid!r}: want exit 1 and a clear error: {call.describe()}")
        after = sorted(n for n in os.listdir(c.workdir) if n != "io")
        if after != [n for n in before if n != "io"]:
            c.outcome.failures.append(f"ids '.'/'..' changed the work dir or --root: {before} -> {after}")
        _, st = c.state(marker)
        if st is None or st.get("status") != "created":
            c.outcome.failures.append(f"the bystander container broke: {st}")
        c.call("delete", "--force", marker)
        c.check_leaks([marker], stage="after delete --force")


GROUPS: list[str] = []
for _u in UNITS:
    if _u.group not in GROUPS:
        GROUPS.append(_u.group)
