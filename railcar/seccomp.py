"""OCI `linux.seccomp` → classic BPF (struct sock_filter[]), compiled by libseccomp, cached on disk.

The C helper loads the result with seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog) right before
exec; no_new_privs is its business, not libseccomp's.

Two paths:
- cache hit (every warm start): os + the builtin `_sha256` only. The key is a SHA-256 over a
  hand-rolled canonical encoding of the section plus what the output depends on (this module's
  compiler version, the libseccomp build, the arch, the kernel release); the entry is checked
  (magic, key, lengths, checksum) and a bad one is removed and rebuilt, never loaded.
- cache miss: pyseccomp (ctypes, ~28 ms to import) compiles the profile as runc does
  (libcontainer/seccomp): same action/operator/arch tables, same rule shapes, unknown syscall
  names skipped, rules equal to the default action skipped, libseccomp's NNP attribute off, binary
  tree optimisation above 32 syscalls, and runc's -ENOSYS stub in front of the filter (syscalls
  newer than any the profile names fail with ENOSYS instead of the default action, so libc
  falls back instead of failing hard).
"""

from __future__ import annotations

import os
import sys

from railcar.errors import RailcarError, SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["SeccompProgram", "compile_profile", "features", "libseccomp_version"]

# Bump when the compile output for an identical section can change (stub, attributes, tables):
# it is part of the cache key, so old entries simply stop matching.
_COMPILER = b"railcar-seccomp/1"

# --- kernel/libseccomp constants (linux/seccomp.h, seccomp.h) -------------------------------------
_RET_KILL_PROCESS = 0x80000000
_RET_KILL_THREAD = 0x00000000
_RET_TRAP = 0x00030000
_RET_ERRNO = 0x00050000
_RET_TRACE = 0x7FF00000
_RET_LOG = 0x7FFC0000
_RET_ALLOW = 0x7FFF0000
_RET_USER_NOTIF = 0x7FC00000

_EPERM = 1
_ENOSYS = 38

# Action name → base value; ERRNO/TRACE take errnoRet in the low 16 bits. SCMP_ACT_KILL is
# libseccomp's KILL, i.e. KILL_THREAD (runc maps it the same way).
_ACTIONS = {
    "SCMP_ACT_KILL": _RET_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": _RET_KILL_PROCESS,
    "SCMP_ACT_KILL_THREAD": _RET_KILL_THREAD,
    "SCMP_ACT_TRAP": _RET_TRAP,
    "SCMP_ACT_ERRNO": _RET_ERRNO,
    "SCMP_ACT_TRACE": _RET_TRACE,
    "SCMP_ACT_ALLOW": _RET_ALLOW,
    "SCMP_ACT_LOG": _RET_LOG,
    "SCMP_ACT_NOTIFY": _RET_USER_NOTIF,
}
_WITH_ERRNO = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")

# enum scmp_compare
_OPERATORS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}
_OP_MASKED_EQ = 7

# SCMP_ARCH_* = AUDIT_ARCH_* (EM_* | 64BIT 0x80000000 | LE 0x40000000), except X32 which libseccomp
# encodes as EM_X86_64|LE; the kernel reports x32 calls as AUDIT_ARCH_X86_64 with bit 30 in nr.
_AUDIT_X86_64 = 0xC000003E
_ARCHS = {
    "SCMP_ARCH_X86": 0x40000003,
    "SCMP_ARCH_X86_64": _AUDIT_X86_64,
    "SCMP_ARCH_X32": 0x4000003E,
    "SCMP_ARCH_ARM": 0x40000028,
    "SCMP_ARCH_AARCH64": 0xC00000B7,
    "SCMP_ARCH_MIPS": 0x00000008,
    "SCMP_ARCH_MIPS64": 0x80000008,
    "SCMP_ARCH_MIPS64N32": 0xA0000008,
    "SCMP_ARCH_MIPSEL": 0x40000008,
    "SCMP_ARCH_MIPSEL64": 0xC0000008,
    "SCMP_ARCH_MIPSEL64N32": 0xE0000008,
    "SCMP_ARCH_PPC": 0x00000014,
    "SCMP_ARCH_PPC64": 0x80000015,
    "SCMP_ARCH_PPC64LE": 0xC0000015,
    "SCMP_ARCH_S390": 0x00000016,
    "SCMP_ARCH_S390X": 0x80000016,
    "SCMP_ARCH_PARISC": 0x0000000F,
    "SCMP_ARCH_PARISC64": 0x8000000F,
    "SCMP_ARCH_RISCV64": 0xC00000F3,
    "SCMP_ARCH_LOONGARCH64": 0xC0000102,  # libseccomp >= 2.6 (runc knows the name too)
}
_ARCHS_SINCE_2_6 = ("SCMP_ARCH_LOONGARCH64",)
_X32_SYSCALL_BIT = 0x40000000

