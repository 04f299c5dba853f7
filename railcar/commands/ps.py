"""railcar ps [--format table|json] ID [ps-args]: the processes in the container's cgroup."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    import os

    from railcar.errors import RailcarError
    from railcar.state import Container

    c = Container.load(g.root, args["<id>"], lock=False)
    pids: list[int] = []
    cg = c.cgroup()
    if cg is not None and cg.dirs():
        pids = sorted(cg.pids())
    elif c.alive():  # no cgroup (rootless without a delegated one): the init and its descendants
        from railcar.rootless import pids_without_cgroup

        pids = sorted(pids_without_cgroup(c.pid))
    fmt = args["--format"]
    if fmt == "json":
        os.write(1, ("[" + ",".join(map(str, pids)) + "]\n").encode())
        return 0
    if fmt != "table":
        raise RailcarError(f"invalid format option: {fmt!r} (table or json)")
    import subprocess

    ps_args = args["<ps-args>"] or ["-ef"]
    try:
        got = subprocess.run(["ps", *ps_args], capture_output=True, check=True).stdout
        out = got.decode("utf-8", "surrogateescape")
    except OSError as e:
        from railcar.errors import strerror

        raise RailcarError(f"ps: {strerror(e.errno)}") from None
    except subprocess.CalledProcessError as e:  # runc's words: ps's own message after the status
        why = e.stderr.decode("utf-8", "surrogateescape").strip()
        raise RailcarError(f"exit status {e.returncode}: {why}") from None
    lines = out.splitlines()
    if not lines:
        return 0
    header = lines[0]
    cols = header.split()
    if "PID" not in cols:
        raise RailcarError("ps output has no PID column")
    at = cols.index("PID")
    wanted = set(pids)
    keep = [header] + [ln for ln in lines[1:] if len(ln.split()) > at and ln.split()[at].isdigit()
                       and int(ln.split()[at]) in wanted]
    from railcar.log import raw

    os.write(1, raw("\n".join(keep) + "\n"))  # command lines are bytes, not always UTF-8
    return 0

