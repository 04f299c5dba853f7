"""CRIU for `checkpoint` and `restore`: the host check, and `criu dump|pre-dump|restore` command lines.

runc drives CRIU over its RPC socket (`criu swrk`); railcar uses the command line with the same
options: the rootfs as --root, the init pid as the tree, bind mounts (config binds, the v1 cgroup
directories, masked paths, host /sys, bound devices) as external mounts, joined net/pid namespaces as
external namespaces, cgroups managed by CRIU (--manage-cgroups) and the container's stdio pipes
handed over to the restored tree (descriptors.json, as runc writes it); stdio that is a host file
(the host's /dev/null, a log file) goes as an external file, replaced by restore's own as well.
"""

from __future__ import annotations

import os

from railcar.errors import RailcarError, strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.cgroups import Manager
    from railcar.cli import Globals

DESCRIPTORS = "descriptors.json"  # runc's name: the init's fds 0-2 at dump time
META = "railcar.json"  # what restore needs besides the config: the init mode
CG_MODES = ("soft", "full", "strict", "ignore")
_EXT_NS = {"network": ("net", "extRootNetNS"), "pid": ("pid", "extRootPidNS")}


def _criu_path(g: Globals) -> str:
    import shutil

    path = g.criu if "/" in g.criu else shutil.which(g.criu)
    if not path or not os.access(path, os.X_OK):
        raise RailcarError(f"criu not found ({g.criu!r}): install criu or pass --criu PATH")
    return path


def _reason(out: str) -> str:
    """CRIU's own words: its `Error (file:line): text` lines, without the location."""
    msgs = []
    for line in out.splitlines():
        line = line.strip()
        if "Error (" in line:  # in a log: "(00.100674)      1: Error (criu/x.c:12): text"
            line = line.split("Error (", 1)[1].split("): ", 1)[-1]
        elif not line or line.startswith(("Warn", "Looks good")):
            continue
        if line and not line.startswith("exited, status=") and line not in msgs:
            msgs.append(line)
    return "; ".join(msgs) or "no reason given"


