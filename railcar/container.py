"""The lifecycle: create (spec → plan → spawn), start, wait, delete."""

from __future__ import annotations

from railcar import posixos as os
from railcar import trace
from railcar.errors import RailcarError, strerror
from railcar.log import now_rfc3339
from railcar.state import FIFO, HOOK, Container, private_dir, proc_start_time, write_fast, write_pid_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.cli import Globals

_RLIMIT_NAMES = ("CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK", "AS",
                 "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME")




# runc's rule and words: the pty master goes to the socket only when there is a pty and the
# caller gets the runtime back at once (create, run -d, exec -d)
CONSOLE_SOCKET_UNUSED = "cannot use console socket if railcar will not detach or allocate tty"


def child_error(stage: str, err: int, text: str) -> str:
    if stage == "rlimit" and text.startswith("setrlimit "):
        num = text.split()[1]
        if num.isdigit() and int(num) < len(_RLIMIT_NAMES):
            text = f"setrlimit RLIMIT_{_RLIMIT_NAMES[int(num)]}" + text[len("setrlimit ") + len(num):]
    if err and not (stage == "exec" and "not found in $PATH" in text):
        text = f"{text}: {strerror(err)}"
    if not text.startswith(f"{stage}: "):  # exec's texts carry their stage already, as Go's LookPath
        text = f"{stage}: {text}"
    return f"unable to start container process: {text}"


def seccomp_program(cfg: dict[str, Any], g: Globals, lp: Any) -> Any:
    section = cfg.get("linux", {}).get("seccomp")
    if not section:
        return None
    from railcar import seccomp

    trace.mark("seccomp: start")
    prog = seccomp.compile_profile(section, private_dir(g.root, "cache", "seccomp"))
    trace.mark("seccomp: compiled (or cache hit)")
    return prog


def send_listener(prog: Any, fd: int, state: dict[str, Any], pid: int) -> None:
    """NOTIFY: the agent at listenerPath gets the OCI ContainerProcessState and the fd."""
    import _socket

    from railcar.jsonfast import dumps

    msg = dumps({"ociVersion": state.get("ociVersion", ""), "fds": ["seccompFd"], "pid": pid,
                 "metadata": prog.listener_metadata, "state": state}).encode()
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(prog.listener_path)
        s.sendmsg([msg], [(1, 1, fd.to_bytes(4, "little"))])  # SOL_SOCKET, SCM_RIGHTS
    except OSError as e:
        from railcar.errors import SpecError

        raise SpecError("linux.seccomp.listenerPath",
                        f"send to {prog.listener_path}: {strerror(e.errno)}") from None
    finally:
        s.close()
        os.close(fd)


def process_pid(init_pid: int, init: bool) -> int:
    """The host pid of the container's process: the init's child, or the init itself."""
    if not init:
        return init_pid
    try:
        with open(f"/proc/{init_pid}/task/{init_pid}/children") as f:
            kids = f.read().split()
        return int(kids[0]) if kids else init_pid
    except OSError:
        return init_pid


def connect_console(path: str, lp: Any) -> None:
    import _socket

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise RailcarError(f"--console-socket: connect {path}: {strerror(e.errno)}") from None
    lp.console_fd = lp.own(s.detach())


def rootless_cgroups(g: Globals) -> bool:
    """--rootless (true, false, auto: a non-root user), as runc decides its cgroup manager."""
    from railcar import rootless

    return rootless.resolve(g.rootless, g.systemd_cgroup)


def load_config(bundle: str) -> dict[str, Any]:
    """The bundle's config.json, validated (for root and for a rootless user alike)."""
    from railcar import spec

    cfg = spec.load(os.path.abspath(bundle))
    if os.geteuid() != 0:
        from railcar import rootless

        rootless.check_config(cfg)
    return cfg


