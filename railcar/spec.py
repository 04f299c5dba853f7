"""config.json (and exec's process.json): load, validate, and the default spec of `railcar spec`.

Validation is a small interpreter over schema tables (below) plus a few cross-field checks. A
schema node is one of:
  "str" | "int" | ...   a leaf type (see _LEAF)
  {key: node, "!": (required keys...)}   an object; unknown keys are kept and ignored
  [node]                a list of node
  ("range", lo, hi)     an integer in [lo, hi]
  ("enum", what, names) a string in names, else `unknown <what> "x"`
  ("names", what, names) a list of such strings (errors name the list, not the index)
  ("map", node)         an object of string keys → node
  ("and", node, fn)     node, then fn(value, field) for what types alone cannot say
An optional field that is null counts as absent, as Go's decoder (runc) reads it, and is dropped
from the dict so later stages can rely on `.get(key, default)`.
"""

from __future__ import annotations

import os

from railcar.errors import RailcarError, SpecError, strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["CAPS", "DEV_MAX", "RLIMITS", "check_device_number", "default_spec", "load", "validate",
           "validate_process", "validate_resources"]

# linux/capability.h: name → bit number
CAPS: dict[str, int] = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}
# asm-generic/resource.h (x86_64 uses the generic numbers): name → resource
RLIMITS: dict[str, int] = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
NAMESPACES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
PROPAGATIONS = ("shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable")
HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
# runtime-spec config-linux.md, seccomp section
SECCOMP_ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
                   "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
SECCOMP_OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
               "SCMP_CMP_MASKED_EQ")
SECCOMP_ARCHS = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
                 "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
                 "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
                 "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
                 "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64")
SECCOMP_FLAGS = ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                 "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")

_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_U16, _U32, _U64 = 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF


# --- leaf checks ---------------------------------------------------------------------------------
def _show(v: object) -> str:
    from railcar.jsonfast import dumps

    try:
        s = dumps(v)
    except (TypeError, ValueError):
        s = type(v).__name__
    return s if len(s) <= 40 else s[:37] + "..."


def _bad(f: str, what: str, v: object) -> SpecError:
    return SpecError(f, f"must be {what}, got {_show(v)}")


def _str(v: object, f: str) -> None:
    if not isinstance(v, str):
        raise _bad(f, "a string", v)


def _bool(v: object, f: str) -> None:
    if not isinstance(v, bool):
        raise _bad(f, "a boolean", v)


def _int(v: object, f: str, lo: int = _I64_MIN, hi: int = _I64_MAX) -> None:
    # bool is an int subclass and JSON 1.0 is a float: neither is an integer to Go's decoder.
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad(f, "an integer", v)
    if v < lo or v > hi:
        raise SpecError(f, f"must be between {lo} and {hi}, got {v}")


def _abs(v: object, f: str) -> None:
    if not isinstance(v, str) or not v.startswith("/"):
        raise _bad(f, "an absolute path", v)


def _path(v: object, f: str) -> None:
    """Absolute, or "" (Go's zero value: not set)."""
    if v != "":
        _abs(v, f)


def _list_of(v: object, f: str, each: Callable[[object, str], None]) -> list:
    if not isinstance(v, list):
        raise _bad(f, "a list", v)
    for i, x in enumerate(v):
        each(x, f"{f}[{i}]")
    return v


def _list_of_str(v: object, f: str) -> None:
    if not isinstance(v, list):
        raise _bad(f, "a list of strings", v)
    try:
        "".join(v)  # a type check at C speed: seccomp profiles list hundreds of names
    except TypeError:
        i, x = next((i, x) for i, x in enumerate(v) if not isinstance(x, str))
        raise _bad(f"{f}[{i}]", "a string", x) from None


def _env(v: object, f: str) -> None:
    def one(x: object, g: str) -> None:
        # The name may hold anything but "=" and NUL; execve cannot pass a NUL.
        if not isinstance(x, str) or x.find("=") < 1 or "\0" in x:
            raise _bad(g, 'a "NAME=value" string', x)

    _list_of(v, f, one)


def _map(v: object, f: str) -> None:
    _map_of(v, f, "str")


def _map_of(v: object, f: str, node: object) -> None:
    if not isinstance(v, dict):
        raise _bad(f, "an object", v)
    for k, x in v.items():
        if not k:
            raise SpecError(f, "keys must not be empty")
        _check(x, node, f'{f}["{k}"]')


