"""OCI hooks: each gets the state JSON on stdin, its args and env, and its timeout."""

from __future__ import annotations

from railcar.errors import RailcarError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def run(kind: str, hooks: list[dict[str, Any]], state: dict[str, Any],
        preexec: Callable[[], None] | None = None) -> None:
    """Run hooks in order; the first failure raises RailcarError naming the hook."""
    if not hooks:
        return
    from railcar.jsonfast import dumps

    data = dumps(state).encode()
    for i, h in enumerate(hooks):
        _run_one(f"{kind} hook #{i}", h, data, preexec)


def _run_one(name: str, h: dict[str, Any], data: bytes, preexec: Callable[[], None] | None) -> None:
    import subprocess

    path = h["path"]
    args = h.get("args") or [path]
    timeout = h.get("timeout")
    what = f"{name} ({path})"
    try:
        p = subprocess.Popen(args, executable=path, env=_env(h.get("env")), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
                             preexec_fn=preexec, start_new_session=True)
    except OSError as e:
        from railcar.state import strerror

        raise RailcarError(f"{what}: {strerror(e.errno)}") from None
    try:
        out, err = p.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(p)
        raise RailcarError(f"{what}: timed out after {timeout}s") from None
    except BrokenPipeError:
        out, err = b"", b""
        p.wait()
    if p.returncode != 0:
        detail = (err or out).decode("utf-8", "replace").strip()
        how = (f"exit status {p.returncode}" if p.returncode > 0 else f"killed by signal {-p.returncode}")
        raise RailcarError(f"{what}: {how}" + (f", stderr: {detail}" if detail else ""))


def _env(env: list[str] | None) -> dict[str, str] | None:
    """The hook's env; absent means the runtime's own (runc's exec.Cmd), so a hook written
    without one still has PATH (nvidia-container-runtime-hook, hooks.d)."""
    if env is None:
        return None
    out: dict[str, str] = {}
    for kv in env:
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def _kill(p: Any) -> None:
    import os

    try:
        os.killpg(p.pid, 9)
    except OSError:
        pass
    p.wait()


def run_logged(kind: str, hooks: list[dict[str, Any]], state: dict[str, Any]) -> None:
    """poststart/poststop: a failure is logged and the remaining hooks still run (the spec)."""
    from railcar import log
    from railcar.jsonfast import dumps

    data = dumps(state).encode()
    for i, h in enumerate(hooks):
        try:
            _run_one(f"{kind} hook #{i}", h, data, None)
        except RailcarError as e:
            log.warning(e.msg)
