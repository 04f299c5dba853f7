"""railcar list [--format table|json] [-q]"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    from railcar import posixos as os
    from railcar.errors import RailcarError
    from railcar.state import Container, list_ids

    rows = []
    for cid in list_ids(g.root):
        try:
            c = Container.load(g.root, cid, lock=False)
            st = c.oci_state()
        except RailcarError as e:
            if e.msg != "container does not exist":  # else deleted meanwhile
                from railcar import log  # one bad state is reported, the others still listed

                log.warning(f"list: {e.msg}")
            continue
        if not st.get("owner"):
            st["owner"] = _owner(c.dir)
        rows.append(st)
    fmt = args["--format"]
    if args["--quiet"]:
        out = "".join(r["id"] + "\n" for r in rows)
    elif fmt == "json":
        import orjson

        def entry(r: dict) -> dict:  # runc's shape: annotations only when there are some
            e = {"ociVersion": r["ociVersion"], "id": r["id"], "pid": r["pid"], "status": r["status"],
                 "bundle": r["bundle"], "rootfs": r["rootfs"], "created": r["created"]}
            if r.get("annotations"):
                e["annotations"] = r["annotations"]
            e["owner"] = r["owner"]
            return e

        out = orjson.dumps([entry(r) for r in rows]).decode() + "\n"
    elif fmt == "table":
        table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        table += [(r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"])
                  for r in rows]
        widths = [max(len(t[i]) for t in table) for i in range(len(table[0]))]
        out = "".join("   ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip() + "\n" for t in table)
    else:
        raise RailcarError(f"invalid format option: {fmt!r} (table or json)")
    from railcar.log import raw

    os.write(1, raw(out))  # bundle paths are bytes, not always UTF-8
    return 0


def _owner(d: str) -> str:
    """runc's OWNER: the name of the state directory's owner ("#<uid>" without one)."""
    from railcar import posixos as os

    try:
        uid = os.stat(d).st_uid
    except OSError:
        return "root"
    if uid == 0:
        return "root"
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"#{uid}"
