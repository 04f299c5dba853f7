"""A validated Profile → a SeccompProgram, compiled by libseccomp through pyseccomp. Cache miss only:
pyseccomp (ctypes, ~15 ms to import) is imported here and nowhere on the warm path.

Compiled as runc does (libcontainer/seccomp): same rule shapes, unknown syscall names skipped,
rules equal to the default action skipped, libseccomp's NNP attribute off (the helper sets
no_new_privs itself), binary tree optimisation above 32 syscalls, and runc's -ENOSYS stub
(bpf.py) in front of the filter.
"""

from __future__ import annotations

import os
import sys

from railcar.errors import RailcarError, SpecError
from railcar.seccomp import SeccompProgram
from railcar.seccomp.bpf import MAX_INSNS, enosys_stub, wants_enosys_stub
from railcar.seccomp.cache import libseccomp_file, libseccomp_version
from railcar.seccomp.tables import (
    FLAG_NEW_LISTENER,
    FLAG_TSYNC,
    FLAG_WAIT_KILLABLE_RECV,
    FLAGS,
    RET_KILL_PROCESS,
    RET_LOG,
    RET_USER_NOTIF,
)
from railcar.seccomp.validate import FIELD as P

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.seccomp.validate import Profile

__all__ = ["build", "import_pyseccomp"]

