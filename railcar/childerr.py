"""Why a container's process died before it was ready: the cause for `create`'s and `exec`'s error.

The C side only sees the sync socket close ("container process exited before it was ready"). The
runtime can see more: how its child ended (without reaping it: the caller still owns the pid) and
whether the cgroup's OOM killer fired; with the config, that names the limit that was too small,
as runc names the memory limit it could not set.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.cgroups import Manager

__all__ = ["NOT_READY", "not_ready_text", "oom_kills"]

NOT_READY = "container process exited before it was ready"
# rlimits that, too small, kill a process while it starts (an exec that cannot map its image)
_MEMORY_RLIMITS = ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_STACK")
_WAIT = 1.0  # seconds: the process closed the socket, so it is exiting


def not_ready_text(stage: str, text: str, cfg: dict[str, Any], cg: Manager | None, pid: int,
                   oom_before: int = 0) -> str:
    """`text`, with the cause appended when it is the not-ready error: e.g. "container process
    exited before it was ready: killed by the OOM killer (linux.resources.memory.limit 65536 is
    too small?)". `pid` is the runtime's child (the init, or the process without one); it is
    left unreaped. `oom_before`: the cgroup's OOM kills before the spawn (exec joins a cgroup
    with a past). Never raises: a cause that cannot be found is left out."""
    if stage != "start" or text != NOT_READY:
        return text
    try:
        cause = _cause(cfg, cg, pid, oom_before)
    except Exception:  # a diagnosis must not hide the error it explains
        cause = ""
    return f"{text}: {cause}" if cause else text


def oom_kills(cg: Manager | None) -> int:
    """The cgroup's OOM kill count so far (0 when unknown)."""
    if cg is None:
        return 0
    try:
        return cg.oom_count()
    except OSError:
        return 0


def _cause(cfg: dict[str, Any], cg: Manager | None, pid: int, oom_before: int) -> str:
    sig, code = _end(pid)
    if oom_kills(cg) > oom_before:
        return f"killed by the OOM killer ({_memory_limit(cfg)} too small?)"
    if sig:
        name = _signame(sig)
        rl = _memory_rlimits(cfg)
        if rl and sig in (6, 7, 9, 11):  # SIGABRT, SIGBUS, SIGKILL, SIGSEGV: what a failed map gives
            return f"killed by {name} (process.rlimits {rl} too small?)"
        return f"killed by {name}"
    if code is not None:
        return f"exited with status {code}"
    return ""


def _end(pid: int) -> tuple[int, int | None]:
    """(signal, None) or (0, exit status) of the child, or (0, None) if it has not ended. The
    init (pid 1) exits with 128+N when its process is killed by signal N; so does a shell."""
    import time

    from railcar import posixos as os

    if pid <= 0:
        return 0, None
    deadline = time.monotonic() + _WAIT
    while True:
        try:
            r = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return 0, None
        if r is not None and r.si_pid == pid:
            break
        if time.monotonic() > deadline:
            return 0, None
        time.sleep(0.002)
    if r.si_code in (os.CLD_KILLED, os.CLD_DUMPED):
        return r.si_status, None
    if r.si_status > 128:
        return r.si_status - 128, None
    return 0, r.si_status


def _memory_limit(cfg: dict[str, Any]) -> str:
    mem = ((cfg.get("linux") or {}).get("resources") or {}).get("memory") or {}
    for key in ("limit", "swap"):
        v = mem.get(key)
        if isinstance(v, int) and v > 0:
            return f"linux.resources.memory.{key} {v} is"
    return "the cgroup's memory limit is"


def _memory_rlimits(cfg: dict[str, Any]) -> str:
    found = [f"{r['type']} {r['soft']}" for r in (cfg.get("process") or {}).get("rlimits") or ()
             if r.get("type") in _MEMORY_RLIMITS]
    return ", ".join(found) + (" is" if len(found) == 1 else " are") if found else ""


def _signame(sig: int) -> str:
    import signal

    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