def create(g: Globals, cid: str, bundle: str, *, pid_file: str | None = None,
           console_socket: str | None = None, console_fd: int = -1, no_pivot: bool = False,
           preserve_fds: int = 0, init: bool = True, detach: bool = True,
           cfg: dict[str, Any] | None = None) -> Container:
    """Everything up to the container blocked before its program; returns the claimed state.
    `cfg`: the bundle's config as load_config gave it, when the caller has read it already."""
    from railcar import _core, cgroups, plan

    bundle = os.path.abspath(bundle)
    if cfg is None:
        cfg = load_config(bundle)
    if console_socket and not (detach and cfg["process"].get("terminal")):
        raise RailcarError(CONSOLE_SOCKET_UNUSED)
    trace.mark("config loaded and validated")
    c = Container.claim(g.root, cid)
    lp = plan.LaunchPlan()
    lp.floor = 3 + preserve_fds
    cg = None
    cg_made = False
    sp = None
    try:
        ns, rootfs = plan.prepare(cfg, bundle, lp)
        lp.no_pivot = 1 if no_pivot else 0
        lp.preserve_fds = preserve_fds
        lp.init = 1 if init else 0
        proc = cfg["process"]
        if proc.get("terminal"):
            if console_socket:
                connect_console(console_socket, lp)
            elif console_fd >= 0:
                lp.console_fd = lp.own(os.dup(console_fd))
            else:
                raise RailcarError("process.terminal is true but no --console-socket was given")
        sc = seccomp_program(cfg, g, lp)
        linux = cfg.get("linux", {})
        hooks = cfg.get("hooks") or {}
        cg_path = linux.get("cgroupsPath") or ""
        rootless_cg = rootless_cgroups(g)
        layout = None
        if rootless_cg and not cg_path and not g.systemd_cgroup:
            # runc's: below the runtime's own cgroup (a delegated session's); on cgroup v2 beside
            # it, since a cgroup with processes in it cannot give controllers to a child
            cg_path = cid
            layout = cgroups.detect()
            if layout.kind == "v2":
                cg_path = os.path.dirname(layout.own_v2.rstrip("/")).rstrip("/") + "/" + cid
        cg = cgroups.at(cg_path, cid, g.systemd_cgroup, layout)
        cg.rootless = rootless_cg
        c.data = {
            "ociVersion": cfg.get("ociVersion", ""), "id": cid, "pid": 0, "pid_start": 0,
            "bundle": bundle, "rootfs": rootfs, "created": "", "annotations": cfg.get("annotations") or {},
            "owner": "", "cgroup": cg.to_state(), "hooks": hooks, "init": bool(init),
            "config": cfg, "creating": True,
        }
        if lp.host_mounts:  # its mounts are the runtime's: delete unmounts them
            c.data["host_mounts"] = True
        # intent first: a create killed from here on leaves what delete --force needs to find
        # and remove everything it made (the cgroup directories, the hook it ran, the process)
        c.save()
        cg.make(linux.get("resources"))
        cg_made = True
        trace.mark("cgroup created")
        for path in cg.procs_files():
            lp.cgroup_fds.append(lp.own(os.open(path, os.O_WRONLY | os.O_CLOEXEC)))
        plan.filesystem(cfg, bundle, lp, ns, cg)
        fifo = os.path.join(c.dir, FIFO)
        os.mkfifo(fifo, 0o600)
        lp.fifo_fd = lp.own(os.open(fifo, os.O_RDWR | os.O_CLOEXEC))
        # a time namespace's offsets would shift the child's clock against ours
        lp.trace = 1 if trace.enabled and not lp.timens_offsets else 0
        lp.helper_fd = lp.own(_core.helper_memfd())
        lp.helper_plan_fd = lp.own(_core.data_memfd(plan.helper_plan(cfg, lp, init, sc)))
        c.data["cgroup"] = cg.to_state()  # what mkdir found usable (saved with the pid)
        trace.mark("launch plan built")
        sp = _core.Spawn()
        r = sp.start(lp)
        while r == 1:
            trace.mark("child: rootfs ready (hooks pause)")
            _creation_hooks(c, hooks, sp.pid)
            r = sp.resume()
        if sp.first_pid != sp.pid:
            reap(sp.first_pid)
        for name, ns in sp.trace_marks():
            trace.add(name, ns)
        if r < 0:
            from railcar.childerr import not_ready_text

            stage, err, text = sp.error()
            raise RailcarError(child_error(stage, err, not_ready_text(stage, text, cfg, cg, sp.pid)))
        trace.mark("container ready (blocked before its program)")
        st = proc_start_time(sp.pid)
        c.data["pid"] = sp.pid
        c.data["pid_start"] = st[1] if st else 0
        c.data["created"] = now_rfc3339()
        del c.data["creating"]
        if sp.passed_fd >= 0:
            send_listener(sc, sp.passed_fd, c.oci_state(), process_pid(sp.pid, init))
        c.save()
        write_fast(c, cg)
        if pid_file:
            write_pid_file(pid_file, sp.pid)
        if lp.trace:  # the helper's last stages arrive after start (run reads them)
            c.trace_fd = os.dup(sp.sync_fd)
        return c
    except BaseException:
        if sp is not None and sp.pid > 0:
            kill_and_reap(sp.pid)
            if sp.first_pid != sp.pid:
                reap(sp.first_pid)
        if cg_made and cg is not None:
            try:
                cg.destroy(kill=True)
            except Exception:
                pass
        if c.data.get("host_mounts"):
            release_host_mounts(c)
        _poststop_after_failure(c, sp)
        try:
            c.remove()
        except RailcarError:
            pass  # the create's own error is the one to report
        raise
    finally:
        if sp is not None and sp.sync_fd >= 0:
            os.close(sp.sync_fd)
        lp.close()