def check(g: Globals, what: str) -> str:
    """The criu binary, once `criu check` has passed; else RailcarError quoting CRIU.

    The verdict is cached per criu binary and boot (a kernel change means a reboot)."""
    import subprocess

    from railcar.jsonfast import dumps, loads
    from railcar.state import private_dir, write_atomic

    if os.geteuid() != 0:
        raise RailcarError(f"{what}: not supported rootless: CRIU needs privileges this user lacks "
                           "(CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, to read and recreate the "
                           "container's processes and namespaces): run it as root")
    path = _criu_path(g)
    st = os.stat(path)
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        boot = ""
    key = f"{path} {st.st_mtime_ns} {st.st_size} {boot}"
    cache = private_dir(g.root, "cache", "criu-check.json")
    verdict: dict[str, Any] | None = None
    try:
        with open(cache, "rb") as f:
            verdict = loads(f.read())  # type: ignore[assignment]
        if not isinstance(verdict, dict) or verdict.get("key") != key:
            verdict = None
    except (OSError, ValueError):
        verdict = None
    if verdict is None:
        try:
            res = subprocess.run([path, "check"], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RailcarError(f"{what}: run {path} check: {e}") from None
        out = (res.stderr + res.stdout).decode(errors="replace")
        verdict = {"key": key, "ok": res.returncode == 0, "reason": _reason(out)}
        try:
            os.makedirs(os.path.dirname(cache), 0o700, exist_ok=True)
            write_atomic(cache, dumps(verdict).encode(), 0o600)
        except OSError:
            pass  # a cache, nothing more
    if not verdict["ok"]:
        raise RailcarError(f"{what}: CRIU cannot checkpoint/restore on this host: `criu check` failed: "
                           f"{verdict['reason']}")
    return path


# --- external resources ---------------------------------------------------------------------------

def _mountpoints(pid: int) -> set[str]:
    """Mount points as the container's init sees them (relative to its root)."""
    try:
        with open(f"/proc/{pid}/mountinfo") as f:
            return {line.split()[4].replace("\\040", " ") for line in f}
    except OSError:
        return set()


def _abs(p: str) -> str:
    """A container path, cleaned and rooted: "/sys" stays "/sys" (normpath keeps a leading "//")."""
    return "/" + os.path.normpath("/" + p).lstrip("/")


def _is_bind(m: dict[str, Any]) -> bool:
    opts = m.get("options") or []
    return m.get("type") == "bind" or "bind" in opts or "rbind" in opts


def external_mounts(cfg: dict[str, Any], bundle: str, cg: Manager | None) -> list[tuple[str, str]]:
    """(mount point in the container, host source) of every mount CRIU cannot recreate itself."""
    from railcar.spec.mounts import cgroup_mount_sources

    linux = cfg.get("linux") or {}
    own_ns = {ns["type"]: ns.get("path") for ns in linux.get("namespaces") or []}
    out: dict[str, str] = {}
    for m in cfg.get("mounts") or []:
        dest = _abs(m["destination"])
        typ = m.get("type") or ""
        if _is_bind(m):
            src = m.get("source") or ""
            out[dest] = src if os.path.isabs(src) else os.path.join(bundle, src)
        elif typ == "sysfs" and ("network" not in own_ns or own_ns["network"] is not None):
            out[dest] = "/sys"  # bound from the host: no network namespace of its own
        elif typ in ("cgroup", "cgroup2") and cg is not None and "cgroup" not in own_ns:
            srcs = cgroup_mount_sources(cg)
            if len(srcs) == 1 and srcs[0][0] == "":
                out[dest] = srcs[0][1]
                continue
            for name, host in srcs:
                if not host.startswith("->"):
                    out[f"{dest.rstrip('/')}/{name}"] = host
    for p in linux.get("maskedPaths") or []:
        out.setdefault(_abs(p), "/dev/null")
    for d in linux.get("devices") or []:
        out.setdefault(d["path"], d["path"])
    return list(out.items())


def unrestorable(c: Any) -> str | None:
    """Why CRIU could dump the container but never restore it, or None.

    CRIU (up to 4.2 at least) restores /proc/PID/exe only from a regular file: a process that runs
    from a memfd is dumped, and then its restore fails ("No entry for reg-file-ID"). railcar's init
    runs from its sealed memfd (CVE-2019-5736), so a container created with it is refused before
    CRIU freezes, dumps and kills it."""
    from railcar.state import process_tree

    for p in process_tree(c.pid):
        try:
            exe = os.readlink(f"/proc/{p}/exe")
        except OSError:
            continue
        if exe.startswith("/memfd:"):
            if p == c.pid and c.data.get("init", True):
                return ("the container runs railcar's init as pid 1, which runs from a sealed memfd, and CRIU "
                        "cannot restore a process whose executable is a memfd: create the container with "
                        "--no-init to checkpoint it")
            return (f"process {p} runs from a memfd ({exe}), and CRIU cannot restore a process whose "
                    "executable is a memfd")
    return None


def stdio_files(pid: int) -> dict[str, str]:
    """{fd: CRIU key} of the init's fds 0-2 that are files outside the container's mounts (the
    host's /dev/null, a log file create was given): CRIU cannot dump them by path, so they go as
    external files (`file[MNT_ID:INODE]`, hex as CRIU names them) and restore hands over its own."""
    try:
        with open(f"/proc/{pid}/mountinfo") as f:
            ids = {line.split(None, 1)[0] for line in f}
    except OSError:
        return {}
    out: dict[str, str] = {}
    for i in range(3):
        try:
            if not os.readlink(f"/proc/{pid}/fd/{i}").startswith("/"):
                continue  # pipe:[..], socket:[..], anon_inode:..: not a file by path
            ino = os.stat(f"/proc/{pid}/fd/{i}").st_ino
            with open(f"/proc/{pid}/fdinfo/{i}") as f:
                mnt = next((ln.split()[1] for ln in f if ln.startswith("mnt_id:")), "")
        except (OSError, IndexError):
            continue
        if mnt and mnt not in ids:
            out[str(i)] = f"file[{int(mnt):x}:{ino:x}]"
    return out


def dump_args(c: Any, opts: dict[str, Any], image: str, work: str, pre_dump: bool,
              stdio: dict[str, str] | None = None) -> tuple[list[str], list[int]]:
    """criu dump / pre-dump arguments for a running container (and fds to pass); `stdio` is
    stdio_files(), recorded in the image's META for restore."""
    cfg = c.data.get("config") or {}
    cg = c.cgroup()
    args = ["pre-dump" if pre_dump else "dump", "-t", str(c.pid), "-D", image, "-W", work,
            "-o", "pre-dump.log" if pre_dump else "dump.log", "-v4", "--root", c.data["rootfs"]]
    args += _common(opts)
    if opts.get("leave_running"):
        args.append("--leave-running")
    if cg is not None:
        freezer, _ = cg.freezer_file()
        if freezer:
            args += ["--freeze-cgroup", os.path.dirname(freezer)]
    if opts.get("parent"):
        args += ["--prev-images-dir", opts["parent"], "--track-mem"]
    elif pre_dump:
        args.append("--track-mem")
    if opts.get("page_server"):
        addr, _, port = opts["page_server"].rpartition(":")
        if not addr or not port.isdigit():
            raise RailcarError(f"--page-server: want ADDRESS:PORT, got {opts['page_server']!r}")
        args += ["--page-server", "--address", addr, "--port", port]
    fds: list[int] = []
    if opts.get("status_fd") is not None:
        args += ["--status-fd", str(opts["status_fd"])]
        fds.append(opts["status_fd"])
    if pre_dump:
        return args, fds
    seen = _mountpoints(c.pid)
    for dest, src in external_mounts(cfg, c.data.get("bundle", ""), cg):
        if dest not in seen:
            continue
        if src == "/dev/null" and os.path.isdir(f"/proc/{c.pid}/root{dest}"):
            continue  # a masked directory is a read-only tmpfs, which CRIU dumps itself (runc too)
        args += ["--external", f"mnt[{dest}]:{dest}"]
    for ns in (cfg.get("linux") or {}).get("namespaces") or []:
        if ns.get("path") and ns["type"] in _EXT_NS:
            kind, key = _EXT_NS[ns["type"]]
            try:
                ino = os.stat(ns["path"]).st_ino
            except OSError as e:
                raise RailcarError(f"checkpoint: stat {ns['path']}: {strerror(e.errno)}") from None
            args += ["--external", f"{kind}[{ino}]:{key}"]
    for key in sorted(set((stdio or {}).values())):
        args += ["--external", key]
    return args, fds


def _common(opts: dict[str, Any]) -> list[str]:
    args = []
    for key, flag in (("tcp_established", "--tcp-established"), ("ext_unix_sk", "--ext-unix-sk"),
                      ("shell_job", "--shell-job"), ("file_locks", "--file-locks"),
                      ("auto_dedup", "--auto-dedup"), ("lazy_pages", "--lazy-pages")):
        if opts.get(key):
            args.append(flag)
    mode = opts.get("cg_mode") or "soft"
    if mode not in CG_MODES:
        raise RailcarError(f"--manage-cgroups-mode: invalid {mode!r} (soft, full, strict or ignore)")
    if mode != "ignore":
        args.append(f"--manage-cgroups={mode}")
    if opts.get("empty_ns"):
        if opts["empty_ns"] != "network":
            raise RailcarError(f"--empty-ns: only network is supported, not {opts['empty_ns']!r}")
        args += ["--empty-ns", "net"]
    return args


def cgroup_roots(cg: Manager) -> list[str]:
    """--cgroup-root arguments: where, in each hierarchy, the restored tree's cgroup is."""
    from railcar.cgroups import detect

    layout = detect()
    roots: dict[str, str] = {}
    for ctrl, d in cg.v1.items():
        mp = layout.v1.get(ctrl)
        if mp and d.startswith(mp.rstrip("/") + "/"):
            roots[ctrl] = layout.roots.get(mp, "/").rstrip("/") + d[len(mp.rstrip("/")):]
    if cg.v2 and layout.v2 and cg.v2.startswith(layout.v2.rstrip("/") + "/"):
        roots[""] = layout.roots.get(layout.v2, "/").rstrip("/") + cg.v2[len(layout.v2.rstrip("/")):]
    common = roots.get("") or next(iter(roots.values()), "")
    out = [f"--cgroup-root={common}"] if common else []
    out += [f"--cgroup-root={ctrl}:{p}" for ctrl, p in roots.items() if ctrl and p != common]
    return out


def restore_args(cfg: dict[str, Any], bundle: str, opts: dict[str, Any], image: str, work: str, root: str,
                 pidfile: str, cg: Manager | None) -> tuple[list[str], list[int]]:
    """criu restore arguments (and the fds criu must inherit besides 0-2)."""
    from railcar.jsonfast import loads

    args = ["restore", "-D", image, "-W", work, "-o", "restore.log", "-v4", "--root", root,
            "--restore-detached", "--restore-sibling", "--pidfile", pidfile, "--evasive-devices"]
    args += _common(opts)
    if cg is not None and opts.get("cg_mode") != "ignore":
        args += cgroup_roots(cg)
    for dest, src in external_mounts(cfg, bundle, cg):
        args += ["--external", f"mnt[{dest}]:{src}"]  # the dump named each by its mount point
    fds: list[int] = []
    for ns in (cfg.get("linux") or {}).get("namespaces") or []:
        if ns.get("path") and ns["type"] in _EXT_NS:
            try:
                fd = os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC)
            except OSError as e:
                for x in fds:
                    os.close(x)
                raise RailcarError(f"restore: open {ns['path']}: {strerror(e.errno)}") from None
            fds.append(fd)
            args += ["--inherit-fd", f"fd[{fd}]:{_EXT_NS[ns['type']][1]}"]
    try:
        with open(os.path.join(image, DESCRIPTORS), "rb") as f:
            descs = loads(f.read())
    except (OSError, ValueError):
        descs = []
    for i, d in enumerate(descs if isinstance(descs, list) else []):
        if isinstance(d, str) and d.startswith(("pipe:", "socket:")) and i < 3:
            args += ["--inherit-fd", f"fd[{i}]:{d}"]  # our own stdio replaces the dumped pipes
    try:
        with open(os.path.join(image, META), "rb") as f:
            stdio = loads(f.read()).get("stdio_files") or {}  # type: ignore[union-attr]
    except (OSError, ValueError, AttributeError):
        stdio = {}
    for i, key in sorted(stdio.items() if isinstance(stdio, dict) else []):
        if str(i) in ("0", "1", "2") and isinstance(key, str) and key.startswith("file["):
            args += ["--inherit-fd", f"fd[{i}]:{key}"]  # and the dumped host files
    if opts.get("status_fd") is not None:
        args += ["--status-fd", str(opts["status_fd"])]
        fds.append(opts["status_fd"])
    return args, fds


