"""OCI hooks: each gets the state JSON on stdin, its args and env, and its timeout."""

from __future__ import annotations

from railcar.errors import RailcarError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def run(kind: str, hooks: list[dict[str, Any]], state: dict[str, Any],
        ns_fds: list[int] | None = None, record: str | None = None) -> None:
    """Run hooks in order; the first failure raises RailcarError naming the hook.

    Each hook runs in its own session and dies with the runtime (SIGKILL on the parent's
    death); while it runs, `record` (a file in the container's state dir) names its session,
    so that delete --force finds and kills what a killed runtime's hook left running. With
    `ns_fds` (createContainer), the hook joins those namespaces, in order, before its exec."""
    if not hooks:
        return
    from railcar import trace
    from railcar.jsonfast import dumps

    data = dumps(state).encode()
    for i, h in enumerate(hooks):
        _run_one(f"{kind} hook #{i}", h, data, ns_fds, record)
    trace.mark(f"{kind} hooks")


def _run_one(name: str, h: dict[str, Any], data: bytes, ns_fds: list[int] | None,
             record: str | None) -> None:
    """One hook through the C core (csrc/hooks.c): no Python runs between its fork and exec."""
    from railcar import _core
    from railcar.errors import strerror

    path = h["path"]
    args = h.get("args") or [path]
    timeout = h.get("timeout")
    what = f"{name} ({path})"
    try:
        argv = [_fs(a) for a in args]
        env = _env(h.get("env"))
        exe = _fs(path)
    except ValueError as e:  # an embedded NUL, a lone surrogate: no exec could take it
        raise RailcarError(f"{what}: {e}") from None
    hook = _core.Hook()
    try:
        hook.spawn(exe, argv, env, ns_fds or [], data)
    except OSError as e:  # execve's errno alone, as before; an earlier step is named
        how = strerror(e.errno) if e.strerror == "exec" else f"{e.strerror}: {strerror(e.errno)}"
        raise RailcarError(f"{what}: {how}") from None
    if record:
        _record(record, hook.pid)
    try:
        if not hook.communicate(timeout or 0):
            hook.kill()
            raise RailcarError(f"{what}: timed out after {timeout}s")
    except OSError as e:
        raise RailcarError(f"{what}: {e.strerror}: {strerror(e.errno)}") from None
    finally:
        _unrecord(record, hook)
    code = hook.returncode
    if code != 0:
        out, err = hook.output()
        detail = (err or out).decode("utf-8", "replace").strip()
        how = f"exit status {code}" if code > 0 else f"killed by signal {-code}"
        raise RailcarError(f"{what}: {how}" + (f", stderr: {detail}" if detail else ""))


def _fs(s: str) -> bytes:
    """An argument as the kernel takes it (plan.enc); ValueError if it cannot be one."""
    from railcar.plan import enc

    b = enc(s)
    if b"\0" in b:
        raise ValueError("embedded null byte")
    return b


def _env(env: list[str] | None) -> list[bytes] | None:
    """The hook's env, exactly: one K=V per name (the last value given wins, at the place of the
    first; "K" alone is "K="); absent means the runtime's own (runc's exec.Cmd), so a hook
    written without one still has PATH (nvidia-container-runtime-hook, hooks.d)."""
    if env is None:
        return None
    out: dict[str, str] = {}
    for kv in env:
        k, _, v = kv.partition("=")
        out[k] = v
    return [_fs(f"{k}={v}") for k, v in out.items()]


def run_logged(kind: str, hooks: list[dict[str, Any]], state: dict[str, Any],
               record: str | None = None) -> None:
    """poststart/poststop: a failure is logged and the remaining hooks still run (the spec)."""
    from railcar import log
    from railcar.jsonfast import dumps

    data = dumps(state).encode()
    for i, h in enumerate(hooks):
        try:
            _run_one(f"{kind} hook #{i}", h, data, None, record)
        except RailcarError as e:
            log.warning(e.msg)


def _record(path: str, pid: int) -> None:
    from railcar import posixos as os
    from railcar.state import proc_start_time

    st = proc_start_time(pid)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f"{pid} {st[1] if st else 0}\n".encode())
        finally:
            os.close(fd)
    except OSError:
        pass  # the hook still dies with the runtime; only a later delete cannot find it


def _unrecord(path: str | None, hook: Any) -> None:
    from railcar import posixos as os

    if hook.returncode is None:  # interrupted while it runs: take its session down with us
        try:
            hook.kill()
        except OSError:
            pass
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


def kill_recorded(path: str) -> None:
    """SIGKILL every process of the session a record names (a killed runtime's hook and what it
    started), then drop the record. Only processes that started after the recorded leader
    are taken: a recycled pid cannot make an unrelated session a target."""
    from railcar import posixos as os

    try:
        with open(path, "rb") as f:
            pid_s, start_s = f.read(64).split()[:2]
        sid, start = int(pid_s), int(start_s)
    except (OSError, ValueError):
        sid = 0
    for _ in range(50) if sid > 1 else ():
        found = False
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2:].split()
            if int(fields[3]) == sid and int(fields[19]) >= start and fields[0] not in (b"Z", b"X"):
                found = True
                try:
                    os.kill(int(name), 9)
                except OSError:
                    pass
        if not found:
            break
        import time

        time.sleep(0.01)
    try:
        os.unlink(path)
    except OSError:
        pass