def _poststop_after_failure(c: Container, sp: Any) -> None:
    """A create that failed once the container existed destroys it: poststop hooks run (logged,
    as at delete), so cleanup hooks such as a network teardown are not skipped (runc does too)."""
    hooks = (c.data or {}).get("hooks") or {}
    if sp is None or not hooks.get("poststop"):
        return
    try:
        from railcar import hooks as hk

        state = c.oci_state()
        state["status"] = "stopped"
        hk.run_logged("poststop", hooks["poststop"], state, os.path.join(c.dir, HOOK))
    except Exception:
        pass


def _creation_hooks(c: Container, hooks: dict[str, Any], pid: int) -> None:
    from railcar import hooks as hk

    c.data["pid"] = pid
    st = proc_start_time(pid)
    c.data["pid_start"] = st[1] if st else 0
    state = c.oci_state()
    state["status"] = "creating"
    record = os.path.join(c.dir, HOOK)
    hk.run("prestart", hooks.get("prestart") or [], state, record=record)
    hk.run("createRuntime", hooks.get("createRuntime") or [], state, record=record)
    if hooks.get("createContainer"):
        fds = _ns_fds(pid)
        try:
            hk.run("createContainer", hooks["createContainer"], state, ns_fds=fds, record=record)
        finally:
            for fd in fds:
                os.close(fd)


def _ns_fds(pid: int) -> list[int]:
    fds = []
    from railcar.spec.namespaces import JOIN_ORDER, NS_PROC

    for name in (NS_PROC[t] for t in JOIN_ORDER if t != "time"):
        path = f"/proc/{pid}/ns/{name}"
        if os.readlink(path) != os.readlink(f"/proc/self/ns/{name}"):
            fds.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
    return fds


def reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    reap(pid)


def start(c: Container) -> None:
    """Release the container's process: one byte into the exec fifo."""
    status = c.status()
    if status == "stopped":
        raise RailcarError("cannot start a container that has stopped")
    if status == "paused":
        raise RailcarError("cannot start a container in the paused state")
    if status != "created":
        raise RailcarError("cannot start an already running container")
    fifo = os.path.join(c.dir, FIFO)
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == 6:  # ENXIO: nobody reads: the process is gone
            raise RailcarError("cannot start a container that has stopped") from None
        raise RailcarError(f"open {fifo}: {strerror(e.errno)}") from None
    from railcar.jsonfast import dumps

    state = c.oci_state(status)  # "created": what startContainer hooks see, as runc gives them
    data = dumps(state).encode()
    # the state (startContainer hooks' stdin) may exceed the pipe's 64 KiB (annotations): the
    # open was non-blocking only to see ENXIO, the write is blocking and whole
    view = memoryview(len(data).to_bytes(4, "little") + data)
    try:
        os.set_blocking(fd, True)
        while view:
            view = view[os.write(fd, view):]
    except BrokenPipeError:
        raise RailcarError("cannot start a container that has stopped") from None
    finally:
        os.close(fd)
    os.unlink(fifo)
    hooks = c.data.get("hooks") or {}
    if hooks.get("poststart"):
        from railcar import hooks as hk

        _await_program(c, hooks.get("startContainer") or [])
        hk.run_logged("poststart", hooks["poststart"], c.oci_state(), os.path.join(c.dir, HOOK))