_FLAG_TSYNC = 1
_FLAG_LOG = 2
_FLAG_SPEC_ALLOW = 4
_FLAG_NEW_LISTENER = 8
_FLAG_WAIT_KILLABLE_RECV = 32
_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": _FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": _FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": _FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": _FLAG_WAIT_KILLABLE_RECV,
}

# seccomp_filter_attr
_ATTR_CTL_NNP = 3
_ATTR_CTL_LOG = 6
_ATTR_CTL_SSB = 7
_ATTR_CTL_OPTIMIZE = 8

_BPF_MAXINSNS = 4096  # the kernel refuses longer programs


class SeccompProgram:
    """A compiled filter: what the helper passes to seccomp(SECCOMP_SET_MODE_FILTER, flags, ...)."""

    __slots__ = ("bpf", "flags", "listener_path", "listener_metadata")

    def __init__(self, bpf: bytes, flags: int, listener_path: str = "", listener_metadata: str = "") -> None:
        self.bpf = bpf  # struct sock_filter[], host byte order, 8 bytes per instruction
        self.flags = flags  # SECCOMP_FILTER_FLAG_* for the seccomp() call
        self.listener_path = listener_path  # "" unless some rule is SCMP_ACT_NOTIFY
        self.listener_metadata = listener_metadata

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SeccompProgram):
            return NotImplemented
        return (self.bpf, self.flags, self.listener_path, self.listener_metadata) == (
            other.bpf,
            other.flags,
            other.listener_path,
            other.listener_metadata,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"SeccompProgram({len(self.bpf) // 8} insns, flags={self.flags:#x}, "
            f"listener_path={self.listener_path!r})"
        )


# =================================================================================================
# Public entry points
# =================================================================================================
def compile_profile(section: dict, cache_dir: str) -> SeccompProgram:
    """The `linux.seccomp` section as a loadable program, from `cache_dir` when already compiled.

    Raises RailcarError (SpecError: `linux.seccomp.<field>: <cause>`) for an invalid section or
    one this kernel/libseccomp cannot do. Cache trouble (unwritable dir, bad entry) never fails a
    start: the program is compiled instead.
    """
    if not isinstance(section, dict):
        raise SpecError("linux.seccomp", "must be an object")
    key = _cache_key(section)
    path = f"{cache_dir}/{key.hex()}"
    prog = _cache_read(path, key)
    if prog is not None:
        return prog
    prog, cacheable = _compile(section)
    if cacheable:
        _cache_write(cache_dir, path, key, prog)
    return prog


def _builtin_libseccomp() -> tuple[int, ...]:
    """Static build: libseccomp is linked in; its built-in pyseccomp knows the version."""
    if "pyseccomp" not in sys.builtin_module_names:
        return ()
    import pyseccomp

    return tuple(pyseccomp.LIBSECCOMP_VERSION)


def features() -> dict:
    """The `linux.seccomp` object of the runtime-spec features document (features.md)."""
    lib = _libseccomp_file()
    version = _version_tuple(lib) or _builtin_libseccomp()
    archs = sorted(a for a in _ARCHS if a not in _ARCHS_SINCE_2_6 or version >= (2, 6))
    known = list(_FLAGS)
    supported: list[str] = []
    if lib or version:
        supported = [name for name, bit in _FLAGS.items() if _kernel_has_flag(bit)]
    return {
        "enabled": bool(lib or version),
        "actions": sorted(_ACTIONS),
        "operators": sorted(_OPERATORS),
        "archs": archs,
        "knownFlags": known,
        "supportedFlags": supported,
    }


def libseccomp_version() -> str:
    """The libseccomp version from the library's file name, e.g. "2.5.4" ("" when not found);
    for the features document's annotations."""
    v = _version_tuple(_libseccomp_file()) or _builtin_libseccomp()
    return ".".join(map(str, v)) if v else ""


# =================================================================================================
# Cache key: canonical encoding of the section + environment, hashed with the builtin _sha256
# =================================================================================================
_sha256_ctor: Any = None