def write_descriptors(pid: int, image: str) -> None:
    from railcar.jsonfast import dumps
    from railcar.state import write_atomic

    descs = []
    for i in range(3):
        try:
            descs.append(os.readlink(f"/proc/{pid}/fd/{i}"))
        except OSError:
            descs.append("/dev/null")
    write_atomic(os.path.join(image, DESCRIPTORS), dumps(descs).encode(), 0o600)


def run(criu: str, args: list[str], fds: list[int], work: str, log: str, what: str,
        preexec: Any = None) -> None:
    """Run criu; on failure a RailcarError with CRIU's last errors from its log."""
    import subprocess

    try:
        # our own stdio, not pipes: restore hands fds 0-2 to the restored tree (--inherit-fd)
        res = subprocess.run([criu, *args], pass_fds=fds, preexec_fn=preexec, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
        raise RailcarError(f"{what}: run {criu}: {e}") from None
    if res.returncode == 0:
        return
    logpath = os.path.join(work, log)
    try:
        with open(logpath, errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    errs = [ln for ln in text.splitlines() if "Error (" in ln]  # CRIU's own, not `ip`'s "Error: ..."
    reason = _reason("\n".join(errs[-3:])) if errs else f"exit status {res.returncode}"
    raise RailcarError(f"{what}: criu {args[0]} failed: {reason} (log file: {logpath})")


def mount_root(rootfs: str, target: str, readonly: bool) -> None:
    """CRIU wants --root to be a mount point whose parent is not overmounted: a bind of the
    rootfs, read-only when the config says root.readonly (CRIU gives the restored container
    this mount as its "/", with its flags)."""
    from railcar import _core
    from railcar import mountopts as mo

    os.makedirs(target, 0o755, exist_ok=True)
    try:
        _core.mount(rootfs.encode(), target.encode(), mo.MS_BIND | mo.MS_REC)
        if readonly:
            _core.mount(b"", target.encode(), mo.MS_REMOUNT | mo.MS_BIND | mo.MS_RDONLY)
    except OSError as e:
        if readonly:
            umount_root(target)
        raise RailcarError(f"restore: bind {rootfs} on {target}: {strerror(e.errno)}") from None


def umount_root(target: str) -> None:
    from railcar import _core

    try:
        _core.umount(target.encode(), 2)  # MNT_DETACH
    except OSError:
        pass
    try:
        os.rmdir(target)
    except OSError:
        pass