def _await_program(c: Container, start_hooks: list[dict[str, Any]]) -> None:
    """poststart hooks run "after the user-specified process is executed" (the spec), so after
    the startContainer hooks the helper runs before that exec: wait until the process that runs
    them (the init with --no-init, else the init's child) has left the helper's image, or is
    gone. Bounded: past the hooks' own timeouts plus 10 s, the poststart hooks run anyway."""
    import time

    pid = c.pid
    deadline = time.monotonic() + 10 + sum(h.get("timeout") or 0 for h in start_hooks)
    delay = 0.0005
    while time.monotonic() < deadline:
        if c.data.get("init"):
            try:
                with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
                    pids = [int(p) for p in f.read().split()]
            except OSError:
                return  # gone, or a kernel without the children file: nothing to wait on
        else:
            pids = [pid]
        if not any(_in_helper(p) for p in pids):
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


def _in_helper(pid: int) -> bool:
    """Whether `pid` still runs the helper's image (the sealed memfd), not yet the program's."""
    try:
        return os.readlink(f"/proc/{pid}/exe").startswith("/memfd:railcar-init")
    except OSError:
        return False


def destroy(c: Container, force: bool = False) -> None:
    """Free what a stopped (or killed) container holds; poststop hooks; state dir. With `force`
    (delete --force), a state whose cgroup is not the container's is dropped all the same, and
    the directories the fast path's copy names are removed instead."""
    kill_leftover_hook(c)
    if c.data.get("host_mounts"):
        release_host_mounts(c)
    cg = c.cgroup()
    if cg is not None:
        from railcar.cgroups import NotOurs

        try:
            cg.destroy(kill=True)
        except NotOurs as e:
            if not (force or c.data.get("corrupt")):
                raise
            from railcar import log  # touch nothing it names; what the fast file names, if ours

            log.warning(f"container {c.id}: {e.msg}")
            _destroy_fast_copy(c, cg.dirs())
        except OSError as e:
            raise RailcarError(f"remove cgroup of {c.id}: {strerror(e.errno)}") from None
    hooks = c.data.get("hooks") or {}
    if hooks.get("poststop"):
        from railcar import hooks as hk

        hk.run_logged("poststop", hooks["poststop"], c.oci_state(), os.path.join(c.dir, HOOK))
    c.remove()


def _destroy_fast_copy(c: Container, refused: list[str]) -> None:
    """The cgroup directories the fast path's file recorded, when state.json names others."""
    from railcar import log
    from railcar.cgroups import from_state
    from railcar.state import fast_cgroup

    saved = fast_cgroup(c.dir)
    if saved is None or sorted(saved["v1"].values()) == sorted(refused):
        return
    try:
        from_state(saved).destroy(kill=True)
    except RailcarError as e:
        log.warning(f"container {c.id}: {e.msg}")


def release_host_mounts(c: Container) -> None:
    """A container without a mount namespace made its mounts in the runtime's: unmount every
    mount below its rootfs (deepest first), so that delete leaves the host as it was."""
    from railcar import _core

    rootfs = c.data.get("rootfs") or ""
    if not rootfs.startswith("/") or rootfs == "/":
        return
    prefix = rootfs.rstrip("/") + "/"
    with open("/proc/self/mountinfo", "rb") as f:
        points = [_unescape(line.split()[4]) for line in f.read().splitlines()]
    for mp in sorted({m for m in points if m.startswith(prefix.encode())}, key=len, reverse=True):
        try:
            _core.umount(mp, 2)  # MNT_DETACH
        except OSError as e:
            if e.errno not in (22, 2):  # EINVAL, ENOENT: gone already (a parent went first)
                raise RailcarError(f"unmount {mp.decode(errors='replace')}: {strerror(e.errno)}") from None


def _unescape(field: bytes) -> bytes:
    """mountinfo's octal escapes (\\040 for a space, ...)."""
    import re

    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), field)


def kill_leftover_hook(c: Container) -> None:
    """A hook that a killed runtime left running (its session is recorded in the state dir)."""
    record = os.path.join(c.dir, HOOK)
    if os.path.exists(record):
        from railcar import hooks as hk

        hk.kill_recorded(record)


def kill_wait(c: Container, timeout: float = 10.0) -> None:
    """SIGKILL the init (and the cgroup) and wait until it is gone."""
    import time

    pid = c.pid
    if c.alive():
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while c.alive() and time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
        except ChildProcessError:
            pass
        time.sleep(0.002)