def _sha256(data: bytes) -> Any:
    """SHA-256 from the builtin C module (no OpenSSL load: ~0.08 ms against ~4 ms for hashlib);
    it is named _sha2 from 3.12 on."""
    global _sha256_ctor
    if _sha256_ctor is None:
        try:
            from _sha256 import sha256 as ctor
        except ImportError:
            try:
                from _sha2 import sha256 as ctor  # type: ignore[no-redef]
            except ImportError:
                from hashlib import sha256 as ctor  # type: ignore[no-redef]
        _sha256_ctor = ctor
    return _sha256_ctor(data)


def _canonical(section: dict) -> bytes:
    """An injective encoding of a JSON value with dict keys sorted (no `json` import): every
    value is tagged and every string and container carries its length."""
    out: list[str] = []
    try:
        _canon(section, out)
    except (TypeError, ValueError):
        raise SpecError("linux.seccomp", "is not a JSON object") from None
    return "".join(out).encode("utf-8", "surrogatepass")


def _canon(obj: Any, out: list[str]) -> None:
    # Exact type checks, most frequent first: this runs on every start (~60 µs for Docker's profile).
    t = type(obj)
    if t is str:
        out.append(f"s{len(obj)}:")
        out.append(obj)
    elif t is list:
        out.append(f"l{len(obj)}:")
        for v in obj:
            if type(v) is str:  # inline: syscall name lists are most of a profile
                out.append(f"s{len(v)}:")
                out.append(v)
            else:
                _canon(v, out)
    elif t is dict:
        out.append(f"d{len(obj)}:")
        for k in sorted(obj):
            if type(k) is not str:
                raise TypeError(k)
            out.append(f"s{len(k)}:")
            out.append(k)
            _canon(obj[k], out)
    elif obj is None:
        out.append("n")
    elif obj is True:
        out.append("t")
    elif obj is False:
        out.append("f")
    elif t is int:
        out.append(f"i{obj};")
    elif t is float:
        out.append(f"r{obj.hex()};")
    else:
        raise TypeError(t)


_env_id: bytes = b""


def _environment() -> bytes:
    """What the compiled bytes depend on besides the section, computed once per process (a few stats)."""
    global _env_id
    if not _env_id:
        u = os.uname()
        _env_id = b"\0".join(
            [
                _COMPILER,
                _libseccomp_id().encode(),
                u.machine.encode(),
                str(sys.maxsize).encode(),  # a 32-bit userland on a 64-bit kernel has another native arch
                u.release.encode(),  # flag/action support is probed on this kernel
                sys.byteorder.encode(),
            ]
        )
    return _env_id


def _cache_key(section: dict) -> bytes:
    return _sha256(_environment() + b"\0" + _canonical(section)).digest()


def _lib_dirs() -> list[str]:
    """Where the dynamic loader would find libseccomp.so.2, in its order: LD_LIBRARY_PATH, then the
    ld.so.cache dirs (Debian lists /usr/local first), then the multiarch and plain dirs."""
    triplet = getattr(sys.implementation, "_multiarch", "")
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    for base in ("/usr/local/lib", "/lib", "/usr/lib"):
        if triplet:
            dirs.append(f"{base}/{triplet}")
        dirs.append(base)
    dirs += ["/lib64", "/usr/lib64"]
    return dirs


def _libseccomp_file() -> str:
    """Real path of the libseccomp.so.2 dlopen would pick ("libseccomp.so.2.5.4"), "" if none.
    Found by looking at files, not by importing ctypes (that costs ~25 ms)."""
    if "pyseccomp" in sys.builtin_module_names:
        return ""  # static build: the linked-in library, not a file on this host
    for d in _lib_dirs():
        p = f"{d}/libseccomp.so.2"
        if os.path.exists(p):
            return os.path.realpath(p)
    return ""


def _libseccomp_id() -> str:
    path = _libseccomp_file()
    if not path:
        # Static build: libseccomp is linked into the executable, so the executable is its identity.
        path = sys.executable or "?"
    try:
        st = os.stat(path)
    except OSError:
        return path
    # size + mtime: a rebuilt package with the same version (new syscall table) gets a new key.
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def _version_tuple(path: str) -> tuple[int, ...]:
    name = path.rsplit("/", 1)[-1]
    if not name.startswith("libseccomp.so."):
        return ()
    try:
        return tuple(int(p) for p in name[len("libseccomp.so.") :].split("."))
    except ValueError:
        return ()


