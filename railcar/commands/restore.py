"""railcar restore ID: a container from a CRIU checkpoint, set up as `create` would (state dir,
cgroup, pid file), then running; without --detach wait for it and delete it, as `run` does."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    import os

    from railcar import cgroups, container, criu, spec
    from railcar.commands.checkpoint import criu_opts, image_dirs
    from railcar.errors import RailcarError
    from railcar.jsonfast import loads
    from railcar.log import now_rfc3339
    from railcar.state import Container, check_id, proc_start_time, write_fast, write_pid_file

    cid = args["<id>"]
    check_id(cid)
    if os.path.exists(os.path.join(g.root, cid)):
        raise RailcarError(f"container with id {cid} already exists")
    binary = criu.check(g, "restore")
    opts = criu_opts(args)
    image, work = image_dirs(args, "restore", False)
    bundle = os.path.abspath(args["--bundle"])
    cfg = spec.load(bundle)
    if (cfg.get("process") or {}).get("terminal"):
        raise RailcarError("restore: process.terminal containers cannot be restored by railcar yet")
    init = True
    try:
        with open(os.path.join(image, criu.META), "rb") as f:
            init = bool(loads(f.read()).get("init", True))  # type: ignore[union-attr]
    except (OSError, ValueError, AttributeError):
        pass
    rootfs = cfg["root"]["path"]
    rootfs = rootfs if os.path.isabs(rootfs) else os.path.join(bundle, rootfs)
    c = Container.claim(g.root, cid)
    cg = None
    cg_made = False
    pid = 0
    croot = os.path.join(c.dir, "criu-root")
    mounted = False
    fds: list[int] = []
    try:
        linux = cfg.get("linux") or {}
        cg = cgroups.at(linux.get("cgroupsPath") or "", cid, g.systemd_cgroup)
        c.data = {
            "ociVersion": cfg.get("ociVersion", ""), "id": cid, "pid": 0, "pid_start": 0,
            "bundle": bundle, "rootfs": rootfs, "created": "", "annotations": cfg.get("annotations") or {},
            "owner": "", "cgroup": cg.to_state(), "hooks": cfg.get("hooks") or {}, "init": init,
            "config": cfg,
        }
        c.save()  # intent first: a restore killed from here on leaves enough for delete --force
        cg.make(linux.get("resources"))
        cg_made = True
        c.data["cgroup"] = cg.to_state()
        criu.mount_root(rootfs, croot, bool(cfg["root"].get("readonly")))
        mounted = True
        pidfile = os.path.join(c.dir, "criu.pid")
        argv, fds = criu.restore_args(cfg, bundle, opts, image, work, croot, pidfile, cg)
        cgroup = cg

        def enter_cgroup() -> None:  # criu and so the restored tree start in the new cgroup
            cgroup.add(os.getpid())

        criu.run(binary, argv, fds, work, "restore.log", "restore", preexec=enter_cgroup)
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError) as e:
            raise RailcarError(f"restore: criu wrote no pid to {pidfile}: {e}") from None
        st = proc_start_time(pid)
        c.data["pid"] = pid
        c.data["pid_start"] = st[1] if st else 0
        c.data["created"] = now_rfc3339()
        c.save()
        write_fast(c, cg)
        if args["--pid-file"]:
            write_pid_file(args["--pid-file"], pid)
    except BaseException:
        if mounted:
            criu.umount_root(croot)
            mounted = False
        if pid > 0:
            container.kill_and_reap(pid)
        if cg is not None and cg_made:
            try:
                cg.destroy(kill=True)
            except Exception:
                pass
        try:
            c.remove()
        except RailcarError:
            pass  # the restore's own error is the one to report
        raise
    finally:
        for fd in fds:
            if fd > 2 and fd != opts.get("status_fd"):
                os.close(fd)
        if mounted:
            criu.umount_root(croot)
    hooks = cfg.get("hooks") or {}
    if hooks.get("poststart"):
        from railcar import hooks as hk

        hk.run_logged("poststart", hooks["poststart"], c.oci_state())
    if args["--detach"]:
        return 0
    c.unlock()
    from railcar.commands.run import _wait

    code = _wait(pid, None)
    try:
        container.destroy(Container.load(g.root, cid))
    except RailcarError:
        pass
    return code
