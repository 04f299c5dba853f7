"""The compiled-filter cache: key, entries, read, write, prune. Runs on every start that has a
seccomp profile, so it imports `os` and the builtin SHA-256 module only.

The key is a SHA-256 over a hand-rolled canonical encoding of the section plus what the compiled
bytes depend on besides it (this package's compiler version, the libseccomp file, the arch, the
kernel release). An entry is checked (magic, key, lengths, checksum) before it is used; a bad one
is removed and rebuilt, never loaded. Cache trouble never fails a start: the caller compiles.
"""

from __future__ import annotations

import sys

from railcar import posixos as os
from railcar.errors import SpecError
from railcar.seccomp import SeccompProgram

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["CACHE_MAX", "COMPILER", "canonical", "key_of", "libseccomp_file", "libseccomp_version", "library_version",
           "read", "version_tuple", "write"]

# Bump when the compile output for an identical section can change (stub, attributes, tables):
# it is part of the key, so old entries simply stop matching.
COMPILER = b"railcar-seccomp/2"


# =================================================================================================
# The key: canonical encoding of the section + environment, hashed with the builtin _sha256
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


def canonical(section: object) -> bytes:
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
                COMPILER,
                _libseccomp_id().encode(),
                u.machine.encode(),
                str(sys.maxsize).encode(),  # a 32-bit userland on a 64-bit kernel has another native arch
                u.release.encode(),  # flag/action support is probed on this kernel
                sys.byteorder.encode(),
            ]
        )
    return _env_id


def key_of(section: object) -> bytes:
    """The cache key of `section` on this host (32 bytes)."""
    return _sha256(_environment() + b"\0" + canonical(section)).digest()


# =================================================================================================
# Which libseccomp: found by looking at files, not by importing ctypes (that costs ~25 ms)
# =================================================================================================
def _lib_dirs() -> list[str]:
    """Where the dynamic loader would find libseccomp.so.2, in its order: LD_LIBRARY_PATH, then the
    ld.so.cache dirs (Debian lists /usr/local first), then the multiarch and plain dirs."""
    triplet = getattr(sys.implementation, "_multiarch", "")
    dirs = [d for d in os.getenv("LD_LIBRARY_PATH", "").split(":") if d]
    for base in ("/usr/local/lib", "/lib", "/usr/lib"):
        if triplet:
            dirs.append(f"{base}/{triplet}")
        dirs.append(base)
    dirs += ["/lib64", "/usr/lib64"]
    return dirs


def libseccomp_file() -> str:
    """Real path of the libseccomp.so.2 dlopen would pick ("…/libseccomp.so.2.5.4"), "" if none.
    The compiler hands this very file to pyseccomp, so the key names the library that compiled."""
    if "pyseccomp" in sys.builtin_module_names:
        return ""  # static build: the linked-in library, not a file on this host
    for d in _lib_dirs():
        p = f"{d}/libseccomp.so.2"
        if os.path.exists(p):
            return os.path.realpath(p)
    return ""


def _libseccomp_id() -> str:
    path = libseccomp_file()
    if not path:
        # Static build: libseccomp is linked into the executable, so the executable is its identity.
        path = sys.executable or "?"
    try:
        st = os.stat(path)
    except OSError:
        return path
    # size + mtime: a rebuilt package with the same version (new syscall table) gets a new key.
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def version_tuple(path: str) -> tuple[int, ...]:
    """(2, 5, 4) from ".../libseccomp.so.2.5.4"; () for any other name."""
    name = path.rsplit("/", 1)[-1]
    if not name.startswith("libseccomp.so."):
        return ()
    try:
        return tuple(int(p) for p in name[len("libseccomp.so.") :].split("."))
    except ValueError:
        return ()


def library_version() -> tuple[int, ...]:
    """The libseccomp version: from the file's name, or (static build) from the built-in
    pyseccomp, which knows the library linked in; () when there is none."""
    v = version_tuple(libseccomp_file())
    if v or "pyseccomp" not in sys.builtin_module_names:
        return v
    import pyseccomp

    return tuple(pyseccomp.LIBSECCOMP_VERSION)


def libseccomp_version() -> str:
    """The libseccomp version as text, e.g. "2.5.4" ("" when not found)."""
    return ".".join(map(str, library_version()))


# =================================================================================================
# Entries
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
CACHE_MAX = 256


def _u32(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 4], "little")


def read(path: str, key: bytes) -> SeccompProgram | None:
    """The program stored at `path` under `key`, or None (a bad entry is removed)."""
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


def write(cache_dir: str, path: str, key: bytes, prog: SeccompProgram) -> None:
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
        if len(names) <= CACHE_MAX:
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
    for _, n in aged[: len(aged) - CACHE_MAX // 2]:
        if f"{cache_dir}/{n}" != keep:
            _discard(f"{cache_dir}/{n}")