def _pos(v: object, f: str) -> None:
    _int(v, f)
    if v <= 0:
        raise SpecError(f, f"must be greater than zero, got {v}")


# The kernel's device numbers (linux/kdev_t.h, MINORBITS): a 12-bit major and a 20-bit minor. mknod
# cannot make, and no device rule can match, a number outside them; runc truncates it silently.
DEV_MAX = {"major": (1 << 12) - 1, "minor": (1 << 20) - 1}


def check_device_number(v: object, f: str, which: str, wildcard: bool = False) -> None:
    """`which` is "major" or "minor"; with `wildcard`, -1 means any (a device cgroup rule)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad(f, "an integer", v)
    if wildcard and v == -1:
        return
    hi = DEV_MAX[which]
    if not 0 <= v <= hi:
        any_ = "-1 (any) or " if wildcard else ""
        raise SpecError(f, f"must be {any_}between 0 and {hi} (the kernel's device numbers have a "
                           f"{hi.bit_length()}-bit {which}), got {v}")


_LEAF: dict[str, Callable[[object, str], None]] = {
    "str": _str, "bool": _bool, "int": _int, "abs": _abs, "path": _path, "strs": _list_of_str,
    "abss": lambda v, f: _list_of(v, f, _abs), "env": _env, "map": _map, "pos": _pos,
    "u16": lambda v, f: _int(v, f, 0, _U16), "u32": lambda v, f: _int(v, f, 0, _U32),
    "u64": lambda v, f: _int(v, f, 0, _U64), "any": lambda v, f: None,
    "major": lambda v, f: check_device_number(v, f, "major"),
    "minor": lambda v, f: check_device_number(v, f, "minor"),
    "major*": lambda v, f: check_device_number(v, f, "major", True),
    "minor*": lambda v, f: check_device_number(v, f, "minor", True),
}


# --- the interpreter -----------------------------------------------------------------------------
def _check(v: object, node: object, f: str) -> None:
    t = type(node)
    if t is str:
        _LEAF[node](v, f)
    elif t is dict:
        _obj(v, node, f)
    elif t is list:
        sub = node[0]
        _list_of(v, f, lambda x, g: _check(x, sub, g))
    else:
        kind = node[0]
        if kind == "range":
            _int(v, f, node[1], node[2])
        elif kind == "enum":
            _name(v, f, node[1], node[2])
        elif kind == "names":
            _list_of_str(v, f)
            for x in v:
                _name(x, f, node[1], node[2])
        elif kind == "map":
            _map_of(v, f, node[1])
        else:  # "and"
            _check(v, node[1], f)
            node[2](v, f)


def _name(v: object, f: str, what: str, names: object) -> None:
    if not isinstance(v, str):
        raise _bad(f, "a string", v)
    if v not in names:
        raise SpecError(f, f'unknown {what} "{v}"')


def _obj(v: object, schema: dict, f: str) -> None:
    if not isinstance(v, dict):
        raise _bad(f, "an object", v)
    pre = f + "." if f else ""
    for k in schema.get("!", ()):
        if v.get(k) is None:
            raise SpecError(pre + k, "is required")
    nulls: list[str] = []
    for k, x in v.items():  # the object's keys, not the schema's: most objects set few fields
        node = schema.get(k)
        if node is None or k == "!":
            continue
        if x is None:
            nulls.append(k)
        else:
            _check(x, node, pre + k)
    for k in nulls:
        del v[k]


# --- cross-field checks (run after the types are known to be right) ------------------------------
def _rlimit(r: dict, f: str) -> None:
    if r["soft"] > r["hard"]:
        raise SpecError(f"{f}.soft", f"{r['soft']} is greater than hard ({r['hard']})")


def _unique(key: str, what: str) -> Callable[[list, str], None]:
    def check(items: list, f: str) -> None:
        seen: set[str] = set()
        for i, it in enumerate(items):
            if it[key] in seen:
                raise SpecError(f"{f}[{i}].{key}", f'duplicate {what} "{it[key]}"')
            seen.add(it[key])

    return check


def _device(d: dict, f: str) -> None:
    if d["type"] != "p":
        for k in ("major", "minor"):
            if k not in d:
                raise SpecError(f"{f}.{k}", f'is required for type "{d["type"]}"')


def _time_offsets(v: dict, f: str) -> None:
    for k in v:
        if k not in ("monotonic", "boottime"):
            raise SpecError(f, f'unknown clock "{k}"')


def _nonempty(v: list, f: str) -> None:
    if not v:
        raise SpecError(f, "must not be empty")


# --- schema tables -------------------------------------------------------------------------------
_IDMAP = {"!": ("containerID", "hostID", "size"), "containerID": "u32", "hostID": "u32",
          "size": ("range", 1, _U32)}
_CAPS = ("names", "capability", CAPS)
_PROCESS = {
    "!": ("cwd",),
    "terminal": "bool",
    "consoleSize": {"!": ("height", "width"), "height": "u32", "width": "u32"},
    "user": {"uid": "u32", "gid": "u32", "umask": "u32", "additionalGids": ["u32"], "username": "str"},
    "args": "strs",
    "commandLine": "str",
    "env": "env",
    "cwd": "abs",
    "capabilities": {k: _CAPS for k in ("bounding", "effective", "inheritable", "permitted", "ambient")},
    "rlimits": ("and", [("and", {"!": ("type", "hard", "soft"), "type": ("enum", "rlimit", RLIMITS),
                                 "hard": "u64", "soft": "u64"}, _rlimit)], _unique("type", "rlimit")),
    "noNewPrivileges": "bool",
    "apparmorProfile": "str",
    "selinuxLabel": "str",
    "oomScoreAdj": ("range", -1000, 1000),
    "ioPriority": {"!": ("class",), "priority": ("range", 0, 7),
                   "class": ("enum", "I/O priority class",
                             ("IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"))},
}
_HOOK = {"!": ("path",), "path": "abs", "args": "strs", "env": "strs", "timeout": "pos"}
_DEV_RULE = {"!": ("allow",), "allow": "bool", "type": "str", "major": "major*", "minor": "minor*", "access": "str"}
_WEIGHT_DEV = {"!": ("major", "minor"), "major": "major", "minor": "minor", "weight": "u16", "leafWeight": "u16"}
_THROTTLE_DEV = {"!": ("major", "minor", "rate"), "major": "major", "minor": "minor", "rate": "u64"}
# Go's field types: a negative number in an unsigned field is a decode error in runc too.
_RESOURCES = {
    "devices": [_DEV_RULE],
    "memory": {"limit": "int", "reservation": "int", "swap": "int", "kernel": "int", "kernelTCP": "int",
               "swappiness": "u64", "disableOOMKiller": "bool", "useHierarchy": "bool",
               "checkBeforeUpdate": "bool"},
    "cpu": {"shares": "u64", "quota": "int", "burst": "u64", "period": "u64", "realtimeRuntime": "int",
            "realtimePeriod": "u64", "cpus": "str", "mems": "str", "idle": "int"},
    "pids": {"limit": "int"},
    "blockIO": {"weight": "u16", "leafWeight": "u16", "weightDevice": [_WEIGHT_DEV],
                **{k: [_THROTTLE_DEV] for k in ("throttleReadBpsDevice", "throttleWriteBpsDevice",
                                                "throttleReadIOPSDevice", "throttleWriteIOPSDevice")}},
    "hugepageLimits": [{"!": ("pageSize", "limit"), "pageSize": "str", "limit": "u64"}],
    "network": {"classID": "u32", "priorities": [{"!": ("name", "priority"), "name": "str",
                                                  "priority": "u32"}]},
    "unified": "map",
    "rdma": ("map", {"hcaHandles": "u32", "hcaObjects": "u32"}),
}
_SECCOMP = {
    "!": ("defaultAction",),
    "defaultAction": ("enum", "action", SECCOMP_ACTIONS),
    "defaultErrnoRet": "u32",
    "architectures": ("names", "architecture", SECCOMP_ARCHS),
    "flags": ("names", "flag", SECCOMP_FLAGS),
    "listenerPath": "str",
    "listenerMetadata": "str",
    "syscalls": [{
        "!": ("names", "action"),
        "names": ("and", "strs", _nonempty),
        "action": ("enum", "action", SECCOMP_ACTIONS),
        "errnoRet": "u32",
        "args": [{"!": ("index", "value", "op"), "index": ("range", 0, 5), "value": "u64",
                  "valueTwo": "u64", "op": ("enum", "operator", SECCOMP_OPS)}],
    }],
}
_LINUX = {
    "namespaces": ("and", [{"!": ("type",), "type": ("enum", "namespace type", NAMESPACES), "path": "path"}],
                   _unique("type", "namespace type")),
    "uidMappings": [_IDMAP],
    "gidMappings": [_IDMAP],
    "timeOffsets": ("and", ("map", {"secs": "int", "nanosecs": "u32"}), _time_offsets),
    "devices": [("and", {"!": ("type", "path"), "type": ("enum", "device type", ("c", "b", "u", "p")),
                         "path": "abs", "major": "major", "minor": "minor", "fileMode": "u32", "uid": "u32",
                         "gid": "u32"}, _device)],
    "cgroupsPath": "str",
    "resources": _RESOURCES,
    "rootfsPropagation": ("enum", "rootfs propagation", ("", *PROPAGATIONS)),
    "maskedPaths": "abss",
    "readonlyPaths": "abss",
    "mountLabel": "str",
    "sysctl": "map",
    "seccomp": _SECCOMP,
    "personality": {"!": ("domain",), "domain": ("enum", "personality domain", ("LINUX", "LINUX32")),
                    "flags": "strs"},
    "intelRdt": "any",
}
_CONFIG = {
    "!": ("ociVersion", "root", "process"),
    "ociVersion": "str",
    "root": {"!": ("path",), "path": "str", "readonly": "bool"},
    "mounts": [{"!": ("destination",), "destination": "abs", "type": "str", "source": "str",
                "options": "strs", "uidMappings": [_IDMAP], "gidMappings": [_IDMAP]}],
    "process": "any",  # validate_process: exec's process.json shares it
    "hostname": "str",
    "domainname": "str",
    "hooks": {k: [_HOOK] for k in HOOKS},
    "annotations": "map",
    "linux": _LINUX,
}


# --- public --------------------------------------------------------------------------------------
def load(bundle: str) -> dict:
    """`<bundle>/config.json`, parsed and validated; raises RailcarError / SpecError."""
    from railcar.jsonfast import loads

    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise RailcarError(f"open {path}: {strerror(e.errno)}") from None
    try:
        cfg = loads(data)
    except ValueError as e:
        raise RailcarError(f"config.json: invalid JSON: {e}") from None
    except RecursionError:
        raise RailcarError("config.json: invalid JSON: nested too deeply") from None
    if isinstance(cfg, dict):
        check_strings(data, cfg, _KERNEL_KEYS)
    validate(cfg, bundle)
    return cfg


# What reaches the kernel or the process must be a C string of characters. JSON can still spell
# a NUL (\u0000), which a C string would silently cut short, and a lone surrogate (\ud800), which
# no encoding can write. Both can only be escapes, so the raw text tells whether to look at all.
_KERNEL_KEYS = ("process", "root", "hostname", "domainname", "mounts", "hooks", "linux")


def check_strings(raw: bytes, obj: dict, keys: tuple[str, ...]) -> None:
    """Raise SpecError naming the first string under obj[keys] with a NUL or a lone surrogate."""
    if b"\\u0000" not in raw and b"\\ud" not in raw and b"\\uD" not in raw:
        return
    for k in keys:
        if k in obj:
            _strings_in(obj[k], k)


def _strings_in(v: object, f: str) -> None:
    if isinstance(v, str):
        if "\0" in v:
            raise SpecError(f, "must not contain a NUL character (\\u0000)")
        if not v.isascii():
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise SpecError(f, "holds a lone surrogate escape (\\ud800-\\udfff), not a character") from None
    elif isinstance(v, dict):
        for k, x in v.items():
            g = f"{f}.{k}" if k.isidentifier() else f'{f}["{k}"]'
            _strings_in(k, g)
            _strings_in(x, g)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _strings_in(x, f"{f}[{i}]")


def validate(cfg: dict, bundle: str) -> None:
    """Every field a runtime reads; root.path is resolved against `bundle` and must be a directory.
    Null optional fields are removed from `cfg` (see the module docstring)."""
    if not isinstance(cfg, dict):
        raise RailcarError(f"config.json: must be a JSON object, got {_show(cfg)}")
    _obj(cfg, _CONFIG, "")
    validate_process(cfg["process"])
    if not cfg["root"]["path"]:
        raise SpecError("root.path", "must not be empty")
    root = os.path.join(bundle, cfg["root"]["path"])
    _root_without_symlinks(bundle, cfg["root"]["path"], root)
    try:
        st = os.stat(root)
    except OSError as e:
        raise SpecError("root.path", f"{root}: {strerror(e.errno)}") from None
    if st.st_mode & 0o170000 != 0o040000:  # S_ISDIR without importing stat
        raise SpecError("root.path", f"{root}: not a directory")
    linux = cfg.get("linux")
    if linux is not None:
        _namespaces(linux)


def _root_without_symlinks(bundle: str, rp: str, root: str) -> None:
    """runc's rule: no symlink on the way to the rootfs, from the bundle on (the whole path when
    root.path is absolute). A link to "/" would make the host's root the container's."""
    parts = rp.split("/")
    if rp.startswith("/"):
        at = "/"
    else:
        # past a checked (real) directory ".." is its parent: exact, once the start is real
        at = os.path.realpath(bundle) if ".." in parts else bundle
    for c in parts:
        if c in ("", "."):
            continue
        at = os.path.dirname(at) if c == ".." else os.path.join(at, c)
        try:
            st = os.lstat(at)
        except OSError:
            return  # missing: the stat that follows says so
        if st.st_mode & 0o170000 == 0o120000:  # S_ISLNK
            try:
                to = f" (to {os.readlink(at)})"
            except OSError:
                to = ""
            what = "is a symlink" if at == os.path.normpath(root) else f"goes through the symlink {at}"
            raise SpecError("root.path", f"{root} {what}{to}: the rootfs must be a directory reached "
                                         "without symlinks")


def _namespaces(linux: dict) -> None:
    ns = {n["type"]: n.get("path") for n in linux.get("namespaces", ())}
    if "user" in ns:
        if not ns["user"]:  # a new one: the kernel needs maps written before anything runs in it
            for k in ("uidMappings", "gidMappings"):
                if not linux.get(k):
                    raise SpecError(f"linux.{k}", "required when the config creates a user namespace")
    else:
        for k in ("uidMappings", "gidMappings"):
            if linux.get(k):
                raise SpecError(f"linux.{k}", "set, but linux.namespaces has no user namespace")
    if linux.get("timeOffsets"):
        if "time" not in ns:
            raise SpecError("linux.timeOffsets", "set, but linux.namespaces has no time namespace")
        if ns["time"]:
            raise SpecError("linux.timeOffsets", "cannot be set when joining an existing time namespace")


def validate_process(proc: dict, field: str = "process") -> None:
    """The process object alone (config.json's `process`, or exec's --process file)."""
    args = proc.get("args") if isinstance(proc, dict) else None
    if isinstance(proc, dict) and (not isinstance(args, list) or not args):
        raise SpecError(f"{field}.args", "must be a non-empty list")
    _obj(proc, _PROCESS, field)


def validate_resources(res: dict, field: str = "linux.resources") -> None:
    """`linux.resources` (or `update --resources` input): types only, the cgroup driver does the rest."""
    _obj(res, _RESOURCES, field)


def default_spec(rootless: bool = False) -> dict:
    """What `runc spec` (1.1) writes, key order included; rootless as specconv.ToRootless."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    nosuid_noexec_nodev = ["nosuid", "noexec", "nodev"]
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": [*nosuid_noexec_nodev, "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": [*nosuid_noexec_nodev]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*nosuid_noexec_nodev, "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": [*nosuid_noexec_nodev, "relatime", "ro"]},
    ]
    linux: dict = {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                        "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    }
    if rootless:
        # No network ns (nothing to configure it with), a user ns mapping only ourselves, /sys
        # bind-mounted (sysfs needs a network ns we own), no uid=/gid= options, no cgroup limits.
        for m in mounts:
            if m["destination"] == "/sys":
                m.update(type="none", source="/sys", options=["rbind", *nosuid_noexec_nodev, "ro"])
            elif "options" in m:
                m["options"] = [o for o in m["options"] if not o.startswith(("uid=", "gid="))]
        ns = [n for n in linux["namespaces"] if n["type"] not in ("network", "user")]
        linux = {
            "uidMappings": [{"containerID": 0, "hostID": os.geteuid(), "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": os.getegid(), "size": 1}],
            "namespaces": [*ns, {"type": "user"}],
            "maskedPaths": linux["maskedPaths"],
            "readonlyPaths": linux["readonlyPaths"],
        }
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": mounts,
        "linux": linux,
    }
