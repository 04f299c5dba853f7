"""OCI `linux.seccomp` → classic BPF (struct sock_filter[]), compiled by libseccomp, cached on disk.

The C helper loads the result with seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog) right before
exec; no_new_privs is its business, not libseccomp's.

  tables.py    the names: actions, operators, architectures, flags (one table each)
  validate.py  the section's one validation (railcar.spec calls it) → a Profile
  cache.py     the key (canonical section + environment, libseccomp's file among it), entries,
               read, write, prune
  compiler.py  Profile → program with libseccomp, through pyseccomp (cache miss only)
  bpf.py       the BPF railcar assembles itself: runc's -ENOSYS stub
  probe.py     what the kernel and libseccomp support: flag probes, `railcar features`

Two paths through compile_profile:
- cache hit (every warm start): this module and cache.py (os + the builtin `_sha256`); the
  section was validated when config.json was loaded.
- cache miss: validate.py again (the caller may not have), then compiler.py, which imports
  pyseccomp (ctypes) and writes the entry.
"""

from __future__ import annotations

__all__ = ["SeccompProgram", "compile_profile", "features", "libseccomp_version"]


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


def compile_profile(section: dict, cache_dir: str) -> SeccompProgram:
    """The `linux.seccomp` section as a loadable program, from `cache_dir` when already compiled.

    Raises RailcarError (SpecError: `linux.seccomp.<field>: <cause>`) for an invalid section or
    one this kernel/libseccomp cannot do. Cache trouble (unwritable dir, bad entry) never fails a
    start: the program is compiled instead.
    """
    from railcar.seccomp import cache

    key = cache.key_of(section)
    path = f"{cache_dir}/{key.hex()}"
    prog = cache.read(path, key)
    if prog is not None:
        return prog
    from railcar.seccomp.compiler import build
    from railcar.seccomp.validate import validate

    prog, cacheable = build(validate(section))
    if cacheable:
        cache.write(cache_dir, path, key, prog)
    return prog


def features() -> dict:
    """The `linux.seccomp` object of the runtime-spec features document (features.md)."""
    from railcar.seccomp.probe import features

    return features()


def libseccomp_version() -> str:
    """The libseccomp version, e.g. "2.5.4" ("" when not found)."""
    from railcar.seccomp.cache import libseccomp_version

    return libseccomp_version()