# =================================================================================================
# Cache entries
# =================================================================================================
# One file per key, <cache_dir>/<key hex>, little-endian:
#   0  8  magic b"RCSECBPF"
#   8  4  format version (1)
#  12  4  flags (SECCOMP_FILTER_FLAG_*)
#  16  4  BPF length in bytes
#  20  4  listener_path length (UTF-8 bytes)
#  24  4  listener_metadata length (UTF-8 bytes)
#  28  4  reserved, 0
#  32 32  key: SHA-256 of environment + canonical section (must equal the file name's)
#  64 32  checksum: SHA-256 of bytes 0..63 + body
#  96     body: listener_path, listener_metadata, BPF
# A checksum (not a CRC) because it is nearly free here (same builtin, ~10 µs for Docker's
# profile) and catches any corruption, torn write or stray edit, not just burst errors.
_MAGIC = b"RCSECBPF"
_VERSION = 1
_HDR = 96
# Entries are ~10 KB; a profile that differs per container (listenerMetadata naming it, say) must not
# grow the directory forever: past this many, a miss drops the older half.
_CACHE_MAX = 256


def _u32(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 4], "little")


def _cache_read(path: str, key: bytes) -> SeccompProgram | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError:  # a symlink (ELOOP) or worse: not ours to trust
        _discard(path)
        return None
    try:
        st = os.fstat(fd)
        # The filter is security policy: only a regular file we own that nobody else can write.
        if (st.st_mode & 0o170000) != 0o100000 or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            data = b""
        else:
            chunks = []
            left = st.st_size + 1  # +1: notice a file that grew behind our back
            while left > 0:
                c = os.read(fd, left)
                if not c:
                    break
                chunks.append(c)
                left -= len(c)
            data = b"".join(chunks)
    except OSError:
        data = b""
    finally:
        os.close(fd)
    prog = _decode(data, key)
    if prog is None:
        _discard(path)
    return prog


def _decode(data: bytes, key: bytes) -> SeccompProgram | None:
    if len(data) < _HDR or data[:8] != _MAGIC or _u32(data, 8) != _VERSION or data[32:64] != key:
        return None
    flags, nbpf, npath, nmeta = _u32(data, 12), _u32(data, 16), _u32(data, 20), _u32(data, 24)
    if len(data) != _HDR + npath + nmeta + nbpf or nbpf == 0 or nbpf % 8:
        return None
    if _sha256(data[:64] + data[_HDR:]).digest() != data[64:96]:
        return None
    body = data[_HDR:]
    try:
        lpath = body[:npath].decode("utf-8", "surrogatepass")
        lmeta = body[npath : npath + nmeta].decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
    return SeccompProgram(body[npath + nmeta :], flags, lpath, lmeta)


