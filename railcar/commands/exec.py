"""railcar exec: run another process in a running container, from a
process.json (--process) or inline (`exec [opts] ID CMD...`)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.cgroups import Manager
    from railcar.cli import Globals


def process_spec(args: dict, cfg: dict[str, Any]) -> dict[str, Any]:
    """The process to run: process.json as is, or the container's process with the
    inline overrides (runc's rules)."""
    from railcar.errors import RailcarError

    if args["--process"]:
        from railcar import spec
        from railcar.jsonfast import loads
        from railcar.spec import process

        path = args["--process"]
        try:
            with open(path, "rb") as f:
                raw = f.read()
            proc = loads(raw)
        except OSError as e:
            from railcar.errors import strerror

            raise RailcarError(f"open {path}: {strerror(e.errno)}") from None
        except ValueError as e:
            raise RailcarError(f"{path}: invalid JSON: {e}") from None
        except RecursionError:
            raise RailcarError(f"{path}: invalid JSON: nested too deeply") from None
        if not isinstance(proc, dict):
            raise RailcarError(f"{path}: must be a JSON object")
        try:
            spec.check_strings(raw, {"process": proc}, ("process",))
            process.validate(proc, "process")
        except RailcarError as e:  # the file, not config.json, is at fault: name it
            raise RailcarError(f"{path}: {e}") from None
        return proc
    if not args["<command>"]:
        raise RailcarError('exec: a command is required (or --process FILE)')
    base = dict(cfg.get("process") or {})
    proc: dict[str, Any] = {k: v for k, v in base.items() if k not in ("terminal", "consoleSize")}
    proc["args"] = list(args["<command>"])
    proc["terminal"] = bool(args["--tty"])
    env = list(base.get("env") or [])
    for kv in args["--env"]:
        k = kv.split("=", 1)[0]
        env = [e for e in env if e.split("=", 1)[0] != k] + [kv]
    proc["env"] = env
    if args["--cwd"]:
        if not args["--cwd"].startswith("/"):
            raise RailcarError(f'--cwd: must be an absolute path, got "{args["--cwd"]}"')
        proc["cwd"] = args["--cwd"]
    user = dict(base.get("user") or {})
    if args["--user"]:
        uid, _, gid = args["--user"].partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise RailcarError(f"--user: must be UID[:GID], numeric: {args['--user']!r}")
        user["uid"] = int(uid)
        user["gid"] = int(gid) if gid else 0
    if args["--additional-gids"]:
        try:  # added to the process's own, as runc
            extra = [int(x) for x in args["--additional-gids"]]
        except ValueError:
            raise RailcarError("--additional-gids: must be numbers") from None
        user["additionalGids"] = [*(user.get("additionalGids") or []), *extra]
    proc["user"] = user
    if args["--cap"]:
        caps = {k: list(v) for k, v in (base.get("capabilities") or {}).items()}
        # never inheritable (CVE-2022-29162: a non-root program would keep it across its own
        # execs); ambient only where the process already has inheritable ones, as runc
        sets = ("bounding", "effective", "permitted", "ambient") if caps.get("inheritable") else \
            ("bounding", "effective", "permitted")
        for cap in args["--cap"]:
            name = cap.upper() if cap.upper().startswith("CAP_") else "CAP_" + cap.upper()
            for k in sets:
                if name not in caps.setdefault(k, []):
                    caps[k].append(name)
        proc["capabilities"] = caps
    if args["--no-new-privs"]:
        proc["noNewPrivileges"] = True
    if args["--apparmor"]:
        proc["apparmorProfile"] = args["--apparmor"]
    if args["--process-label"]:
        proc["selinuxLabel"] = args["--process-label"]
    from railcar.spec import process

    process.validate(proc, "process")
    return proc


def cwd_source(args: dict) -> str:
    """Where exec's cwd came from, in the words of a chdir error."""
    if args["--process"]:
        return f"set in {args['--process']}"
    if args["--cwd"]:
        return "given by --cwd"
    return "set in config.json"  # the container's own process.cwd


def child_error(args: dict, stage: str, text: str, cfg: dict[str, Any], cg: Manager | None, pid: int,
                oom_before: int) -> str:
    """The child's error text, naming exec's own inputs: the C side only knows config.json."""
    if stage == "cwd":
        return text.replace("set in config.json", cwd_source(args), 1)
    from railcar.childerr import not_ready_text

    return not_ready_text(stage, text, cfg, cg, pid, oom_before)


def main(args: dict, g: Globals) -> int:
    from railcar.errors import RailcarError

    try:
        return run(args, g)
    except RailcarError as e:
        if not args["--detach"]:
            e.code = 255  # without --detach the exit code is the process's; ours is 255
        raise
    except OSError as e:
        if args["--detach"]:
            raise
        from railcar.errors import strerror

        raise RailcarError(f"exec failed: {e.filename or ''}{': ' if e.filename else ''}{strerror(e.errno)}",
                           code=255) from None


def run(args: dict, g: Globals) -> int:
    from railcar import _core, container, plan
    from railcar import posixos as os
    from railcar.cli import preserve
    from railcar.errors import RailcarError
    from railcar.spec import namespaces, process
    from railcar.state import Container, write_pid_file

    c = Container.load(g.root, args["<id>"], lock=False)
    status = c.status()
    if status == "paused" and not args["--ignore-paused"]:
        raise RailcarError("cannot exec in a paused container")
    if status == "stopped":
        raise RailcarError("container not running")
    if status == "creating":
        raise RailcarError("cannot exec in a container that is still being created")
    cfg = c.data.get("config") or {}
    proc = process_spec(args, cfg)
    run_cfg = dict(cfg)
    run_cfg["process"] = proc
    pid = c.pid
    npres = preserve(args)
    lp = plan.LaunchPlan()
    lp.floor = 3 + npres
    lp.preserve_fds = npres
    lp.exec_mode = 1
    lp.init = 0
    lp.rootfs = b"/"
    sp = None
    local = None
    try:
        for flag in namespaces.JOIN_ORDER:
            name = namespaces.NS_PROC[flag]
            path = f"/proc/{pid}/ns/{name}"
            try:
                if os.readlink(path) == os.readlink(f"/proc/self/ns/{name}"):
                    if flag == "mount" and c.data.get("host_mounts"):
                        lp.exec_root = f"/proc/{pid}/root".encode()  # its root is a chroot
                    continue
                lp.joins.append((lp.own(os.open(path, os.O_RDONLY | os.O_CLOEXEC)), namespaces.NS_FLAGS[flag]))
            except FileNotFoundError:
                continue
        process.plan(proc, lp)  # the container's hostname stays: no uts section
        # the container's score, as runc gives every exec (not process.json's, not the caller's)
        adj = (cfg.get("process") or {}).get("oomScoreAdj")
        lp.oom_score_adj = str(adj).encode() if adj is not None else None
        if args["--console-socket"] and not (args["--detach"] and proc.get("terminal")):
            raise RailcarError(container.CONSOLE_SOCKET_UNUSED)
        if proc.get("terminal"):
            if args["--console-socket"]:
                container.connect_console(args["--console-socket"], lp)
            elif not args["--detach"]:
                from railcar import console

                local = console.LocalConsole()
                lp.console_fd = lp.own(local.child_end)
                local.child_end = -1
            else:
                raise RailcarError("process.terminal is true but no --console-socket was given")
        cg = c.cgroup()
        if cg is not None:
            cg.check_made()  # never into directories the state names but create did not make
            for path in cg.procs_files():
                try:
                    lp.cgroup_fds.append(lp.own(os.open(path, os.O_WRONLY | os.O_CLOEXEC)))
                except FileNotFoundError:
                    pass
        sc = container.seccomp_program(run_cfg, g, lp)
        oom_before = 0
        if cg is not None:
            from railcar.childerr import oom_kills  # to blame an OOM kill only if it is ours

            oom_before = oom_kills(cg)
        lp.helper_fd = lp.own(_core.helper_memfd())
        lp.helper_plan_fd = lp.own(_core.data_memfd(plan.helper_plan(run_cfg, lp, False, sc)))
        sp = _core.Spawn()
        r = sp.start(lp)
        if sp.first_pid != sp.pid:
            container.reap(sp.first_pid)
        if r < 0:
            stage, err, text = sp.error()
            text = child_error(args, stage, text, run_cfg, cg, sp.pid, oom_before)
            raise RailcarError(container.child_error(stage, err, text))
        if sp.passed_fd >= 0:
            container.send_listener(sc, sp.passed_fd, c.oci_state(), sp.pid)
        if args["--pid-file"]:
            write_pid_file(args["--pid-file"], sp.pid)
        if local is not None:
            local.receive_master()
    except BaseException:
        if sp is not None and sp.pid > 0:
            container.kill_and_reap(sp.pid)
        if local is not None:
            local.close()
        raise
    finally:
        if sp is not None and sp.sync_fd >= 0:
            os.close(sp.sync_fd)
        lp.close()
    if args["--detach"]:
        return 0
    from railcar.commands.run import _wait

    code = _wait(sp.pid, local)
    if local is not None:
        local.close()
    return code
