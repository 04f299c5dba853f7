"""Rootless: railcar run by an unprivileged user, with runc's rules (runc's main.go and
utils_linux.go, libcontainer/userns).

  default_root()  the default --root: $XDG_RUNTIME_DIR/railcar for a non-root user (and for
                  root in a user namespace unless $USER is root), /run/railcar otherwise;
                  csrc/fastpath.c applies the same rule (keep them in step)
  resolve()       the global --rootless true|false|auto: whether the cgroup manager is the
                  rootless one (directories it cannot make are skipped, see railcar.cgroups)
  maps_tools()    newuidmap/newgidmap, for id maps an unprivileged user may not write directly
"""

from __future__ import annotations

from railcar import posixos as os
from railcar.errors import RailcarError

SYSTEM_ROOT = "/run/railcar"
# strconv.ParseBool's spellings, as runc parses --rootless
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_userns: list[bool] = []


def in_userns() -> bool:
    """runc's userns.RunningInUserNS: the uid map is not the initial namespace's identity."""
    if not _userns:
        try:
            with open("/proc/self/uid_map") as f:
                words = f.read().split()
        except OSError:
            words = ["0", "0", "4294967295"]  # no /proc: runc says no
        _userns.append(words != ["0", "0", "4294967295"])
    return _userns[0]


def _honor_xdg() -> bool:
    if not os.getenv("XDG_RUNTIME_DIR"):
        return False
    if os.geteuid() != 0:
        return True
    if not in_userns():
        return False  # the real root: /run/railcar, whatever $XDG_RUNTIME_DIR says (runc's rule)
    return os.getenv("USER") != "root"


def default_root() -> tuple[str, bool]:
    """(the default --root, whether it is under $XDG_RUNTIME_DIR)."""
    if _honor_xdg():
        return f"{os.getenv('XDG_RUNTIME_DIR')}/railcar", True
    return SYSTEM_ROOT, False


def make_xdg_root(root: str) -> None:
    """runc's words and modes: the state root in $XDG_RUNTIME_DIR is 0700 and sticky."""
    try:
        os.makedirs(root, 0o700, exist_ok=True)
        os.chmod(root, 0o1700)
    except OSError as e:
        from railcar.errors import strerror

        raise RailcarError(f"the path in $XDG_RUNTIME_DIR must be writable by the user: "
                           f"mkdir {root}: {strerror(e.errno)}") from None


def parse(value: str) -> bool | None:
    """--rootless: True, False, or None for auto; runc's error for anything else."""
    if value == "" or value.lower() == "auto":
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RailcarError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def resolve(value: str, systemd: bool = False) -> bool:
    """runc's shouldUseRootlessCgroupManager: --rootless when given; auto: a non-root user is
    rootless, root in the initial user namespace is not, root in a user namespace is."""
    b = parse(value)
    if b is not None:
        return b
    if os.geteuid() != 0:
        return True
    return in_userns()


def unprivileged() -> bool:
    """Whether the kernel treats us as unprivileged for id maps: not root in the initial user
    namespace (then one mapping of our own ids is all we may write, with setgroups denied)."""
    return os.geteuid() != 0 or in_userns()


def find_tool(name: str) -> str | None:
    """newuidmap / newgidmap on $PATH (runc looks them up the same way), else the usual places
    (no shutil.which: shutil is too heavy an import for create)."""
    dirs = [d for d in os.getenv("PATH", "").split(":") if d]
    for d in [*dirs, "/usr/bin", "/bin", "/usr/sbin"]:
        path = f"{d}/{name}"
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path if path.startswith("/") else os.path.abspath(path)
    return None


def pids_without_cgroup(pid: int) -> set[int]:
    """The processes of a container without a cgroup (rootless, none delegated), for ps and
    kill --all: those in the init's pid namespace when it has its own (exec'd ones too), else
    the init and its descendants (/proc/<pid>/task/<tid>/children)."""
    try:
        ns = os.readlink(f"/proc/{pid}/ns/pid")
        if ns != os.readlink("/proc/self/ns/pid"):
            found: set[int] = set()
            for name in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if os.readlink(f"/proc/{name}/ns/pid") == ns:
                        found.add(int(name))
                except OSError:
                    pass
            return found
    except OSError:
        pass
    from railcar.state import process_tree

    return set(process_tree(pid))


def check_config(cfg: dict) -> None:
    """runc's rootless validation (libcontainer/configs/validate/rootless.go), its texts: for a
    non-root user, a user namespace, id maps unless it is joined, and no uid=/gid= mount option
    naming an id the maps leave out (the kernel would refuse the mount)."""
    if os.geteuid() == 0:
        return
    from railcar.errors import SpecError

    linux = cfg.get("linux") or {}
    userns = [ns for ns in linux.get("namespaces") or [] if ns.get("type") == "user"]
    if not userns:
        raise SpecError("linux.namespaces", "rootless container requires user namespaces")
    if userns[0].get("path"):
        return  # a joined namespace's maps are its own
    if not linux.get("uidMappings"):
        raise SpecError("linux.uidMappings", "rootless containers requires at least one UID mapping")
    if not linux.get("gidMappings"):
        raise SpecError("linux.gidMappings", "rootless containers requires at least one GID mapping")
    for i, m in enumerate(cfg.get("mounts") or []):
        for opt in m.get("options") or []:
            for kind, maps in (("uid", linux.get("uidMappings")), ("gid", linux.get("gidMappings"))):
                if not opt.startswith(kind + "=") or not opt[4:].isdigit():
                    continue
                n = int(opt[4:])
                if not any(e["containerID"] <= n < e["containerID"] + e["size"] for e in maps or []):
                    raise SpecError(f"mounts[{i}].options", f"cannot specify {kind}= mount options "
                                    f"for unmapped {kind} in rootless containers")
