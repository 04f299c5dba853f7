"""cgroups: v1 (incl. comounted hierarchies), v2 (unified) and hybrid layouts behind one interface.

The layout is never assumed: `detect()` parses /proc/self/mountinfo (which controllers are
mounted where, v1 or cgroup2) and /proc/self/cgroup (railcar's own cgroup per hierarchy, the
base for relative cgroupsPaths). A controller is used from wherever it is mounted: on a hybrid
host with hugetlb on the unified mount, hugepage limits go to cgroup2 files and everything else
to v1 files.

`Cgroup` is one container's cgroup: a directory in every v1 hierarchy (one per mount, so a
comounted `cpu,cpuacct` is a single directory) plus one in the unified hierarchy. Resources
follow runc's semantics, v1 <-> v2 mappings included. Errors are RailcarErrors naming the
config.json field, e.g. `linux.resources.memory.limit: write <file>: invalid argument`.

Hot path (create, run, delete, ...): only os and errno at module level.
"""

from __future__ import annotations

import errno
import os

from railcar.errors import RailcarError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Layout", "Cgroup", "detect", "resolve_path"]

# v1 subsystems the kernel knows ("name=<x>" named hierarchies are handled separately).
_V1_SUBSYSTEMS = frozenset((
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "net_prio",
    "blkio", "perf_event", "hugetlb", "pids", "rdma", "misc", "debug",
))
# The only named v1 hierarchy a container joins (as runc does).
_NAMED_JOINED = "name=systemd"

_UINT64_MAX = (1 << 64) - 1

# runc's default device rules, appended after the spec's rules (specconv.AllowedDevices):
# (allow, type, major, minor, access bits); -1 is a wildcard. Access bits as in eBPF.
_ACC_M, _ACC_R, _ACC_W = 1, 2, 4
_ACC_ALL = 7
_DEFAULT_DEVICE_RULES = (
    (True, "c", -1, -1, _ACC_M),   # mknod of any char device
    (True, "b", -1, -1, _ACC_M),   # mknod of any block device
    (True, "c", 1, 3, _ACC_ALL),   # /dev/null
    (True, "c", 1, 8, _ACC_ALL),   # /dev/random
    (True, "c", 1, 7, _ACC_ALL),   # /dev/full
    (True, "c", 5, 0, _ACC_ALL),   # /dev/tty
    (True, "c", 1, 5, _ACC_ALL),   # /dev/zero
    (True, "c", 1, 9, _ACC_ALL),   # /dev/urandom
    (True, "c", 136, -1, _ACC_ALL),  # /dev/pts/*
    (True, "c", 5, 2, _ACC_ALL),   # /dev/ptmx
    (True, "c", 10, 200, _ACC_ALL),  # /dev/net/tun
)

_R = "linux.resources"


# ---------------------------------------------------------------------------------------------
# small file helpers


def _errtext(e: OSError) -> str:
    """`invalid argument`, like Go's syscall error strings."""
    if e.errno is None:
        return str(e)
    s = os.strerror(e.errno)
    return s[:1].lower() + s[1:]


def _read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def _read_opt(path: str) -> str | None:
    try:
        return _read(path)
    except OSError:
        return None