def _encode(key: bytes, prog: SeccompProgram) -> bytes:
    lpath = prog.listener_path.encode("utf-8", "surrogatepass")  # JSON may carry lone surrogates
    lmeta = prog.listener_metadata.encode("utf-8", "surrogatepass")
    head = b"".join(
        [
            _MAGIC,
            _VERSION.to_bytes(4, "little"),
            prog.flags.to_bytes(4, "little"),
            len(prog.bpf).to_bytes(4, "little"),
            len(lpath).to_bytes(4, "little"),
            len(lmeta).to_bytes(4, "little"),
            bytes(4),
            key,
        ]
    )
    body = lpath + lmeta + prog.bpf
    return head + _sha256(head + body).digest() + body


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _cache_write(cache_dir: str, path: str, key: bytes, prog: SeccompProgram) -> None:
    """Atomically publish an entry (temp file + rename). No fsync: after a crash a torn entry
    fails its checksum and is rebuilt, so durability would only cost time. Errors are ignored:
    the cache is an optimisation."""
    data = _encode(key, prog)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(cache_dir, 0o700, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:  # left by a crashed process that had our pid
            os.unlink(tmp)
            fd = os.open(tmp, flags, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError:
        _discard(tmp)
        return
    _prune(cache_dir, path)


def _prune(cache_dir: str, keep: str) -> None:
    try:
        names = [n for n in os.listdir(cache_dir) if len(n) == 64]  # entries only, not temp files
        if len(names) <= _CACHE_MAX:
            return
        aged = []
        for n in names:
            try:
                aged.append((os.stat(f"{cache_dir}/{n}").st_mtime_ns, n))
            except OSError:
                pass
    except OSError:
        return
    aged.sort()
    for _, n in aged[: len(aged) - _CACHE_MAX // 2]:
        if f"{cache_dir}/{n}" != keep:
            _discard(f"{cache_dir}/{n}")


# =================================================================================================
# Validation (no libseccomp needed): the section → plain tuples
# =================================================================================================
def _uint(v: object, field: str, limit: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > limit:
        raise SpecError(field, f"must be an integer between 0 and {limit}")
    return v


def _str_list(v: object, field: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise SpecError(field, "must be an array of strings")
    return v


def _action(name: object, errno_ret: object, field: str, errno_field: str) -> int:
    if not isinstance(name, str):
        raise SpecError(field, "must be a string")
    base = _ACTIONS.get(name)
    if base is None:
        raise SpecError(field, f'unknown action "{name}"')
    if name in _WITH_ERRNO:
        # runc: EPERM when not given, for TRACE too (the tracer sees it as the message).
        return base | (_EPERM if errno_ret is None else _uint(errno_ret, errno_field, 0xFFFF))
    if errno_ret is not None:
        # runtime-spec: "When the action doesn't support an errno, the runtime MUST ... fail."
        raise SpecError(errno_field, f"{name} does not take an errno")
    return base


class _Rule:
    __slots__ = ("index", "names", "action", "conds", "split")

    def __init__(
        self, index: int, names: list[str], action: int, conds: list[tuple[int, int, int, int]]
    ) -> None:
        self.index = index
        self.names = names
        self.action = action
        self.conds = conds  # (arg index, op, datum_a, datum_b)
        # runc: several comparisons on one argument are OR'ed (one rule each), else AND'ed.
        idx = [c[0] for c in conds]
        self.split = len(set(idx)) != len(idx)


def _validate(sec: dict) -> tuple[int, list[tuple[str, int]], int, list[_Rule], str, str, bool]:
    P = "linux.seccomp"
    if "defaultAction" not in sec:
        raise SpecError(f"{P}.defaultAction", "is required")
    default = _action(
        sec["defaultAction"], sec.get("defaultErrnoRet"), f"{P}.defaultAction", f"{P}.defaultErrnoRet"
    )
    if default == _RET_USER_NOTIF:
        # The helper's own calls (sending the listener fd) would be notified before anyone listens.
        raise SpecError(f"{P}.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")

    archs: list[tuple[str, int]] = []
    for a in _str_list(sec.get("architectures") or [], f"{P}.architectures"):
        if a not in _ARCHS:
            raise SpecError(f"{P}.architectures", f'unknown architecture "{a}"')
        archs.append((a, _ARCHS[a]))

    want = 0
    for i, fl in enumerate(_str_list(sec.get("flags") or [], f"{P}.flags")):
        if fl not in _FLAGS:
            raise SpecError(f"{P}.flags[{i}]", f'unknown flag "{fl}"')
        want |= _FLAGS[fl]

    lpath = sec.get("listenerPath") or ""
    lmeta = sec.get("listenerMetadata") or ""
    if not isinstance(lpath, str):
        raise SpecError(f"{P}.listenerPath", "must be a string")
    if not isinstance(lmeta, str):
        raise SpecError(f"{P}.listenerMetadata", "must be a string")
    if lmeta and not lpath:
        raise SpecError(f"{P}.listenerMetadata", "must not be set without listenerPath")

    calls = sec.get("syscalls") or []
    if not isinstance(calls, list):
        raise SpecError(f"{P}.syscalls", "must be an array")
    rules: list[_Rule] = []
    notify = False
    for i, call in enumerate(calls):
        F = f"{P}.syscalls[{i}]"
        if not isinstance(call, dict):
            raise SpecError(F, "must be an object")
        names = call.get("names")
        if (
            not isinstance(names, list)
            or not names
            or not all(isinstance(n, str) and n and "\0" not in n for n in names)
        ):
            raise SpecError(f"{F}.names", "must be a non-empty array of syscall names")
        if "action" not in call:
            raise SpecError(f"{F}.action", "is required")
        act = _action(call["action"], call.get("errnoRet"), f"{F}.action", f"{F}.errnoRet")
        if act == _RET_USER_NOTIF:
            notify = True
            for bad in ("write", "sendmsg"):
                # runc refuses write; our helper hands the listener fd over with sendmsg.
                if bad in names:
                    raise SpecError(f"{F}.names", f"SCMP_ACT_NOTIFY cannot be used for {bad}")
        args = call.get("args") or []
        if not isinstance(args, list):
            raise SpecError(f"{F}.args", "must be an array")
        conds = []
        for j, arg in enumerate(args):
            A = f"{F}.args[{j}]"
            if not isinstance(arg, dict):
                raise SpecError(A, "must be an object")
            if "index" not in arg or "value" not in arg or "op" not in arg:
                raise SpecError(A, "index, value and op are required")
            idx = _uint(arg["index"], f"{A}.index", 5)
            value = _uint(arg["value"], f"{A}.value", 0xFFFFFFFFFFFFFFFF)
            two = _uint(arg.get("valueTwo", 0), f"{A}.valueTwo", 0xFFFFFFFFFFFFFFFF)
            op = _OPERATORS.get(arg["op"]) if isinstance(arg["op"], str) else None
            if op is None:
                raise SpecError(f"{A}.op", f'unknown operator "{arg["op"]}"')
            # MASKED_EQ: value is the mask, valueTwo the datum (libseccomp's order); the others
            # compare with value alone.
            conds.append((idx, op, value, two if op == _OP_MASKED_EQ else 0))
        rules.append(_Rule(i, names, act, conds))
    if notify and not lpath:
        raise SpecError(f"{P}.listenerPath", "is required when a rule uses SCMP_ACT_NOTIFY")
    return default, archs, want, rules, lpath, lmeta, notify


# =================================================================================================
# Compilation (cache miss only): everything heavy lives below this line, imported on demand
# =================================================================================================
def _compile(sec: dict) -> tuple[SeccompProgram, bool]:
    """(program, cacheable). Not cacheable when the libseccomp that was loaded is not the one the
    cache key names (odd LD_LIBRARY_PATH/ld.so.conf setups): correct now, just not reused."""
    default, archs, want, rules, lpath, lmeta, notify = _validate(sec)
    P = "linux.seccomp"
    try:
        sc = _import_pyseccomp()
    except Exception as e:  # ImportError, or RuntimeError/OSError when libseccomp is missing
        raise RailcarError(f"{P}: libseccomp is not available: {e}") from None

    if notify and sc.get_api() < 6:
        raise SpecError(P, "SCMP_ACT_NOTIFY needs libseccomp >= 2.5 and Linux >= 5.7 (API level 6)")

    try:
        filt = sc.SyscallFilter(default)
    except OSError as e:
        raise SpecError(f"{P}.defaultAction", f"rejected by libseccomp: {e.strerror}") from None
    try:
        # No NNP from libseccomp: the helper sets no_new_privs itself, when process.noNewPrivileges.
        filt.set_attr(_ATTR_CTL_NNP, 0)
    except OSError as e:
        raise RailcarError(f"{P}: cannot clear libseccomp's no_new_privs attribute: {e.strerror}") from None

    for name, value in archs:
        try:
            if not filt.exist_arch(value):
                filt.add_arch(value)
        except OSError:
            raise SpecError(
                f"{P}.architectures",
                f'architecture "{name}" is not supported by libseccomp {libseccomp_version()}',
            ) from None

    flags = 0
    if want & _FLAG_LOG:
        # libseccomp probes the kernel when the attribute is set (as runc's SetLogBit).
        try:
            filt.set_attr(_ATTR_CTL_LOG, 1)
        except OSError:
            raise SpecError(f"{P}.flags", "SECCOMP_FILTER_FLAG_LOG is not supported by this kernel") from None
        flags |= _FLAG_LOG
    if want & _FLAG_SPEC_ALLOW:
        try:
            filt.set_attr(_ATTR_CTL_SSB, 1)
        except OSError:
            raise SpecError(
                f"{P}.flags", "SECCOMP_FILTER_FLAG_SPEC_ALLOW is not supported by this kernel"
            ) from None
        flags |= _FLAG_SPEC_ALLOW
    if notify:
        flags |= _FLAG_NEW_LISTENER
        if want & _FLAG_WAIT_KILLABLE_RECV:
            # libseccomp 2.5 has no attribute for it: the documented probe, seccomp() with a NULL
            # program, answers EFAULT when the flags are understood and EINVAL when not.
            if not _kernel_has_flag(_FLAG_WAIT_KILLABLE_RECV):
                raise SpecError(
                    f"{P}.flags",
                    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is not supported by this kernel (>= 5.19)",
                )
            flags |= _FLAG_WAIT_KILLABLE_RECV
        # TSYNC + NEW_LISTENER is EINVAL in the kernel; the helper is single-threaded, so TSYNC
        # has nothing to synchronise anyway (runc ignores the flag altogether).
    elif want & _FLAG_TSYNC:
        flags |= _FLAG_TSYNC
    # WAIT_KILLABLE_RECV without a listener means nothing (and the kernel would refuse it): dropped.

    nsys = sum(len(r.names) for r in rules)
    if nsys > 32:
        # Binary search over syscall numbers instead of a linear chain (runc's threshold: libseccomp
        # <= 2.5.4 misbehaves with the tree and no rules).
        try:
            filt.set_attr(_ATTR_CTL_OPTIMIZE, 2)
        except OSError:
            pass

    native = sc.Arch.NATIVE
    for r in rules:
        if r.action == default:
            continue  # libseccomp refuses a rule equal to the default action; runc skips it too
        for name in r.names:
            nr = sc.resolve_syscall(native, name)
            if nr == -1:  # __NR_SCMP_ERROR: unknown to libseccomp; negative pseudo-numbers are fine
                continue
            try:
                if not r.conds:
                    filt.add_rule(r.action, nr)
                elif r.split:
                    for c in r.conds:
                        filt.add_rule(r.action, nr, sc.Arg(*c))
                else:
                    filt.add_rule(r.action, nr, *[sc.Arg(*c) for c in r.conds])
            except OSError as e:
                why = (
                    "conflicts with an earlier rule"
                    if e.errno == 17
                    else f"rejected by libseccomp: {e.strerror}"
                )
                if e.errno == 22 and r.action in (_RET_KILL_PROCESS, _RET_LOG, _RET_USER_NOTIF):
                    why += " (is the action supported by this kernel?)"
                raise SpecError(f"{P}.syscalls[{r.index}]", f"{name}: {why}") from None

    bpf = _export(filt)
    if _wants_enosys_stub(default):
        bpf = _enosys_stub(sc, archs, rules) + bpf
    if not bpf or len(bpf) % 8:
        raise RailcarError(f"{P}: libseccomp exported a malformed program ({len(bpf)} bytes)")
    if len(bpf) // 8 > _BPF_MAXINSNS:
        raise SpecError(
            P, f"the filter has {len(bpf) // 8} instructions, more than the kernel's {_BPF_MAXINSNS}"
        )
    prog = SeccompProgram(bpf, flags, lpath if notify else "", lmeta if notify else "")
    return prog, _loaded_library_matches()


def _import_pyseccomp() -> Any:
    """pyseccomp's import asks ctypes.util.find_library for libc and libseccomp, which imports
    subprocess and runs `ldconfig -p` twice: about half of a cold compile. Both answers are known
    (libseccomp found as the cache key found it), so a stand-in gives them for the import and is
    removed after it; a later `import ctypes.util` gets the real module."""
    lib = _libseccomp_file()
    if not lib or "pyseccomp" in sys.modules or "ctypes.util" in sys.modules:
        import pyseccomp

        return pyseccomp
    import ctypes
    import types

    known = {"c": "libc.so.6", "seccomp": lib}
    stand_in = types.ModuleType("ctypes.util")
    stand_in.find_library = known.get  # type: ignore[attr-defined]
    sys.modules["ctypes.util"] = stand_in
    ctypes.util = stand_in  # type: ignore[attr-defined]
    try:
        import pyseccomp
    finally:
        del sys.modules["ctypes.util"]
        del ctypes.util  # type: ignore[attr-defined]
    return pyseccomp


def _export(filt: Any) -> bytes:
    # export_bpf wants an fd; a memfd keeps the bytes off any filesystem.
    fd = os.memfd_create("railcar-seccomp", os.MFD_CLOEXEC)
    try:

        class _Fd:
            def fileno(self) -> int:
                return fd

        try:
            filt.export_bpf(_Fd())
        except OSError as e:
            raise RailcarError(f"linux.seccomp: libseccomp cannot export the filter: {e.strerror}") from None
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def _loaded_library_matches() -> bool:
    """Is the libseccomp mapped into this process the file the cache key was derived from?"""
    want = _libseccomp_file()
    try:
        with open("/proc/self/maps", "rb") as f:
            maps = f.read()
    except OSError:
        return False
    mapped = ""
    for line in maps.splitlines():
        if b"libseccomp.so" in line:
            mapped = os.path.realpath(line.split(None, 5)[-1].decode(errors="replace"))
            break
    # Nothing mapped and no file expected: linked in statically; the executable is in the key.
    return mapped == want


def _wants_enosys_stub(default: int) -> bool:
    # runc patchbpf: only when unknown syscalls would otherwise be refused. An allowing default
    # (ALLOW, LOG, TRACE: a tracer handles ENOSYS itself) or ERRNO(ENOSYS) makes it pointless.
    if default in (_RET_ALLOW, _RET_LOG, _RET_ERRNO | _ENOSYS) or default & 0xFFFF0000 == _RET_TRACE:
        return False
    return True


def _enosys_stub(sc: Any, archs: list[tuple[str, int]], rules: list[_Rule]) -> bytes:
    """BPF run before libseccomp's filter: for each listed arch, a syscall number above the largest
    one the profile names returns ENOSYS (newer than the profile: let libc fall back), anything
    else falls through to the filter. x86_64 and x32 share an audit arch and differ by bit 30."""
    names = sorted({n for r in rules for n in r.names})
    groups: dict[int, dict[str, int]] = {}  # audit arch → {SCMP_ARCH name: largest nr}
    for arch_name, value in archs:
        audit = _AUDIT_X86_64 if arch_name == "SCMP_ARCH_X32" else value
        g = groups.setdefault(audit, {})
        if arch_name in g:
            continue
        top = max((sc.resolve_syscall(value, n) for n in names), default=-1)
        if top > 0:  # -1: none known; pseudo-numbers are negative
            g[arch_name] = top
    groups = {a: g for a, g in groups.items() if g}
    if not groups:
        return b""

    # A tiny assembler: jumps name labels, resolved to forward offsets at the end.
    LD_W_ABS, JA, JEQ, JGT, JSET, RET_K = 0x20, 0x05, 0x15, 0x25, 0x45, 0x06
    prog: list[list[Any]] = []  # [code, jt, jf, k]
    labels: dict[str, int] = {}

    def emit(code: int, k: int, jt: Any = 0, jf: Any = 0) -> None:
        prog.append([code, jt, jf, k])

    def label(name: str) -> None:
        labels[name] = len(prog)

    emit(LD_W_ABS, 4)  # seccomp_data.arch
    for audit in groups:
        emit(JEQ, audit, f"arch{audit}", 0)
    emit(JA, "filter")
    for audit, g in groups.items():
        label(f"arch{audit}")
        emit(LD_W_ABS, 0)  # seccomp_data.nr
        if audit == _AUDIT_X86_64:
            top64 = g.get("SCMP_ARCH_X86_64")
            top32 = g.get("SCMP_ARCH_X32")
            if top64 is not None and top32 is not None:
                emit(JSET, _X32_SYSCALL_BIT, f"x32_{audit}", 0)
                emit(JGT, top64, "enosys", "filter")
                label(f"x32_{audit}")
                emit(JGT, top32, "enosys", "filter")
            elif top64 is not None:
                emit(JSET, _X32_SYSCALL_BIT, "filter", 0)  # x32 call: the filter decides
                emit(JGT, top64, "enosys", "filter")
            else:
                emit(JSET, _X32_SYSCALL_BIT, 0, "filter")  # x86_64 call: the filter decides
                emit(JGT, top32, "enosys", "filter")
            continue
        if "SCMP_ARCH_S390" in g or "SCMP_ARCH_S390X" in g:
            # s390 multiplexes large syscall numbers through nr 0 (setup), unused otherwise.
            emit(JEQ, 0, "enosys", 0)
        emit(JGT, max(g.values()), "enosys", "filter")
    label("enosys")
    emit(RET_K, _RET_ERRNO | _ENOSYS)
    label("filter")

    order = sys.byteorder
    out = []
    for i, (code, jt, jf, k) in enumerate(prog):
        if code == JA:
            k, jt, jf = labels[k] - i - 1, 0, 0
        else:
            jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
            jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        if not (0 <= jt <= 255 and 0 <= jf <= 255):
            raise RailcarError("linux.seccomp: internal error: -ENOSYS stub jump out of range")
        out.append(code.to_bytes(2, order) + bytes((jt, jf)) + k.to_bytes(4, order))
    return b"".join(out)


# =================================================================================================
# Kernel probing (compile path and features only)
# =================================================================================================
# __NR_seccomp by machine, so features() needs no libseccomp; others ask libseccomp.
_NR_SECCOMP = {"x86_64": 317, "aarch64": 277, "riscv64": 277, "ppc64le": 358, "ppc64": 358, "s390x": 348}


def _kernel_has_flag(bit: int) -> bool:
    """seccomp(SECCOMP_SET_MODE_FILTER, flags, NULL): EFAULT means the flags passed validation
    (nothing is installed: the program pointer is read after the flag checks), EINVAL means not."""
    import ctypes

    nr = _NR_SECCOMP.get(os.uname().machine) if sys.maxsize > 2**32 else None
    if nr is None:
        try:
            import pyseccomp as sc

            nr = sc.resolve_syscall(sc.Arch.NATIVE, "seccomp")
        except Exception:
            return False
    flags = bit | (_FLAG_NEW_LISTENER if bit == _FLAG_WAIT_KILLABLE_RECV else 0)
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.syscall(ctypes.c_long(nr), ctypes.c_long(1), ctypes.c_long(flags), ctypes.c_void_p(None))
    return r == -1 and ctypes.get_errno() == 14  # EFAULT
