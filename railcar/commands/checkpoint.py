"""railcar checkpoint ID: dump a running container with CRIU (see railcar/criu.py)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.cli import Globals


def criu_opts(args: dict) -> dict[str, Any]:
    """The CRIU options checkpoint and restore share, from the parsed flags."""
    from railcar.errors import RailcarError

    fd = args.get("--status-fd")
    if fd is not None and not str(fd).isdigit():
        raise RailcarError(f"--status-fd: not a number: {fd!r}")
    return {
        "tcp_established": args.get("--tcp-established"), "ext_unix_sk": args.get("--ext-unix-sk"),
        "shell_job": args.get("--shell-job"), "file_locks": args.get("--file-locks"),
        "auto_dedup": args.get("--auto-dedup"), "lazy_pages": args.get("--lazy-pages"),
        "cg_mode": args.get("--manage-cgroups-mode"), "empty_ns": args.get("--empty-ns"),
        "leave_running": args.get("--leave-running"), "parent": args.get("--parent-path"),
        "page_server": args.get("--page-server"), "status_fd": int(fd) if fd is not None else None,
    }


def image_dirs(args: dict, what: str, create: bool) -> tuple[str, str]:
    """(image dir, work dir): runc's defaults are ./checkpoint and the image dir."""
    import os

    from railcar.errors import RailcarError, strerror

    image = os.path.abspath(args.get("--image-path") or "checkpoint")
    work = os.path.abspath(args.get("--work-path") or image)
    for d in ((image, work) if create else (work,)):
        try:
            os.makedirs(d, 0o700, exist_ok=True)
        except OSError as e:
            raise RailcarError(f"{what}: mkdir {d}: {strerror(e.errno)}") from None
    if not create and not os.path.isdir(image):
        raise RailcarError(f"{what}: image directory {image}: no such file or directory")
    return image, work


def main(args: dict, g: Globals) -> int:
    import os

    from railcar import container, criu
    from railcar.errors import RailcarError
    from railcar.state import Container

    c = Container.load(g.root, args["<id>"])
    status = c.status()
    if status in ("created", "stopped"):
        raise RailcarError(f"Container cannot be checkpointed in {status} state")
    binary = criu.check(g, "checkpoint")
    why = criu.unrestorable(c)
    if why:
        raise RailcarError(f"checkpoint: {why}")
    opts = criu_opts(args)
    pre_dump = bool(args.get("--pre-dump"))
    image, work = image_dirs(args, "checkpoint", True)
    if opts["parent"] and not os.path.isdir(os.path.join(image, opts["parent"])):
        raise RailcarError(f"--parent-path: {os.path.join(image, opts['parent'])}: no such directory")
    stdio = None if pre_dump else criu.stdio_files(c.pid)
    argv, fds = criu.dump_args(c, opts, image, work, pre_dump, stdio)
    if not pre_dump:
        criu.write_descriptors(c.pid, image)
        from railcar.jsonfast import dumps
        from railcar.state import write_atomic

        meta = {"id": c.id, "init": bool(c.data.get("init", True)), "cgroup": c.data.get("cgroup"),
                "stdio_files": stdio}
        write_atomic(os.path.join(image, criu.META), dumps(meta).encode(), 0o600)
    criu.run(binary, argv, fds, work, "pre-dump.log" if pre_dump else "dump.log", "checkpoint")
    if not (pre_dump or opts["leave_running"]):
        container.kill_wait(c)  # CRIU has killed the tree; reap what is ours
        container.destroy(c)
    return 0