def _write_raw(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _write(field: str, d: str, name: str, value: str) -> None:
    p = d + "/" + name
    try:
        _write_raw(p, value)
    except OSError as e:
        raise RailcarError(f"{field}: write {p}: {_errtext(e)}") from None


def _exists(path: str) -> bool:
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def _read_uint(path: str) -> int:
    """A cgroup number file; "max" (v2) reads as 2^64-1. Missing/unparsable reads as 0."""
    s = _read_opt(path)
    if s is None:
        return 0
    s = s.strip()
    if s == "max":
        return _UINT64_MAX
    try:
        v = int(s)
    except ValueError:
        return 0
    return v if v >= 0 else 0


def _read_kv(path: str) -> dict[str, int]:
    """`key value` lines (memory.stat, cpu.stat, memory.events, ...)."""
    out: dict[str, int] = {}
    s = _read_opt(path)
    if not s:
        return out
    for line in s.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def _unescape(s: str) -> str:
    """mountinfo octal escapes (\\040 = space, ...)."""
    if "\\" not in s:
        return s
    out = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 4 <= n and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_list(s: str) -> list[int]:
    """cpuset list format `0-3,5` -> [0, 1, 2, 3, 5]."""
    out: list[int] = []
    for part in s.strip().split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                out.extend(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
        except ValueError:
            continue
    return out


# ---------------------------------------------------------------------------------------------
# layout detection


class Layout:
    """Where the cgroup hierarchies are.

    kind: "v1", "v2" or "hybrid"; v1: controller -> mountpoint (comounted controllers map to the
    same mountpoint; "name=systemd" included); v2: the cgroup2 mountpoint or ""; v2_controllers:
    controllers available at the cgroup2 mount root; roots: mountpoint -> root of the mount (not
    "/" inside a container without a cgroup namespace); own_v1 / own_v2: this process's cgroup
    per v1 controller / in the unified hierarchy (from /proc/self/cgroup).
    """

    __slots__ = ("kind", "v1", "v2", "v2_controllers", "roots", "own_v1", "own_v2")

    def __init__(
        self,
        kind: str,
        v1: dict[str, str],
        v2: str,
        v2_controllers: set[str],
        roots: dict[str, str] | None = None,
        own_v1: dict[str, str] | None = None,
        own_v2: str = "/",
    ) -> None:
        self.kind = kind
        self.v1 = v1
        self.v2 = v2
        self.v2_controllers = v2_controllers
        self.roots = roots if roots is not None else {}
        self.own_v1 = own_v1 if own_v1 is not None else {}
        self.own_v2 = own_v2

    def __repr__(self) -> str:
        return (f"Layout(kind={self.kind!r}, v1={self.v1!r}, v2={self.v2!r}, "
                f"v2_controllers={sorted(self.v2_controllers)!r})")


def detect(
    mountinfo_text: str | None = None,
    proc_cgroup_text: str | None = None,
    v2_controllers_text: str | None = None,
) -> Layout:
    """Parse mountinfo + /proc/self/cgroup (the live ones unless given) into a Layout.

    v2_controllers_text is the content of <cgroup2 mount>/cgroup.controllers; read from the
    mount when not given (tests pass it to stay independent of the host).
    """
    if mountinfo_text is None:
        mountinfo_text = _read("/proc/self/mountinfo")
    if proc_cgroup_text is None:
        proc_cgroup_text = _read_opt("/proc/self/cgroup") or ""
    v1: dict[str, str] = {}
    v1_root: dict[str, str] = {}
    roots: dict[str, str] = {}
    v2 = ""
    v2_root = ""
    for line in mountinfo_text.splitlines():
        fields = line.split()
        # id parent maj:min root mountpoint options [optional...] - fstype source superoptions
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        if len(fields) < sep + 2:
            continue
        fstype = fields[sep + 1]
        if fstype == "cgroup2":
            root = _unescape(fields[3])
            mp = _unescape(fields[4])
            # several mounts of the same hierarchy: prefer the one showing the most of it
            if not v2 or len(root) < len(v2_root):
                v2, v2_root = mp, root
                roots[mp] = root
        elif fstype == "cgroup":
            root = _unescape(fields[3])
            mp = _unescape(fields[4])
            superopts = fields[sep + 3] if len(fields) > sep + 3 else ""
            ctrls = [o for o in superopts.split(",")
                     if o in _V1_SUBSYSTEMS or o.startswith("name=")]
            for c in ctrls:
                if c not in v1 or len(root) < len(v1_root[c]):
                    v1[c] = mp
                    v1_root[c] = root
                    roots[mp] = root
    v2_controllers: set[str] = set()
    if v2:
        if v2_controllers_text is None:
            v2_controllers_text = _read_opt(v2 + "/cgroup.controllers") or ""
        v2_controllers = set(v2_controllers_text.split())
    has_v1 = any(not c.startswith("name=") for c in v1) or _NAMED_JOINED in v1
    if v2 and not has_v1:
        kind = "v2"
        v1 = {}
    elif has_v1 and not v2:
        kind = "v1"
    elif has_v1 and v2:
        kind = "hybrid"
    else:
        raise RailcarError("cgroups: no cgroup filesystem is mounted (see /proc/self/mountinfo)")
    own_v1: dict[str, str] = {}
    own_v2 = "/"
    for line in proc_cgroup_text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, ctrls, path = parts
        if hid == "0" and ctrls == "":
            own_v2 = path
        else:
            for c in ctrls.split(","):
                if c:
                    own_v1[c] = path
    return Layout(kind, v1, v2, v2_controllers, roots, own_v1, own_v2)


# ---------------------------------------------------------------------------------------------
# cgroupsPath


def _clean(p: str) -> str:
    """Lexically clean a path; a relative one is cleaned as if rooted, so `..` cannot escape."""
    absolute = p.startswith("/")
    n = os.path.normpath("/" + p)
    if n.startswith("//"):
        n = "/" + n.lstrip("/")
    if absolute:
        return n
    return n[1:]


def _expand_slice(slice_: str) -> str:
    """systemd slice name -> path: `a-b.slice` -> `/a.slice/a-b.slice`, `-.slice` -> `/`."""
    suffix = ".slice"
    if len(slice_) <= len(suffix) or not slice_.endswith(suffix) or "/" in slice_:
        raise RailcarError(f"linux.cgroupsPath: invalid systemd slice name {slice_!r}")
    if slice_ == "-.slice":
        return "/"
    name = slice_[:-len(suffix)]
    path = ""
    prefix = ""
    for comp in name.split("-"):
        if not comp:
            raise RailcarError(f"linux.cgroupsPath: invalid systemd slice name {slice_!r}")
        path += "/" + prefix + comp + suffix
        prefix += comp + "-"
    return path


def resolve_path(cgroups_path: str, cid: str, systemd: bool) -> str:
    """linux.cgroupsPath -> the cgroup path inside each hierarchy.

    An absolute result ("/x/y") is under each hierarchy's mountpoint. A relative result ("x/y",
    from a relative cgroupsPath, as runc does) is relative to railcar's own cgroup in each
    hierarchy (see /proc/self/cgroup). "" -> "/railcar/<id>". With systemd the form is
    "slice:prefix:name" -> "/<expanded slice>/<prefix>-<name>.scope" (default
    "system.slice:railcar:<id>"), the path systemd would give that scope.
    """
    if systemd:
        p = cgroups_path or f"system.slice:railcar:{cid}"
        parts = p.split(":")
        if len(parts) != 3:
            raise RailcarError(
                'linux.cgroupsPath: expected "slice:prefix:name" for systemd cgroups, '
                f"got {p!r}")
        slice_, prefix, name = parts
        if not name or "/" in name or "/" in prefix:
            raise RailcarError(
                f'linux.cgroupsPath: invalid systemd unit in {p!r} (form "slice:prefix:name")')
        parent = _expand_slice(slice_ or "system.slice")
        if name.endswith(".slice"):
            unit = name
        elif prefix:
            unit = f"{prefix}-{name}.scope"
        else:
            unit = f"{name}.scope"
        return parent.rstrip("/") + "/" + unit
    if not cgroups_path:
        return f"/railcar/{cid}"
    p = _clean(cgroups_path)
    if p in ("/", ""):
        raise RailcarError(
            f"linux.cgroupsPath: {cgroups_path!r} names the runtime's or the root cgroup itself")
    return p


def _hier_dir(mountpoint: str, root: str, own: str, path: str) -> str:
    if path.startswith("/"):
        return mountpoint.rstrip("/") + path
    base = own or "/"
    if root and root != "/":
        if base == root:
            base = "/"
        elif base.startswith(root + "/"):
            base = base[len(root):]
    base = base.rstrip("/")
    return mountpoint.rstrip("/") + base + "/" + path


# ---------------------------------------------------------------------------------------------
# value helpers for linux.resources


def _int(d: dict, key: str, field: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise RailcarError(f"{field}: must be an integer")
    return v


def _str(d: dict, key: str, field: str) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise RailcarError(f"{field}: must be a string")
    return v


def _bool(d: dict, key: str, field: str) -> bool | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, bool):
        raise RailcarError(f"{field}: must be a boolean")
    return v


def _obj(d: dict, key: str, field: str) -> dict:
    v = d.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise RailcarError(f"{field}: must be an object")
    return v


def _list(d: dict, key: str, field: str) -> list:
    v = d.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise RailcarError(f"{field}: must be an array")
    return v


def shares_to_weight(shares: int) -> int:
    """cpu.shares (v1, 2..262144) -> cpu.weight (v2, 1..10000), runc's conversion."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight (10..1000) -> io.weight (1..10000), runc's conversion."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


# ---------------------------------------------------------------------------------------------
# devices: rules -> the v1 exception list (the kernel's semantics), -> v1 writes or eBPF (v2)


def _device_rules(rules: list) -> list[tuple[bool, str, int, int, int]]:
    out = []
    for i, r in enumerate(rules):
        f = f"{_R}.devices[{i}]"
        if not isinstance(r, dict):
            raise RailcarError(f"{f}: must be an object")
        allow = r.get("allow")
        if not isinstance(allow, bool):
            raise RailcarError(f"{f}.allow: must be a boolean")
        t = r.get("type") or "a"
        if t not in ("a", "b", "c"):
            raise RailcarError(f'{f}.type: must be "a", "b" or "c", got {t!r}')
        major = _int(r, "major", f + ".major")
        minor = _int(r, "minor", f + ".minor")
        for which, v in (("major", major), ("minor", minor)):
            if v is not None and v > 0xFFF:  # a number no device can have (cheap test first)
                from railcar.spec import check_device_number

                check_device_number(v, f"{f}.{which}", which, True)
        access = r.get("access")
        if access is None or access == "":
            access = "rwm"
        if not isinstance(access, str) or any(c not in "rwm" for c in access):
            raise RailcarError(f"{f}.access: must be a combination of r, w, m; got {access!r}")
        bits = (_ACC_R if "r" in access else 0) | (_ACC_W if "w" in access else 0) | (
            _ACC_M if "m" in access else 0)
        out.append((allow, t, -1 if major is None or major < 0 else major,
                    -1 if minor is None or minor < 0 else minor, bits))
    return out


def _emulate_devices(
    rules: list[tuple[bool, str, int, int, int]],
) -> tuple[bool, dict[tuple[str, int, int], int]]:
    """Run rules through the v1 devices controller's semantics.

    Returns (default_allow, exceptions): a type "a" rule resets everything to allow-all or
    deny-all; a rule with the default's action removes access bits from the exception with the
    same key; a rule with the other action adds (merges) an exception.
    """
    default_allow = True
    exc: dict[tuple[str, int, int], int] = {}
    for allow, t, major, minor, bits in rules:
        if t == "a":
            default_allow = allow
            exc = {}
            continue
        key = (t, major, minor)
        if allow == default_allow:
            cur = exc.get(key)
            if cur is not None:
                cur &= ~bits
                if cur:
                    exc[key] = cur
                else:
                    del exc[key]
        else:
            exc[key] = exc.get(key, 0) | bits
    return default_allow, exc


def _acc_str(bits: int) -> str:
    return ("r" if bits & _ACC_R else "") + ("w" if bits & _ACC_W else "") + (
        "m" if bits & _ACC_M else "")


def _dev_str(key: tuple[str, int, int], bits: int) -> str:
    t, major, minor = key
    ma = "*" if major < 0 else str(major)
    mi = "*" if minor < 0 else str(minor)
    return f"{t} {ma}:{mi} {_acc_str(bits)}"


def _bpf_device_program(default_allow: bool, exc: dict[tuple[str, int, int], int]) -> bytes:
    """An eBPF BPF_PROG_TYPE_CGROUP_DEVICE program for (default_allow, exceptions).

    ctx = struct bpf_cgroup_dev_ctx { u32 access_type (type | access << 16); u32 major, minor; }
    """
    import struct

    def ins(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
        return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)

    ldxw, and32, rsh32, mov32, mov32r = 0x61, 0x54, 0x74, 0xb4, 0xbc
    jne_k, jne_x, jeq_k, exit_ = 0x55, 0x5d, 0x15, 0x95
    prog = [
        ins(ldxw, 2, 1, 0), ins(and32, 2, imm=0xFFFF),   # r2 = type
        ins(ldxw, 3, 1, 0), ins(rsh32, 3, imm=16),       # r3 = requested access
        ins(ldxw, 4, 1, 4),                              # r4 = major
        ins(ldxw, 5, 1, 8),                              # r5 = minor
    ]
    verdict = 0 if default_allow else 1
    for (t, major, minor), bits in exc.items():
        block: list[tuple[int, int, int, int]] = []   # (code, dst, src, imm); off = to next
        block.append((jne_k, 2, 0, 1 if t == "b" else 2))   # BPF_DEVCG_DEV_BLOCK=1, CHAR=2
        if bits != _ACC_ALL:
            block.append((mov32r, 1, 3, 0))
            block.append((and32, 1, 0, bits))
            if default_allow:
                block.append((jeq_k, 1, 0, 0))     # deny list: any overlap matches
            else:
                block.append((jne_x, 1, 3, 0))     # allow list: request must be a subset
        if major >= 0:
            block.append((jne_k, 4, 0, major))
        if minor >= 0:
            block.append((jne_k, 5, 0, minor))
        n = len(block) + 2
        for i, (code, dst, src, imm) in enumerate(block):
            is_jump = code in (jne_k, jne_x, jeq_k)
            prog.append(ins(code, dst, src, n - i - 1 if is_jump else 0, imm))
        prog.append(ins(mov32, 0, imm=verdict))
        prog.append(ins(exit_))
    prog.append(ins(mov32, 0, imm=1 if default_allow else 0))
    prog.append(ins(exit_))
    return b"".join(prog)


def _bpf_attach_device_filter(dirpath: str, program: bytes) -> None:
    """BPF_PROG_LOAD the device program and BPF_PROG_ATTACH it (ALLOW_MULTI) to the cgroup."""
    import ctypes
    import struct

    nr = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351,
          "i686": 357, "armv7l": 386}.get(os.uname().machine)
    if nr is None:
        raise OSError(errno.ENOSYS, "bpf(2) syscall number unknown for this architecture")
    libc = ctypes.CDLL(None, use_errno=True)
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    insns = ctypes.create_string_buffer(program, len(program))
    lic = ctypes.create_string_buffer(b"Apache")
    # union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns, license, log_level,
    # log_size, log_buf, kern_version, prog_flags, prog_name[16]...
    attr = struct.pack("<IIQQIIQII", 15, len(program) // 8, ctypes.addressof(insns),
                       ctypes.addressof(lic), 0, 0, 0, 0, 0)
    abuf = ctypes.create_string_buffer(attr.ljust(128, b"\0"), 128)
    fd = syscall(ctypes.c_long(nr), ctypes.c_long(5), abuf, ctypes.c_long(128))
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, "BPF_PROG_LOAD: " + os.strerror(e))
    try:
        dfd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            # target_fd, attach_bpf_fd, attach_type=BPF_CGROUP_DEVICE(6), flags=ALLOW_MULTI(2)
            attr = struct.pack("<IIII", dfd, fd, 6, 2)
            abuf = ctypes.create_string_buffer(attr.ljust(128, b"\0"), 128)
            rc = syscall(ctypes.c_long(nr), ctypes.c_long(8), abuf, ctypes.c_long(128))
            if rc < 0:
                e = ctypes.get_errno()
                raise OSError(e, "BPF_PROG_ATTACH: " + os.strerror(e))
        finally:
            os.close(dfd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# the container's cgroup


class NotOurs(RailcarError):
    """A state names a directory that cannot be a container's cgroup."""


class Cgroup:
    """One container's cgroup in every hierarchy.

    kind: the layout kind; path: the resolved cgroup path; v1: controller -> directory (one
    directory per v1 mount, comounted controllers share it; "name=systemd" included); v2: the
    directory in the unified hierarchy or ""; v2_controllers: controllers usable in that
    directory.
    """

    __slots__ = ("kind", "path", "v1", "v2", "v2_controllers", "inodes", "_made")

    def __init__(self, kind: str, path: str, v1: dict[str, str], v2: str,
                 v2_controllers: set[str], inodes: dict[str, int] | None = None) -> None:
        self.kind = kind
        self.path = path
        self.v1 = v1
        self.v2 = v2
        self.v2_controllers = v2_controllers
        # each directory's inode once made: a state whose path was changed (or a directory
        # removed and made again by someone else) no longer matches, and is not touched
        self.inodes: dict[str, int] = inodes or {}
        self._made: list[str] = []

    def __repr__(self) -> str:
        return f"Cgroup(kind={self.kind!r}, path={self.path!r}, dirs={self.dirs()!r})"

    # -- construction / persistence ------------------------------------------------------

    @classmethod
    def at(cls, cgroups_path: str, cid: str, systemd: bool,
           layout: Layout | None = None) -> Cgroup:
        """The Cgroup object for a path, without creating anything."""
        if layout is None:
            layout = detect()
        path = resolve_path(cgroups_path, cid, systemd)
        v1: dict[str, str] = {}
        for ctrl, mp in layout.v1.items():
            if ctrl.startswith("name=") and ctrl != _NAMED_JOINED:
                continue
            v1[ctrl] = _hier_dir(mp, layout.roots.get(mp, "/"), layout.own_v1.get(ctrl, "/"),
                                 path)
        v2 = ""
        if layout.v2:
            v2 = _hier_dir(layout.v2, layout.roots.get(layout.v2, "/"), layout.own_v2, path)
        return cls(layout.kind, path, v1, v2, set(layout.v2_controllers))

    @classmethod
    def create(cls, cgroups_path: str, cid: str, systemd: bool, resources: dict | None,
               layout: Layout | None = None) -> Cgroup:
        """mkdir in every hierarchy, apply linux.resources; on error undo and raise."""
        if layout is None:
            layout = detect()
        cg = cls.at(cgroups_path, cid, systemd, layout)
        cg.make(resources, layout)
        return cg

    def make(self, resources: dict | None, layout: Layout | None = None) -> None:
        """mkdir the directories `at` resolved, apply linux.resources; on error undo and raise.
        Apart from `at` so that a caller can record the paths before anything exists."""
        if layout is None:
            layout = detect()
        try:
            self._mkdirs(layout)
            self._apply(resources or {}, create=True)
            self.inodes = {d: os.stat(d).st_ino for d in self.dirs()}
        except BaseException:
            self._undo()
            raise

    def to_state(self) -> dict:
        return {
            "kind": self.kind,
            "path": self.path,
            "v1": dict(self.v1),
            "v2": self.v2,
            "v2_controllers": sorted(self.v2_controllers),
            "inodes": dict(self.inodes),
        }

    @classmethod
    def from_state(cls, d: dict) -> Cgroup:
        return cls(d.get("kind", ""), d.get("path", ""), dict(d.get("v1") or {}),
                   d.get("v2") or "", set(d.get("v2_controllers") or ()), dict(d.get("inodes") or {}))

    def dirs(self) -> list[str]:
        """Every distinct directory, v1 hierarchies first, unified last."""
        out = list(dict.fromkeys(self.v1.values()))
        if self.v2:
            out.append(self.v2)
        return out

    # -- mkdir / undo ----------------------------------------------------------------------

    def _mkdir_p(self, mountpoint: str, d: str, on_level: Any = None) -> None:
        mountpoint = mountpoint.rstrip("/")
        rel = d[len(mountpoint):].strip("/")
        cur = mountpoint
        for comp in rel.split("/"):
            if not comp:
                continue
            parent = cur
            cur = cur + "/" + comp
            if on_level is not None:
                on_level(parent, cur, True)
            try:
                os.mkdir(cur, 0o755)
                self._made.append(cur)
            except FileExistsError:
                pass
            if on_level is not None:
                on_level(parent, cur, False)

    def _mkdirs(self, layout: Layout) -> None:
        done: set[str] = set()
        for ctrl, d in self.v1.items():
            if d in done:
                continue
            done.add(d)
            mp = layout.v1[ctrl]
            cpuset = any(c == "cpuset" and self.v1[c] == d for c in self.v1)
            try:
                self._mkdir_p(mp, d, _cpuset_fill if cpuset else None)
            except RailcarError:
                raise
            except OSError as e:
                raise RailcarError(f"cgroups: mkdir {e.filename or d}: {_errtext(e)}") from None
        if self.v2:
            try:
                self._mkdir_p(layout.v2, self.v2, _v2_enable)
            except OSError as e:
                if self.kind == "hybrid" and e.errno in (errno.EACCES, errno.EPERM,
                                                        errno.EROFS):
                    # an unusable unified mount on a hybrid host: v1 does the work
                    self.v2 = ""
                    self.v2_controllers = set()
                    return
                raise RailcarError(f"cgroups: mkdir {e.filename or self.v2}: {_errtext(e)}"
                                   ) from None
            s = _read_opt(self.v2 + "/cgroup.controllers")
            self.v2_controllers = set(s.split()) if s is not None else set()

    def _undo(self) -> None:
        for d in reversed(self._made):
            try:
                os.rmdir(d)
            except OSError:
                pass
        self._made = []

    # -- where a controller lives ----------------------------------------------------------

    def _where(self, ctrl: str) -> tuple[str, int]:
        d = self.v1.get(ctrl)
        if d:
            return d, 1
        if self.v2 and ctrl in self.v2_controllers:
            return self.v2, 2
        return "", 0

    def _need(self, ctrl: str, field: str) -> tuple[str, int]:
        d, ver = self._where(ctrl)
        if d:
            return d, ver
        if self.kind == "v2" and ctrl in ("net_cls", "net_prio"):
            raise RailcarError(f"{field}: not supported on cgroup v2 (there is no {ctrl} "
                               "controller)")
        raise RailcarError(f"{field}: the {ctrl} cgroup controller is not available on this "
                           "host")

    # -- resources ---------------------------------------------------------------------------

    def _apply(self, res: dict, create: bool) -> None:
        if not isinstance(res, dict):
            raise RailcarError(f"{_R}: must be an object")
        cpu = _obj(res, "cpu", _R + ".cpu")
        self._set_cpuset(cpu)
        if create:
            self._set_devices(_list(res, "devices", _R + ".devices"))
        self._set_memory(_obj(res, "memory", _R + ".memory"), create)
        self._set_cpu(cpu, create)
        self._set_pids(_obj(res, "pids", _R + ".pids"))
        self._set_blkio(_obj(res, "blockIO", _R + ".blockIO"))
        self._set_hugetlb(_list(res, "hugepageLimits", _R + ".hugepageLimits"))
        self._set_network(_obj(res, "network", _R + ".network"))
        self._set_rdma(_obj(res, "rdma", _R + ".rdma"))
        self._set_unified(_obj(res, "unified", _R + ".unified"))

    def update(self, resources: dict) -> None:
        """Like `runc update`: absent or 0 fields leave the current value unchanged."""
        self._apply(resources or {}, create=False)

    def _set_cpuset(self, cpu: dict) -> None:
        f = _R + ".cpu"
        cpus = _str(cpu, "cpus", f + ".cpus")
        mems = _str(cpu, "mems", f + ".mems")
        if cpus:
            d, _ = self._need("cpuset", f + ".cpus")
            _write(f + ".cpus", d, "cpuset.cpus", cpus)
        if mems:
            d, _ = self._need("cpuset", f + ".mems")
            _write(f + ".mems", d, "cpuset.mems", mems)

    def _set_devices(self, rules: list) -> None:
        f = _R + ".devices"
        parsed = _device_rules(rules) + list(_DEFAULT_DEVICE_RULES)
        default_allow, exc = _emulate_devices(parsed)
        d = self.v1.get("devices")
        if d:
            if default_allow:
                if not exc:
                    cur = (_read_opt(d + "/devices.list") or "").split()
                    if cur == ["a", "*:*", "rwm"]:
                        return
                _write(f, d, "devices.allow", "a")
                target = "devices.deny"
            else:
                _write(f, d, "devices.deny", "a")
                target = "devices.allow"
            for key, bits in exc.items():
                _write(f, d, target, _dev_str(key, bits))
            return
        if self.v2:
            if default_allow and not exc:
                return
            try:
                _bpf_attach_device_filter(self.v2, _bpf_device_program(default_allow, exc))
            except OSError as e:
                raise RailcarError(f"{f}: load eBPF device filter into {self.v2}: "
                                   f"{_errtext(e)}") from None
            return
        if rules and not (default_allow and not exc):
            raise RailcarError(f"{f}: the devices cgroup controller is not available on this "
                               "host")

    def _set_memory(self, m: dict, create: bool) -> None:
        f = _R + ".memory"
        limit = _int(m, "limit", f + ".limit") or 0
        swap = _int(m, "swap", f + ".swap") or 0
        reservation = _int(m, "reservation", f + ".reservation") or 0
        kernel = _int(m, "kernel", f + ".kernel") or 0
        kernel_tcp = _int(m, "kernelTCP", f + ".kernelTCP") or 0
        swappiness = _int(m, "swappiness", f + ".swappiness")
        no_oom = _bool(m, "disableOOMKiller", f + ".disableOOMKiller")
        use_hier = _bool(m, "useHierarchy", f + ".useHierarchy")
        check = _bool(m, "checkBeforeUpdate", f + ".checkBeforeUpdate")
        if swappiness is not None and (swappiness == -1 or swappiness == _UINT64_MAX):
            swappiness = None
        if swappiness is not None and not 0 <= swappiness <= 100:
            raise RailcarError(f"{f}.swappiness: invalid value {swappiness} (valid range is "
                               "0-100)")
        if not (limit or swap or reservation or kernel or kernel_tcp or swappiness is not None
                or no_oom or use_hier is not None):
            return
        first = ("limit" if limit else "swap" if swap else "reservation" if reservation
                 else "kernel" if kernel else "kernelTCP" if kernel_tcp
                 else "swappiness" if swappiness is not None else "disableOOMKiller"
                 if no_oom else "useHierarchy")
        d, ver = self._need("memory", f"{f}.{first}")
        if ver == 1:
            self._set_memory_v1(d, limit, swap, reservation, kernel, kernel_tcp, swappiness,
                                no_oom, use_hier)
            return
        # cgroup v2
        if kernel or kernel_tcp:
            which = "kernel" if kernel else "kernelTCP"
            raise RailcarError(f"{f}.{which}: kernel memory limits are not supported on "
                               "cgroup v2")
        if check and limit > 0 and not create:
            cur = _read_uint(d + "/memory.current")
            if limit < cur:
                raise RailcarError(f"{f}.limit: memory limit {limit} is lower than the current "
                                   f"usage {cur} (checkBeforeUpdate)")
        if limit or swap or reservation:
            swap2: int | None
            if limit == -1 and not swap:
                swap2 = -1
            elif not swap:
                swap2 = None
            elif swap == -1:
                swap2 = -1
            else:
                mem = limit
                if not mem:
                    mem = _read_uint(d + "/memory.max")
                    if mem == _UINT64_MAX:
                        mem = -1
                if not mem or mem == -1:
                    raise RailcarError(f"{f}.swap: unable to set swap limit without memory "
                                       "limit")
                if swap < mem:
                    raise RailcarError(f"{f}.swap: memory+swap limit ({swap}) should be >= "
                                       f"memory limit ({mem})")
                swap2 = swap - mem
            if swap2 is not None:
                if _exists(d + "/memory.swap.max"):
                    _write(f + ".swap", d, "memory.swap.max",
                           "max" if swap2 == -1 else str(swap2))
                elif swap and swap != -1:
                    raise RailcarError(f"{f}.swap: swap limits are not supported by this "
                                       "kernel (no memory.swap.max)")
            if limit:
                _write(f + ".limit", d, "memory.max", "max" if limit < 0 else str(limit))
            if reservation:
                _write(f + ".reservation", d, "memory.low",
                       "max" if reservation < 0 else str(reservation))
        # swappiness, disableOOMKiller, useHierarchy: no cgroup v2 equivalent; runc ignores them

    def _set_memory_v1(self, d: str, limit: int, swap: int, reservation: int, kernel: int,
                       kernel_tcp: int, swappiness: int | None, no_oom: bool | None,
                       use_hier: bool | None) -> None:
        f = _R + ".memory"
        memsw = _exists(d + "/memory.memsw.limit_in_bytes")
        if limit == -1 and not swap and memsw:
            swap = -1
        if swap and not memsw:
            if swap != -1:
                raise RailcarError(f"{f}.swap: swap limits are not supported by this kernel (no "
                                   f"{d}/memory.memsw.limit_in_bytes; boot with swapaccount=1)")
            swap = 0

        def set_limit() -> None:
            if not limit:
                return
            p = d + "/memory.limit_in_bytes"
            try:
                _write_raw(p, str(limit))
            except OSError as e:
                if e.errno == errno.EBUSY:
                    usage = _read_uint(d + "/memory.usage_in_bytes")
                    peak = _read_uint(d + "/memory.max_usage_in_bytes")
                    raise RailcarError(f"{f}.limit: unable to set memory limit to {limit} "
                                       f"(current usage: {usage}, peak usage: {peak})") from None
                raise RailcarError(f"{f}.limit: write {p}: {_errtext(e)}") from None

        def set_swap() -> None:
            if swap:
                _write(f + ".swap", d, "memory.memsw.limit_in_bytes", str(swap))

        if limit and swap:
            cur = _read_uint(d + "/memory.limit_in_bytes")
            if swap == -1 or cur < swap:
                set_swap()
                set_limit()
            else:
                set_limit()
                set_swap()
        else:
            set_limit()
            set_swap()
        if reservation:
            _write(f + ".reservation", d, "memory.soft_limit_in_bytes", str(reservation))
        for key, name, val in (("kernel", "memory.kmem.limit_in_bytes", kernel),
                               ("kernelTCP", "memory.kmem.tcp.limit_in_bytes", kernel_tcp)):
            if not val:
                continue
            if not _exists(d + "/" + name):
                raise RailcarError(f"{f}.{key}: kernel memory limits are not supported by this "
                                   f"kernel (no {name})")
            _write(f"{f}.{key}", d, name, str(val))
        if no_oom:
            _write(f + ".disableOOMKiller", d, "memory.oom_control", "1")
        if use_hier is not None:
            want = "1" if use_hier else "0"
            if (_read_opt(d + "/memory.use_hierarchy") or "").strip() != want:
                _write(f + ".useHierarchy", d, "memory.use_hierarchy", want)
        if swappiness is not None:
            _write(f + ".swappiness", d, "memory.swappiness", str(swappiness))

    def _set_cpu(self, c: dict, create: bool) -> None:
        f = _R + ".cpu"
        shares = _int(c, "shares", f + ".shares") or 0
        quota = _int(c, "quota", f + ".quota") or 0
        period = _int(c, "period", f + ".period") or 0
        rt_runtime = _int(c, "realtimeRuntime", f + ".realtimeRuntime") or 0
        rt_period = _int(c, "realtimePeriod", f + ".realtimePeriod") or 0
        burst = _int(c, "burst", f + ".burst")
        idle = _int(c, "idle", f + ".idle")
        if not (shares or quota or period or rt_runtime or rt_period or burst is not None
                or idle is not None):
            return
        first = ("shares" if shares else "quota" if quota else "period" if period
                 else "realtimeRuntime" if rt_runtime else "realtimePeriod" if rt_period
                 else "burst" if burst is not None else "idle")
        d, ver = self._need("cpu", f"{f}.{first}")
        if ver == 1:
            # realtime first: a SCHED_RR task cannot join a group without rt bandwidth
            if rt_period:
                _write(f + ".realtimePeriod", d, "cpu.rt_period_us", str(rt_period))
            if rt_runtime:
                _write(f + ".realtimeRuntime", d, "cpu.rt_runtime_us", str(rt_runtime))
            if idle is not None and not idle:
                self._write_idle(d, idle)   # leave SCHED_IDLE before shares can be set
            if shares:
                _write(f + ".shares", d, "cpu.shares", str(shares))
                got = _read_uint(d + "/cpu.shares")
                if shares > got:
                    raise RailcarError(f"{f}.shares: the maximum allowed cpu-shares is {got}")
                if shares < got:
                    raise RailcarError(f"{f}.shares: the minimum allowed cpu-shares is {got}")
            pending_period = ""
            if period:
                p = d + "/cpu.cfs_period_us"
                try:
                    _write_raw(p, str(period))
                except OSError as e:
                    # a smaller period can be refused until the new quota is in place
                    if e.errno != errno.EINVAL or not quota:
                        raise RailcarError(f"{f}.period: write {p}: {_errtext(e)}") from None
                    pending_period = str(period)
            if quota:
                _write(f + ".quota", d, "cpu.cfs_quota_us", str(quota))
                if pending_period:
                    _write(f + ".period", d, "cpu.cfs_period_us", pending_period)
            if burst is not None:
                if not _exists(d + "/cpu.cfs_burst_us"):
                    raise RailcarError(f"{f}.burst: not supported by this kernel (no "
                                       "cpu.cfs_burst_us)")
                _write(f + ".burst", d, "cpu.cfs_burst_us", str(burst))
            if idle:
                self._write_idle(d, idle)
            return
        # cgroup v2
        if rt_runtime or rt_period:
            which = "realtimeRuntime" if rt_runtime else "realtimePeriod"
            raise RailcarError(f"{f}.{which}: realtime scheduling limits are not supported on "
                               "cgroup v2")
        # an idle group refuses a weight: leave idle first, enter it last
        if idle is not None and not idle:
            self._write_idle(d, idle)
        if shares:
            _write(f + ".shares", d, "cpu.weight", str(shares_to_weight(shares)))
        if idle:
            self._write_idle(d, idle)
        if quota or period:
            cur = (_read_opt(d + "/cpu.max") or "max 100000").split()
            q = cur[0] if cur else "max"
            p = cur[1] if len(cur) > 1 else "100000"
            if quota:
                q = "max" if quota < 0 else str(quota)
            if period:
                p = str(period)
            _write(f + (".quota" if quota else ".period"), d, "cpu.max", f"{q} {p}")
        if burst is not None:
            if not _exists(d + "/cpu.max.burst"):
                raise RailcarError(f"{f}.burst: not supported by this kernel (no cpu.max.burst)")
            _write(f + ".burst", d, "cpu.max.burst", str(burst))

    @staticmethod
    def _write_idle(d: str, idle: int) -> None:
        f = _R + ".cpu.idle"
        if not _exists(d + "/cpu.idle"):
            raise RailcarError(f"{f}: not supported by this kernel (no cpu.idle)")
        _write(f, d, "cpu.idle", str(idle))

    def _set_pids(self, p: dict) -> None:
        f = _R + ".pids.limit"
        limit = _int(p, "limit", f) or 0
        if not limit:
            return
        d, _ = self._need("pids", f)
        _write(f, d, "pids.max", "max" if limit < 0 else str(limit))

    def _set_blkio(self, b: dict) -> None:
        f = _R + ".blockIO"
        weight = _int(b, "weight", f + ".weight") or 0
        leaf = _int(b, "leafWeight", f + ".leafWeight") or 0
        wdev = _list(b, "weightDevice", f + ".weightDevice")
        throttles = []
        for key, v1file, v2key in (
                ("throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps"),
                ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps"),
                ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops"),
                ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops")):
            for i, td in enumerate(_list(b, key, f"{f}.{key}")):
                tf = f"{f}.{key}[{i}]"
                if not isinstance(td, dict):
                    raise RailcarError(f"{tf}: must be an object")
                major = _int(td, "major", tf + ".major")
                minor = _int(td, "minor", tf + ".minor")
                rate = _int(td, "rate", tf + ".rate") or 0
                if major is None or minor is None:
                    raise RailcarError(f"{tf}: major and minor are required")
                throttles.append((tf, v1file, v2key, major, minor, rate))
        if not (weight or leaf or wdev or throttles):
            return
        first = ("weight" if weight else "leafWeight" if leaf else "weightDevice" if wdev
                 else throttles[0][0][len(f) + 1:])
        ctrl = "blkio" if "blkio" in self.v1 else "io"
        d, ver = self._need(ctrl, f"{f}.{first}")
        wdevs = []
        for i, wd in enumerate(wdev):
            wf = f"{f}.weightDevice[{i}]"
            if not isinstance(wd, dict):
                raise RailcarError(f"{wf}: must be an object")
            major = _int(wd, "major", wf + ".major")
            minor = _int(wd, "minor", wf + ".minor")
            if major is None or minor is None:
                raise RailcarError(f"{wf}: major and minor are required")
            wdevs.append((wf, major, minor, _int(wd, "weight", wf + ".weight") or 0,
                          _int(wd, "leafWeight", wf + ".leafWeight") or 0))
        if ver == 1:
            if _exists(d + "/blkio.weight"):
                wfile, wdfile = "blkio.weight", "blkio.weight_device"
            elif _exists(d + "/blkio.bfq.weight"):
                wfile, wdfile = "blkio.bfq.weight", "blkio.bfq.weight_device"
            else:
                wfile = wdfile = ""
            if weight:
                if not wfile:
                    raise RailcarError(f"{f}.weight: not supported by this kernel (no "
                                       "blkio.weight or blkio.bfq.weight)")
                _write(f + ".weight", d, wfile, str(weight))
            if leaf:
                if not _exists(d + "/blkio.leaf_weight"):
                    raise RailcarError(f"{f}.leafWeight: not supported by this kernel (no "
                                       "blkio.leaf_weight)")
                _write(f + ".leafWeight", d, "blkio.leaf_weight", str(leaf))
            for wf, major, minor, w, lw in wdevs:
                if w:
                    if not wdfile:
                        raise RailcarError(f"{wf}.weight: not supported by this kernel (no "
                                           "blkio.weight_device or blkio.bfq.weight_device)")
                    _write(wf + ".weight", d, wdfile, f"{major}:{minor} {w}")
                if lw:
                    if not _exists(d + "/blkio.leaf_weight_device"):
                        raise RailcarError(f"{wf}.leafWeight: not supported by this kernel (no "
                                           "blkio.leaf_weight_device)")
                    _write(wf + ".leafWeight", d, "blkio.leaf_weight_device",
                           f"{major}:{minor} {lw}")
            for tf, v1file, _v2key, major, minor, rate in throttles:
                _write(tf, d, v1file, f"{major}:{minor} {rate}")
            return
        # cgroup v2: io.bfq.weight (same scale) when BFQ is there, else io.weight (converted)
        bfq = _exists(d + "/io.bfq.weight")
        if weight:
            if bfq:
                _write(f + ".weight", d, "io.bfq.weight", str(weight))
            else:
                _write(f + ".weight", d, "io.weight", str(blkio_weight_to_io_weight(weight)))
        if leaf:
            raise RailcarError(f"{f}.leafWeight: not supported on cgroup v2")
        for wf, major, minor, w, lw in wdevs:
            if lw:
                raise RailcarError(f"{wf}.leafWeight: not supported on cgroup v2")
            if w:
                if bfq:
                    _write(wf + ".weight", d, "io.bfq.weight", f"{major}:{minor} {w}")
                else:
                    _write(wf + ".weight", d, "io.weight",
                           f"{major}:{minor} {blkio_weight_to_io_weight(w)}")
        for tf, _v1file, v2key, major, minor, rate in throttles:
            _write(tf, d, "io.max", f"{major}:{minor} {v2key}={rate if rate > 0 else 'max'}")

    def _set_hugetlb(self, limits: list) -> None:
        f = _R + ".hugepageLimits"
        if not limits:
            return
        d, ver = self._need("hugetlb", f)
        for i, h in enumerate(limits):
            hf = f"{f}[{i}]"
            if not isinstance(h, dict):
                raise RailcarError(f"{hf}: must be an object")
            ps = _str(h, "pageSize", hf + ".pageSize")
            limit = _int(h, "limit", hf + ".limit")
            if not ps or "/" in ps:
                raise RailcarError(f"{hf}.pageSize: required (e.g. \"2MB\")")
            if limit is None:
                raise RailcarError(f"{hf}.limit: required")
            name = f"hugetlb.{ps}.limit_in_bytes" if ver == 1 else f"hugetlb.{ps}.max"
            if not _exists(d + "/" + name):
                avail = ", ".join(_hugetlb_sizes(d, ver)) or "none"
                raise RailcarError(f"{hf}.pageSize: hugepage size {ps!r} is not supported by "
                                   f"this kernel (available: {avail})")
            val = "max" if (ver == 2 and limit < 0) else str(limit if limit >= 0 else -1)
            _write(hf + ".limit", d, name, val)
            rsvd = (f"hugetlb.{ps}.rsvd.limit_in_bytes" if ver == 1
                    else f"hugetlb.{ps}.rsvd.max")
            if _exists(d + "/" + rsvd):
                _write(hf + ".limit", d, rsvd, val)

    def _set_network(self, n: dict) -> None:
        f = _R + ".network"
        class_id = _int(n, "classID", f + ".classID")
        prios = _list(n, "priorities", f + ".priorities")
        if class_id:
            d, _ = self._need("net_cls", f + ".classID")
            _write(f + ".classID", d, "net_cls.classid", str(class_id))
        if prios:
            d, _ = self._need("net_prio", f + ".priorities")
            for i, p in enumerate(prios):
                pf = f"{f}.priorities[{i}]"
                if not isinstance(p, dict):
                    raise RailcarError(f"{pf}: must be an object")
                name = _str(p, "name", pf + ".name")
                prio = _int(p, "priority", pf + ".priority")
                if not name or prio is None:
                    raise RailcarError(f"{pf}: name and priority are required")
                _write(pf, d, "net_prio.ifpriomap", f"{name} {prio}")

    def _set_rdma(self, r: dict) -> None:
        f = _R + ".rdma"
        if not r:
            return
        d, _ = self._need("rdma", f)
        for dev, lim in r.items():
            df = f"{f}.{dev}"
            if not isinstance(lim, dict):
                raise RailcarError(f"{df}: must be an object")
            h = _int(lim, "hcaHandles", df + ".hcaHandles")
            o = _int(lim, "hcaObjects", df + ".hcaObjects")
            if h is None and o is None:
                continue
            hs = "max" if h is None else str(h)
            os_ = "max" if o is None else str(o)
            _write(df, d, "rdma.max", f"{dev} hca_handle={hs} hca_object={os_}")

    def _set_unified(self, u: dict) -> None:
        f = _R + ".unified"
        if not u:
            return
        if not self.v2:
            raise RailcarError(f"{f}: cannot be used on cgroup v1 (no unified hierarchy)")
        for key, val in u.items():
            kf = f"{f}.{key}"
            if not key or "/" in key or key.startswith("."):
                raise RailcarError(f"{kf}: invalid cgroup file name")
            if not isinstance(val, str):
                raise RailcarError(f"{kf}: must be a string")
            p = self.v2 + "/" + key
            try:
                _write_raw(p, val)
            except OSError as e:
                ctrl = key.split(".", 1)[0]
                if e.errno == errno.ENOENT and ctrl != "cgroup" and (
                        ctrl not in self.v2_controllers):
                    where = " (it is mounted as cgroup v1)" if ctrl in self.v1 else ""
                    raise RailcarError(f"{kf}: the {ctrl} controller is not available in the "
                                       f"unified hierarchy{where}") from None
                raise RailcarError(f"{kf}: write {p}: {_errtext(e)}") from None

    # -- processes -----------------------------------------------------------------------------

    def procs_files(self) -> list[str]:
        """The cgroup.procs files a new process's pid goes into (one per hierarchy)."""
        return [d + "/cgroup.procs" for d in self.dirs()]

    def add(self, pid: int) -> None:
        for p in self.procs_files():
            try:
                _write_raw(p, str(pid))
            except OSError as e:
                raise RailcarError(f"cgroups: add pid {pid}: write {p}: {_errtext(e)}") from None

    def _primary(self) -> str:
        if self.kind == "v2" and self.v2:
            return self.v2
        for c in ("freezer", "pids", "devices", "memory", "cpu", "cpuacct", _NAMED_JOINED):
            if c in self.v1:
                return self.v1[c]
        if self.v1:
            return next(iter(self.v1.values()))
        return self.v2

    def _pids_in(self, d: str) -> list[int]:
        out: list[int] = []
        for top, _dirs, _files in os.walk(d):
            s = _read_opt(top + "/cgroup.procs")
            if s:
                out.extend(int(x) for x in s.split())
        return out

    def pids(self) -> list[int]:
        """Every process in the container's cgroup (sub-cgroups included)."""
        d = self._primary()
        if not d:
            return []
        return sorted(set(self._pids_in(d)))

    def _all_pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs():
            out.update(self._pids_in(d))
        return out

    # -- freezer ---------------------------------------------------------------------------

    def _freezer(self) -> tuple[str, int]:
        d = self.v1.get("freezer")
        if d:
            return d, 1
        if self.v2 and _exists(self.v2 + "/cgroup.freeze"):
            return self.v2, 2
        return "", 0

    def freezer_file(self) -> tuple[str, int]:
        """(file, 1) for v1 freezer.state, (file, 2) for v2 cgroup.freeze, ("", 0) if none."""
        d, ver = self._freezer()
        if not d:
            return "", 0
        return (d + "/freezer.state" if ver == 1 else d + "/cgroup.freeze"), ver

    def freeze(self) -> None:
        import time

        d, ver = self._freezer()
        if not d:
            raise RailcarError("cgroups: cannot pause: no freezer cgroup on this host")
        deadline = time.monotonic() + 10.0
        delay = 0.0005
        if ver == 1:
            while True:
                _write("pause", d, "freezer.state", "FROZEN")
                if (_read_opt(d + "/freezer.state") or "").strip() == "FROZEN":
                    return
                if time.monotonic() > deadline:
                    break
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
            try:
                _write_raw(d + "/freezer.state", "THAWED")
            except OSError:
                pass
            raise RailcarError(f"pause: timed out waiting for {d}/freezer.state to be FROZEN")
        _write("pause", d, "cgroup.freeze", "1")
        while True:
            if _read_kv(d + "/cgroup.events").get("frozen") == 1:
                return
            if time.monotonic() > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        try:
            _write_raw(d + "/cgroup.freeze", "0")
        except OSError:
            pass
        raise RailcarError(f"pause: timed out waiting for {d} to be frozen")

    def thaw(self) -> None:
        import time

        d, ver = self._freezer()
        if not d:
            raise RailcarError("cgroups: cannot resume: no freezer cgroup on this host")
        if ver == 2:
            _write("resume", d, "cgroup.freeze", "0")
            return
        deadline = time.monotonic() + 10.0
        while True:
            _write("resume", d, "freezer.state", "THAWED")
            if (_read_opt(d + "/freezer.state") or "").strip() == "THAWED":
                return
            if time.monotonic() > deadline:
                raise RailcarError(f"resume: timed out waiting for {d}/freezer.state to be "
                                   "THAWED")
            time.sleep(0.001)

    def frozen(self) -> bool:
        d, ver = self._freezer()
        if not d:
            return False
        if ver == 1:
            st = (_read_opt(d + "/freezer.state") or "").strip()
            if st == "FROZEN":
                return True
            if st == "FREEZING":
                return (_read_opt(d + "/freezer.self_freezing") or "").strip() == "1"
            return False
        return (_read_opt(d + "/cgroup.freeze") or "").strip() == "1"

    # -- destroy ---------------------------------------------------------------------------

    def _kill_all(self) -> None:
        import time

        deadline = time.monotonic() + 5.0
        if self.v2 and _exists(self.v2 + "/cgroup.kill"):
            try:
                _write_raw(self.v2 + "/cgroup.kill", "1")
            except OSError:
                pass
        else:
            # freeze first so nothing forks while we kill
            if self._freezer()[0] and self._all_pids():
                try:
                    self.freeze()
                except RailcarError:
                    pass
            for pid in self._all_pids():
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
        # a task frozen by the v1 freezer cannot die: thaw (a no-op when not frozen)
        fd, ver = self._freezer()
        if fd:
            state = (_read_opt(fd + ("/freezer.state" if ver == 1 else "/cgroup.freeze"))
                     or "").strip()
            if state not in ("THAWED", "0", ""):
                try:
                    self.thaw()
                except RailcarError:
                    pass
        delay = 0.001
        while True:
            left = self._all_pids()
            if not left:
                return
            for pid in left:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _check_owned(self) -> None:
        """Refuse to kill in or remove what cannot be a container's cgroup (a state file that was
        forged or damaged): a directory that is not a cgroup, a hierarchy's root, or one that
        holds this very process."""
        me = os.getpid()
        for d in self.dirs():
            try:
                st, up = os.stat(d), os.stat(os.path.dirname(d))
            except FileNotFoundError:
                continue  # never made, or gone: nothing to do there
            except OSError as e:
                raise RailcarError(f"cgroups: stat {d}: {_errtext(e)}") from None
            why = ""
            if not _exists(d + "/cgroup.procs"):
                why = "not a cgroup"
            elif self.inodes and self.inodes.get(d) != st.st_ino:
                why = "not the directory this container made (another path or inode)"
            elif st.st_dev != up.st_dev:
                why = "the root of a cgroup hierarchy"
            elif me in self._pids_in(d):
                why = "the runtime's own cgroup"
            if why:
                raise NotOurs(f"cgroups: refusing to remove {d}: {why}")

    def destroy(self, kill: bool = False) -> None:
        """Optionally SIGKILL everything inside, then rmdir every directory (children first).

        Missing directories are fine; EBUSY is retried briefly.
        """
        self._check_owned()
        if kill:
            self._kill_all()
        failed = []
        for d in self.dirs():
            err = _rmtree(d)
            if err:
                failed.append(err)
        if failed:
            raise RailcarError("cgroups: " + "; ".join(failed))

    # -- stats -----------------------------------------------------------------------------

    def oom_count(self) -> int:
        """How many times the OOM killer hit the cgroup (v1 oom_kill, else under_oom)."""
        d, ver = self._where("memory")
        if not d:
            return 0
        if ver == 1:
            kv = _read_kv(d + "/memory.oom_control")
            if "oom_kill" in kv:
                return kv["oom_kill"]
            return kv.get("under_oom", 0)
        return _read_kv(d + "/memory.events").get("oom_kill", 0)

    def stats(self) -> dict:
        """runc's `events --stats` "data" object."""
        return {
            "cpu": self._stats_cpu(),
            "cpuset": self._stats_cpuset(),
            "memory": self._stats_memory(),
            "pids": self._stats_pids(),
            "blkio": self._stats_blkio(),
            "hugetlb": self._stats_hugetlb(),
            "intel_rdt": {},
            "network_interfaces": None,
        }

    def _stats_cpu(self) -> dict:
        usage: dict[str, Any] = {}
        thr: dict[str, int] = {}
        acct = self.v1.get("cpuacct")
        if acct:
            total = _read_uint(acct + "/cpuacct.usage")
            if total:
                usage["total"] = total
            percpu = [int(x) for x in (_read_opt(acct + "/cpuacct.usage_percpu") or "").split()
                      if x.isdigit()]
            if percpu:
                usage["percpu"] = percpu
            pk: list[int] = []
            pu: list[int] = []
            for line in (_read_opt(acct + "/cpuacct.usage_all") or "").splitlines()[1:]:
                parts = line.split()
                if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                    pu.append(int(parts[1]))
                    pk.append(int(parts[2]))
            if pk:
                usage["percpu_kernel"] = pk
            if pu:
                usage["percpu_user"] = pu
            kv = _read_kv(acct + "/cpuacct.stat")
            hz = os.sysconf("SC_CLK_TCK") or 100
            usage["kernel"] = kv.get("system", 0) * 1000000000 // hz
            usage["user"] = kv.get("user", 0) * 1000000000 // hz
        elif self.v2:
            kv = _read_kv(self.v2 + "/cpu.stat")
            if kv.get("usage_usec"):
                usage["total"] = kv["usage_usec"] * 1000
            usage["kernel"] = kv.get("system_usec", 0) * 1000
            usage["user"] = kv.get("user_usec", 0) * 1000
        else:
            usage["kernel"] = 0
            usage["user"] = 0
        d, ver = self._where("cpu")
        if d:
            kv = _read_kv(d + "/cpu.stat")
            throttled = kv.get("throttled_time", 0) if ver == 1 else kv.get(
                "throttled_usec", 0) * 1000
            for k, v in (("periods", kv.get("nr_periods", 0)),
                         ("throttledPeriods", kv.get("nr_throttled", 0)),
                         ("throttledTime", throttled)):
                if v:
                    thr[k] = v
        return {"usage": usage, "throttling": thr}

    def _stats_cpuset(self) -> dict:
        out: dict[str, Any] = {}
        d, ver = self._where("cpuset")
        if d:
            if ver == 1:
                cpus = _read_opt(d + "/cpuset.effective_cpus") or _read_opt(
                    d + "/cpuset.cpus") or ""
                mems = _read_opt(d + "/cpuset.effective_mems") or _read_opt(
                    d + "/cpuset.mems") or ""
            else:
                cpus = _read_opt(d + "/cpuset.cpus.effective") or ""
                mems = _read_opt(d + "/cpuset.mems.effective") or ""
            if _parse_list(cpus):
                out["cpus"] = _parse_list(cpus)
            if _parse_list(mems):
                out["mems"] = _parse_list(mems)
            if ver == 1:
                for key, name in (("cpu_exclusive", "cpu_exclusive"),
                                  ("mem_hardwall", "mem_hardwall"),
                                  ("mem_exclusive", "mem_exclusive"),
                                  ("memory_migrate", "memory_migrate"),
                                  ("memory_spread_page", "memory_spread_page"),
                                  ("memory_spread_slab", "memory_spread_slab"),
                                  ("memory_pressure", "memory_pressure"),
                                  ("sched_load_balance", "sched_load_balance")):
                    out[key] = _read_uint(d + "/cpuset." + name)
                s = (_read_opt(d + "/cpuset.sched_relax_domain_level") or "0").strip()
                try:
                    out["sched_relax_domain_level"] = int(s)
                except ValueError:
                    out["sched_relax_domain_level"] = 0
                return out
        for key in ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate",
                    "memory_spread_page", "memory_spread_slab", "memory_pressure",
                    "sched_load_balance"):
            out[key] = 0
        out["sched_relax_domain_level"] = 0
        return out

    def _stats_memory(self) -> dict:
        def entry(usage: int, mx: int, failcnt: int, limit: int) -> dict:
            e: dict[str, int] = {"limit": limit}
            if usage:
                e["usage"] = usage
            if mx:
                e["max"] = mx
            e["failcnt"] = failcnt
            return e

        empty = entry(0, 0, 0, 0)
        out: dict[str, Any] = {"usage": empty, "swap": dict(empty), "kernel": dict(empty),
                               "kernelTCP": dict(empty)}
        d, ver = self._where("memory")
        if not d:
            return out
        raw = _read_kv(d + "/memory.stat")
        if ver == 1:
            def data(prefix: str) -> dict:
                if not _exists(f"{d}/{prefix}.usage_in_bytes"):
                    return dict(empty)
                return entry(_read_uint(f"{d}/{prefix}.usage_in_bytes"),
                             _read_uint(f"{d}/{prefix}.max_usage_in_bytes"),
                             _read_uint(f"{d}/{prefix}.failcnt"),
                             _read_uint(f"{d}/{prefix}.limit_in_bytes"))

            cache = raw.get("cache", 0)
            out["usage"] = data("memory")
            out["swap"] = data("memory.memsw")
            out["kernel"] = data("memory.kmem")
            out["kernelTCP"] = data("memory.kmem.tcp")
        else:
            cache = raw.get("file", 0)
            usage = _read_uint(d + "/memory.current")
            limit = _read_uint(d + "/memory.max")
            events = _read_kv(d + "/memory.events")
            out["usage"] = entry(usage, _read_uint(d + "/memory.peak"), events.get("max", 0),
                                 limit)
            if _exists(d + "/memory.swap.current"):
                su = _read_uint(d + "/memory.swap.current")
                sl = _read_uint(d + "/memory.swap.max")
                # v1 reports memory+swap; so does runc on v2
                if sl != _UINT64_MAX and limit != _UINT64_MAX:
                    sl += limit
                else:
                    sl = _UINT64_MAX
                sev = _read_kv(d + "/memory.swap.events")
                out["swap"] = entry(su + usage, 0, sev.get("max", 0), sl)
        if cache:
            out["cache"] = cache
        if raw:
            out["raw"] = raw
        return out

    def _stats_pids(self) -> dict:
        out: dict[str, int] = {}
        d, _ = self._where("pids")
        if d:
            cur = _read_uint(d + "/pids.current")
            lim = _read_uint(d + "/pids.max")
            if cur:
                out["current"] = cur
            if lim and lim != _UINT64_MAX:
                out["limit"] = lim
        return out

    def _stats_blkio(self) -> dict:
        d = self.v1.get("blkio")
        if d:
            return _blkio_v1_stats(d)
        if self.v2 and "io" in self.v2_controllers:
            return _io_v2_stats(self.v2)
        return {}

    def _stats_hugetlb(self) -> dict:
        out: dict[str, dict] = {}
        d, ver = self._where("hugetlb")
        if not d:
            return out
        for size in _hugetlb_sizes(d, ver):
            e: dict[str, int] = {}
            if ver == 1:
                usage = _read_uint(f"{d}/hugetlb.{size}.usage_in_bytes")
                mx = _read_uint(f"{d}/hugetlb.{size}.max_usage_in_bytes")
                fc = _read_uint(f"{d}/hugetlb.{size}.failcnt")
            else:
                usage = _read_uint(f"{d}/hugetlb.{size}.current")
                mx = 0
                fc = _read_kv(f"{d}/hugetlb.{size}.events").get("max", 0)
            if usage:
                e["usage"] = usage
            if mx:
                e["max"] = mx
            e["failcnt"] = fc
            out[size] = e
        return out


# ---------------------------------------------------------------------------------------------
# helpers used above


def _cpuset_fill(parent: str, d: str, before: bool) -> None:
    """v1 cpuset: a new cgroup starts with empty cpus/mems; copy the parent's (else tasks
    cannot join)."""
    if before:
        return
    for name in ("cpuset.cpus", "cpuset.mems"):
        cur = _read_opt(d + "/" + name)
        if cur is None or cur.strip():
            continue
        val = (_read_opt(parent + "/" + name) or "").strip()
        if val:
            try:
                _write_raw(d + "/" + name, val)
            except OSError as e:
                raise RailcarError(f"cgroups: write {d}/{name}: {_errtext(e)}") from None


def _v2_enable(parent: str, d: str, before: bool) -> None:
    """cgroup v2: before creating d, enable in parent's subtree_control every controller the
    parent has (one at a time when all at once is refused)."""
    if not before:
        return
    avail = (_read_opt(parent + "/cgroup.controllers") or "").split()
    if not avail:
        return
    have = set((_read_opt(parent + "/cgroup.subtree_control") or "").split())
    want = [c for c in avail if c not in have]
    if not want:
        return
    p = parent + "/cgroup.subtree_control"
    try:
        _write_raw(p, " ".join("+" + c for c in want))
        return
    except OSError:
        pass
    for c in want:
        try:
            _write_raw(p, "+" + c)
        except OSError:
            pass


def _rmtree(d: str) -> str:
    """rmdir d and any sub-cgroups, children first; EBUSY retried. Returns an error or ""."""
    import time

    if not _exists(d):
        return ""
    subdirs = [top for top, _dirs, _files in os.walk(d, topdown=False)]
    for sub in subdirs:
        delay = 0.01
        for attempt in range(8):
            try:
                os.rmdir(sub)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno == errno.EBUSY and attempt < 7:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
                    continue
                return f"rmdir {sub}: {_errtext(e)}"
    return ""


def _hugetlb_sizes(d: str, ver: int) -> list[str]:
    suffix = "limit_in_bytes" if ver == 1 else "max"
    sizes = []
    try:
        names = os.listdir(d)
    except OSError:
        return sizes
    for n in names:
        parts = n.split(".")
        if len(parts) == 3 and parts[0] == "hugetlb" and parts[2] == suffix:
            sizes.append(parts[1])

    def key(s: str) -> int:
        units = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
        num = s[:-2]
        return int(num) * units.get(s[-2:], 1) if num.isdigit() else 0

    return sorted(sizes, key=key)


def _blkio_entries(path: str) -> list[dict] | None:
    s = _read_opt(path)
    if s is None:
        return None
    out: list[dict] = []
    for line in s.splitlines():
        fields = line.replace(":", " ").split()
        if len(fields) < 3:
            continue
        try:
            major, minor = int(fields[0]), int(fields[1])
            if len(fields) == 4:
                op, value = fields[2], int(fields[3])
            else:
                op, value = "", int(fields[2])
        except ValueError:
            continue
        e: dict[str, Any] = {}
        if major:
            e["major"] = major
        if minor:
            e["minor"] = minor
        if op:
            e["op"] = op
        if value:
            e["value"] = value
        out.append(e)
    return out


_BLKIO_GROUPS = (
    (("blkio.bfq.sectors_recursive", "sectorsRecursive"),
     ("blkio.bfq.io_service_time_recursive", "ioServiceTimeRecursive"),
     ("blkio.bfq.io_wait_time_recursive", "ioWaitTimeRecursive"),
     ("blkio.bfq.io_merged_recursive", "ioMergedRecursive"),
     ("blkio.bfq.io_queued_recursive", "ioQueueRecursive"),
     ("blkio.bfq.time_recursive", "ioTimeRecursive"),
     ("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.sectors_recursive", "sectorsRecursive"),
     ("blkio.io_service_time_recursive", "ioServiceTimeRecursive"),
     ("blkio.io_wait_time_recursive", "ioWaitTimeRecursive"),
     ("blkio.io_merged_recursive", "ioMergedRecursive"),
     ("blkio.io_queued_recursive", "ioQueueRecursive"),
     ("blkio.time_recursive", "ioTimeRecursive"),
     ("blkio.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.throttle.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.throttle.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.throttle.io_serviced", "ioServicedRecursive"),
     ("blkio.throttle.io_service_bytes", "ioServiceBytesRecursive")),
)


def _blkio_v1_stats(d: str) -> dict:
    """runc's order: the first group whose first file exists (bfq debug, bfq, cfq, throttle)."""
    for group in _BLKIO_GROUPS:
        first = _blkio_entries(f"{d}/{group[0][0]}")
        if first is None:
            continue
        out: dict[str, list] = {}
        for i, (name, key) in enumerate(group):
            entries = first if i == 0 else _blkio_entries(f"{d}/{name}")
            if entries:
                out[key] = entries
        return out
    return {}


def _io_v2_stats(d: str) -> dict:
    out: dict[str, list] = {}
    s = _read_opt(d + "/io.stat") or ""
    for line in s.splitlines():
        parts = line.split()
        if len(parts) < 2 or ":" not in parts[0]:
            continue
        try:
            major, minor = (int(x) for x in parts[0].split(":", 1))
        except ValueError:
            continue
        for item in parts[1:]:
            k, _, v = item.partition("=")
            table = {"rbytes": ("ioServiceBytesRecursive", "Read"),
                     "wbytes": ("ioServiceBytesRecursive", "Write"),
                     "rios": ("ioServicedRecursive", "Read"),
                     "wios": ("ioServicedRecursive", "Write")}.get(k)
            if table is None or not v.isdigit():
                continue
            e: dict[str, Any] = {}
            if major:
                e["major"] = major
            if minor:
                e["minor"] = minor
            e["op"] = table[1]
            if int(v):
                e["value"] = int(v)
            out.setdefault(table[0], []).append(e)
    return out