# libseccomp's enum scmp_filter_attr
_ATTR_CTL_NNP = 3
_ATTR_CTL_LOG = 6
_ATTR_CTL_SSB = 7
_ATTR_CTL_OPTIMIZE = 8
# The flags libseccomp sets through a filter attribute (and checks with the kernel when it does).
_FLAG_ATTRS = {"SECCOMP_FILTER_FLAG_LOG": _ATTR_CTL_LOG, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": _ATTR_CTL_SSB}
_EEXIST, _EINVAL = 17, 22


def build(p: Profile) -> tuple[SeccompProgram, bool]:
    """(program, cacheable). Not cacheable when the libseccomp mapped into this process is not the
    file the cache key names (pyseccomp imported earlier by someone else): correct now, not reused.

    Profiles railcar's own emitter covers (emit.py: Docker's, and most engines') never reach
    libseccomp: the same decisions, without pyseccomp's import and libseccomp's slow export."""
    from railcar.seccomp.emit import emit

    own = emit(p)
    if own is not None:
        return _own_program(p, own), True
    try:
        sc = import_pyseccomp(libseccomp_file())
    except Exception as e:  # ImportError, or RuntimeError/OSError when libseccomp is missing
        raise RailcarError(f"{P}: libseccomp is not available: {e}") from None

    if p.notify and sc.get_api() < 6:
        raise SpecError(P, "SCMP_ACT_NOTIFY needs libseccomp >= 2.5 and Linux >= 5.7 (API level 6)")

    try:
        filt = sc.SyscallFilter(p.default)
    except OSError as e:
        raise SpecError(f"{P}.defaultAction", f"rejected by libseccomp: {e.strerror}") from None
    try:
        # No NNP from libseccomp: the helper sets no_new_privs itself, when process.noNewPrivileges.
        filt.set_attr(_ATTR_CTL_NNP, 0)
    except OSError as e:
        raise RailcarError(f"{P}: cannot clear libseccomp's no_new_privs attribute: {e.strerror}") from None

    for name, value in p.archs:
        try:
            if not filt.exist_arch(value):
                filt.add_arch(value)
        except OSError:
            raise SpecError(
                f"{P}.architectures",
                f'architecture "{name}" is not supported by libseccomp {libseccomp_version()}',
            ) from None

    flags = _flags(filt, p)

    if sum(len(r.names) for r in p.rules) > 32:
        # Binary search over syscall numbers instead of a linear chain (runc's threshold: libseccomp
        # <= 2.5.4 misbehaves with the tree and no rules).
        try:
            filt.set_attr(_ATTR_CTL_OPTIMIZE, 2)
        except OSError:
            pass

    native = sc.Arch.NATIVE
    for r in p.rules:
        if r.action == p.default:
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
                if e.errno == _EEXIST:
                    why = "conflicts with an earlier rule"
                else:
                    why = f"rejected by libseccomp: {e.strerror}"
                if e.errno == _EINVAL and r.action in (RET_KILL_PROCESS, RET_LOG, RET_USER_NOTIF):
                    why += " (is the action supported by this kernel?)"
                raise SpecError(f"{P}.syscalls[{r.index}]", f"{name}: {why}") from None

    bpf = _export(filt)
    if wants_enosys_stub(p.default):
        names = sorted({n for r in p.rules for n in r.names})
        bpf = enosys_stub(p.archs, lambda arch: max((sc.resolve_syscall(arch, n) for n in names), default=-1)) + bpf
    if not bpf or len(bpf) % 8:
        raise RailcarError(f"{P}: libseccomp exported a malformed program ({len(bpf)} bytes)")
    if len(bpf) // 8 > MAX_INSNS:
        raise SpecError(P, f"the filter has {len(bpf) // 8} instructions, more than the kernel's {MAX_INSNS}")
    listener = (p.listener_path, p.listener_metadata) if p.notify else ("", "")
    return SeccompProgram(bpf, flags, *listener), _loaded_library_matches()


def _own_program(p: Profile, bpf: bytes) -> SeccompProgram:
    """emit.py's filter behind runc's -ENOSYS stub, numbers from the same tables libseccomp has."""
    from railcar.seccomp.syscalls import NR

    if wants_enosys_stub(p.default):
        names = {n for r in p.rules for n in r.names}
        by_token = {value: NR.get(name, {}) for name, value in p.archs}
        bpf = enosys_stub(p.archs, lambda arch: max((by_token[arch].get(n, -1) for n in names), default=-1)) + bpf
    if len(bpf) // 8 > MAX_INSNS:
        raise SpecError(P, f"the filter has {len(bpf) // 8} instructions, more than the kernel's {MAX_INSNS}")
    return SeccompProgram(bpf, p.flags & FLAG_TSYNC)


def _flags(filt: Any, p: Profile) -> int:
    """The SECCOMP_FILTER_FLAG_* bits for seccomp(2), each checked with libseccomp or the kernel."""
    flags = 0
    for name, attr in _FLAG_ATTRS.items():
        if p.flags & FLAGS[name]:
            # libseccomp probes the kernel when the attribute is set (as runc's SetLogBit, SetSSB).
            try:
                filt.set_attr(attr, 1)
            except OSError:
                raise SpecError(f"{P}.flags", f"{name} is not supported by this kernel") from None
            flags |= FLAGS[name]
    if p.notify:
        flags |= FLAG_NEW_LISTENER
        if p.flags & FLAG_WAIT_KILLABLE_RECV:
            # libseccomp 2.5 has no attribute for it: the kernel is asked (probe.py).
            from railcar.seccomp.probe import kernel_has_flag

            if not kernel_has_flag(FLAG_WAIT_KILLABLE_RECV):
                raise SpecError(
                    f"{P}.flags", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is not supported by this kernel (>= 5.19)"
                )
            flags |= FLAG_WAIT_KILLABLE_RECV
        # TSYNC + NEW_LISTENER is EINVAL in the kernel; the helper is single-threaded, so TSYNC
        # has nothing to synchronise anyway (runc ignores the flag altogether).
    elif p.flags & FLAG_TSYNC:
        flags |= FLAG_TSYNC
    # WAIT_KILLABLE_RECV without a listener means nothing (and the kernel would refuse it): dropped.
    return flags


def import_pyseccomp(lib: str) -> Any:
    """pyseccomp, with libseccomp loaded from `lib`: the file the cache key names ("" when none is
    known, or in the static build, whose pyseccomp is built in: then the ordinary import).

    Why the stand-in: pyseccomp 0.1.2 (the latest release) takes no library path. At import it
    dlopens ctypes.util.find_library("c") and find_library("seccomp"); the real ctypes.util imports
    subprocess and shutil, and each call runs `ldconfig -p`: ~15 ms of a ~50 ms cold compile,
    spent on two answers railcar already has. So, for that one import, sys.modules["ctypes.util"] is a
    module whose find_library knows exactly those two names: "seccomp" is `lib`, "c" is None, i.e.
    dlopen(NULL), the C library this process already runs on. Any other name raises LookupError
    and pyseccomp is imported the ordinary way (a later pyseccomp that asks for more still works,
    slower). Both entries are removed after the import, so a later `import ctypes.util` gets the
    real module. Tested: tests/unit/test_seccomp.py (test_cold_compile_*, test_pyseccomp_*);
    measured: docs/internals.md, "seccomp"."""
    if not lib or "pyseccomp" in sys.modules or "ctypes.util" in sys.modules:
        import pyseccomp

        return pyseccomp
    import ctypes
    import types

    def find_library(name: str) -> str | None:
        if name == "seccomp":
            return lib
        if name == "c":
            return None
        raise LookupError(f"pyseccomp asked find_library for {name!r}")

    stand_in = types.ModuleType("ctypes.util", "find_library for importing pyseccomp (railcar.seccomp.compiler)")
    stand_in.find_library = find_library  # type: ignore[attr-defined]
    sys.modules["ctypes.util"] = stand_in
    ctypes.util = stand_in  # type: ignore[attr-defined]  # `import ctypes.util` reads the attribute
    try:
        import pyseccomp
    except LookupError:
        pyseccomp = None
    finally:
        del sys.modules["ctypes.util"]
        del ctypes.util  # type: ignore[attr-defined]
    if pyseccomp is None:
        import pyseccomp
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
            raise RailcarError(f"{P}: libseccomp cannot export the filter: {e.strerror}") from None
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def _loaded_library_matches() -> bool:
    """Is the libseccomp mapped into this process the file the cache key was derived from?"""
    want = libseccomp_file()
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
