"""Classic BPF that railcar writes itself: runc's -ENOSYS stub, put in front of libseccomp's filter.

Syscalls newer than any the profile names fail with ENOSYS instead of the default action, so
libc falls back (clone3 → clone, say) instead of failing hard. Plain Python, no libseccomp: the
compiler passes in how to find the largest syscall number the profile names on an arch.
"""

from __future__ import annotations

import sys

from railcar.errors import RailcarError
from railcar.seccomp.tables import AUDIT_ARCH_X86_64, RET_ALLOW, RET_ERRNO, RET_LOG, RET_TRACE, X32_SYSCALL_BIT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["MAX_INSNS", "enosys_stub", "wants_enosys_stub"]

MAX_INSNS = 4096  # BPF_MAXINSNS: the kernel refuses longer programs
_ENOSYS = 38

# struct sock_filter codes
_LD_W_ABS, _JA, _JEQ, _JGT, _JSET, _RET_K = 0x20, 0x05, 0x15, 0x25, 0x45, 0x06


def wants_enosys_stub(default: int) -> bool:
    """runc patchbpf: only when unknown syscalls would otherwise be refused. An allowing default
    (ALLOW, LOG, TRACE: a tracer handles ENOSYS itself) or ERRNO(ENOSYS) makes it pointless."""
    return not (default in (RET_ALLOW, RET_LOG, RET_ERRNO | _ENOSYS) or default & 0xFFFF0000 == RET_TRACE)


def enosys_stub(archs: list[tuple[str, int]], largest_nr: Callable[[int], int]) -> bytes:
    """BPF run before libseccomp's filter: for each listed arch, a syscall number above the largest
    one the profile names (`largest_nr(arch token)`, -1 for none) returns ENOSYS, anything else
    falls through to the filter. x86_64 and x32 share an audit arch and differ by bit 30."""
    groups: dict[int, dict[str, int]] = {}  # audit arch → {SCMP_ARCH name: largest nr}
    for arch_name, value in archs:
        audit = AUDIT_ARCH_X86_64 if arch_name == "SCMP_ARCH_X32" else value
        g = groups.setdefault(audit, {})
        if arch_name in g:
            continue
        top = largest_nr(value)
        if top > 0:  # -1: none known; pseudo-numbers are negative
            g[arch_name] = top
    groups = {a: g for a, g in groups.items() if g}
    if not groups:
        return b""

    # A tiny assembler: jumps name labels, resolved to forward offsets at the end.
    prog: list[list[Any]] = []  # [code, jt, jf, k]
    labels: dict[str, int] = {}

    def emit(code: int, k: int | str, jt: int | str = 0, jf: int | str = 0) -> None:
        prog.append([code, jt, jf, k])

    def label(name: str) -> None:
        labels[name] = len(prog)

    emit(_LD_W_ABS, 4)  # seccomp_data.arch
    for audit in groups:
        emit(_JEQ, audit, f"arch{audit}", 0)
    emit(_JA, "filter")
    for audit, g in groups.items():
        label(f"arch{audit}")
        emit(_LD_W_ABS, 0)  # seccomp_data.nr
        if audit == AUDIT_ARCH_X86_64:
            top64 = g.get("SCMP_ARCH_X86_64")
            top32 = g.get("SCMP_ARCH_X32")
            if top64 is not None and top32 is not None:
                emit(_JSET, X32_SYSCALL_BIT, f"x32_{audit}", 0)
                emit(_JGT, top64, "enosys", "filter")
                label(f"x32_{audit}")
                emit(_JGT, top32, "enosys", "filter")
            elif top64 is not None:
                emit(_JSET, X32_SYSCALL_BIT, "filter", 0)  # x32 call: the filter decides
                emit(_JGT, top64, "enosys", "filter")
            else:
                emit(_JSET, X32_SYSCALL_BIT, 0, "filter")  # x86_64 call: the filter decides
                emit(_JGT, top32, "enosys", "filter")  # type: ignore[arg-type]
            continue
        if "SCMP_ARCH_S390" in g or "SCMP_ARCH_S390X" in g:
            # s390 multiplexes large syscall numbers through nr 0 (setup), unused otherwise.
            emit(_JEQ, 0, "enosys", 0)
        emit(_JGT, max(g.values()), "enosys", "filter")
    label("enosys")
    emit(_RET_K, RET_ERRNO | _ENOSYS)
    label("filter")

    order = sys.byteorder
    out = []
    for i, (code, jt, jf, k) in enumerate(prog):
        if code == _JA:
            k, jt, jf = labels[k] - i - 1, 0, 0
        else:
            jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
            jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        if not (0 <= jt <= 255 and 0 <= jf <= 255):
            raise RailcarError("linux.seccomp: internal error: -ENOSYS stub jump out of range")
        out.append(code.to_bytes(2, order) + bytes((jt, jf)) + k.to_bytes(4, order))
    return b"".join(out)
