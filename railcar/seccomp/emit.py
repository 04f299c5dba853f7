"""A validated Profile → classic BPF, written by railcar itself: the cold path without libseccomp.

Compiling Docker's profile through pyseccomp costs ~20 ms on a cache miss (importing ctypes and
pyseccomp ~5, adding 360 rules through ctypes ~3, libseccomp's seccomp_export_bpf ~8); this
emitter does the same profile in well under a millisecond. It covers the profiles real engines
write and defers everything else to libseccomp (compiler.py), so it is never a second opinion:
`emit` returns None unless the filter it writes decides every (arch, nr, args) exactly as the
filter libseccomp would write for the same profile:
- the library must be the one syscalls.py was generated from (same names, same numbers);
- the filter's architectures (the native one, which libseccomp always adds, and the profile's)
  are among x86_64, x86 and x32, on a little-endian x86_64 host;
- actions: ALLOW, ERRNO, TRACE, TRAP, KILL(_THREAD); LOG, KILL_PROCESS and NOTIFY need
  libseccomp's kernel checks, and the LOG and SPEC_ALLOW flags its attribute probes;
- on one syscall, every rule has the same action (libseccomp's own merging of conflicting
  rules is not reproduced).
Semantics copied from libseccomp 2.5.4 (db.c, gen_bpf.c, syscalls.c): a syscall's conditional
rules are OR'ed and an unconditional one wins; 64-bit arches compare all 64 bits of an argument,
32-bit ones (x86, x32) the low 32 bits of argument and datum; MASKED_EQ is (arg & mask) ==
(datum & mask); an unknown arch gets KILL (libseccomp's default bad-arch action); on x86_64
without x32 a number >= X32_SYSCALL_BIT is a bad arch (except -1, which gets the default), on x32
without x86_64 a number below it is; with both, one tree decides. On x86 a rule on a socketcall-
or ipc-multiplexed call becomes a rule on socketcall/ipc with argument 0 == the call's number
(replacing any condition on argument 0), plus the same rule on its directly wired number if any.
tests/unit/test_seccomp_emit.py checks the equivalence against libseccomp with a BPF interpreter.
"""

from __future__ import annotations

import sys

from railcar.seccomp.tables import (
    ARCHS,
    CMP_MASKED_EQ,
    RET_ALLOW,
    RET_ERRNO,
    RET_KILL_THREAD,
    RET_TRACE,
    RET_TRAP,
    X32_SYSCALL_BIT,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.seccomp.validate import Profile

__all__ = ["emit"]

_X86_64, _X86, _X32 = "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"
_SUPPORTED_ARCHS = (_X86_64, _X86, _X32)
_SUPPORTED_ACTIONS = (RET_ALLOW, RET_ERRNO, RET_TRACE, RET_TRAP, RET_KILL_THREAD)
_BADARCH = RET_KILL_THREAD  # libseccomp's SCMP_FLTATR_ACT_BADARCH default, SCMP_ACT_KILL
_X86_SOCKETCALL, _X86_IPC = 102, 117
_NE, _LT, _LE, _EQ, _GE, _GT = 1, 2, 3, 4, 5, 6

# struct sock_filter codes
_LD_W_ABS, _AND_K, _JA, _JEQ, _JGT, _JGE, _RET_K = 0x20, 0x54, 0x05, 0x15, 0x25, 0x35, 0x06

Cond = tuple  # (arg index, op, datum_a, datum_b), as validate.Rule.conds
Outcome = tuple  # ("ret", action) or ("cond", action, conjunctions)


class _Unsupported(Exception):
    pass


def emit(p: Profile) -> bytes | None:
    """The filter (without runc's -ENOSYS stub), or None when libseccomp must compile this profile."""
    try:
        return _emit(p)
    except _Unsupported:
        return None


def host_supported() -> bool:
    return sys.byteorder == "little" and sys.maxsize > 2**32 and _machine() == "x86_64"


def _machine() -> str:
    import os

    return os.uname().machine


def _emit(p: Profile) -> bytes:
    from railcar.seccomp.cache import library_version
    from railcar.seccomp.syscalls import LIBSECCOMP

    if p.notify or p.flags & ~1 or not host_supported() or library_version() != LIBSECCOMP:
        raise _Unsupported  # flags: TSYNC only (the others need libseccomp's probes)
    archs = [_X86_64] + [a for a, _ in p.archs if a != _X86_64]
    if any(a not in _SUPPORTED_ARCHS for a in archs):
        raise _Unsupported
    tables = {a: _arch_rules(p, a) for a in dict.fromkeys(archs)}

    asm = _Asm()
    asm.emit(_LD_W_ABS, 4)  # seccomp_data.arch
    groups: dict[int, list[str]] = {}
    for a in tables:
        groups.setdefault(ARCHS[_X86_64][0] if a == _X32 else ARCHS[a][0], []).append(a)
    for audit in groups:
        asm.emit(_JEQ, audit, 0, 1)
        asm.emit(_JA, f"arch{audit}")
    asm.emit(_RET_K, _BADARCH)
    for audit, members in groups.items():
        asm.label(f"arch{audit}")
        asm.emit(_LD_W_ABS, 0)  # seccomp_data.nr
        outcomes: dict[int, Outcome] = {}
        for a in members:
            outcomes.update(tables[a])
        if members == [_X86_64]:
            asm.emit(_JGE, X32_SYSCALL_BIT, 0, 2)
            asm.emit(_JEQ, 0xFFFFFFFF, 1, 0)  # -1 (a tracer skipping the call) gets the default
            asm.emit(_RET_K, _BADARCH)
        elif members == [_X32]:
            asm.emit(_JGE, X32_SYSCALL_BIT, 1, 0)
            asm.emit(_RET_K, _BADARCH)
        _tree(asm, _segments(outcomes), p.default)
    return asm.assemble()


_action_ok = frozenset(_SUPPORTED_ACTIONS)


def _supported_action(action: int) -> bool:
    base = action & 0xFFFF0000 if action & 0xFFFF0000 in (RET_ERRNO, RET_TRACE) else action
    return base in _action_ok


def _arch_rules(p: Profile, arch: str) -> dict[int, Outcome]:
    """nr → outcome on `arch`, merged as libseccomp's database does (same action only)."""
    from railcar.seccomp.syscalls import KNOWN, NR, X86_MUX

    if not _supported_action(p.default):
        raise _Unsupported
    table = NR[arch]
    rules: dict[int, list[Any]] = {}  # nr → [action, unconditional?, conjunctions]

    def add(nr: int, action: int, conj: tuple[Cond, ...]) -> None:
        cur = rules.get(nr)
        if cur is None:
            rules[nr] = [action, not conj, [conj] if conj else []]
            return
        if cur[0] != action:
            raise _Unsupported  # libseccomp's merging of conflicting actions is its own business
        if not conj:
            cur[1] = True
        else:
            cur[2].append(conj)

    for r in p.rules:
        if r.action == p.default:
            continue
        if not _supported_action(r.action):
            raise _Unsupported
        conjs = [(c,) for c in r.conds] if r.split else [tuple(r.conds)]
        for name in r.names:
            if name not in KNOWN:
                continue  # unknown to libseccomp: skipped (as compiler.py and runc do)
            if arch == _X86 and name in X86_MUX:
                pnr, direct = X86_MUX[name]
                mux_nr, datum = (_X86_SOCKETCALL, -pnr % 100) if pnr > -200 else (_X86_IPC, -pnr % 200)
                for conj in conjs:
                    add(mux_nr, r.action, tuple(c for c in conj if c[0] != 0) + ((0, _EQ, datum, 0),))
                    if direct >= 0:
                        add(direct, r.action, conj)
                continue
            nr = table.get(name, -1)
            if nr < 0:
                continue  # not on this arch
            for conj in conjs:
                add(nr, r.action, conj)
    bits = 64 if arch == _X86_64 else 32
    out: dict[int, Outcome] = {}
    for nr, (action, uncond, conjs) in rules.items():
        out[nr] = ("ret", action) if uncond else ("cond", action, tuple(conjs), bits)
    return out


def _segments(outcomes: dict[int, Outcome]) -> list[tuple[int, Outcome | None]]:
    """The 32-bit number line as (start, outcome) runs, None for the default, equal neighbours joined."""
    segs: list[tuple[int, Outcome | None]] = []
    end = 0  # where the last run ends (exclusive)
    for nr in sorted(outcomes):
        o = outcomes[nr]
        if nr > end and (not segs or segs[-1][1] is not None):
            segs.append((end, None))
        if not segs or segs[-1][1] != o or nr > end:
            segs.append((nr, o))
        end = nr + 1
    if end < 1 << 32 and (not segs or segs[-1][1] is not None):
        segs.append((end, None))
    return segs or [(0, None)]


def _tree(asm: _Asm, segs: list[tuple[int, Outcome | None]], default: int) -> None:
    """Binary search on the number in A; each leaf is its outcome's code (always ending in RET)."""
    if len(segs) == 1:
        _outcome(asm, segs[0][1], default)
        return
    mid = len(segs) // 2
    right = asm.new_label()
    asm.emit(_JGE, segs[mid][0], 0, 1)
    asm.emit(_JA, right)
    _tree(asm, segs[:mid], default)
    asm.label(right)
    _tree(asm, segs[mid:], default)


def _outcome(asm: _Asm, o: Outcome | None, default: int) -> None:
    if o is None:
        asm.emit(_RET_K, default)
        return
    if o[0] == "ret":
        asm.emit(_RET_K, o[1])
        return
    _, action, conjs, bits = o
    for conj in conjs:
        fail = asm.new_label()
        for c in conj:
            _compare(asm, c, fail, bits)
        asm.emit(_RET_K, action)
        asm.label(fail)
    asm.emit(_RET_K, default)


def _compare(asm: _Asm, c: Cond, fail: str, bits: int) -> None:
    """Fall through when argument c[0] passes comparison c, else jump to `fail`."""
    idx, op, a, b = c
    lo_off, hi_off = 16 + 8 * idx, 20 + 8 * idx  # seccomp_data.args[idx], little-endian
    if op == CMP_MASKED_EQ:
        mask, datum = a, b & a
        if bits == 32:
            mask &= 0xFFFFFFFF
            if mask == 0:
                return
            asm.emit(_LD_W_ABS, lo_off)
            asm.emit(_AND_K, mask)
            asm.emit(_JEQ, datum & mask, 0, fail)
            return
        for off, m, d in ((hi_off, mask >> 32, datum >> 32), (lo_off, mask & 0xFFFFFFFF, datum & 0xFFFFFFFF)):
            if m:
                asm.emit(_LD_W_ABS, off)
                asm.emit(_AND_K, m)
                asm.emit(_JEQ, d, 0, fail)
        return
    if bits == 32:
        d = a & 0xFFFFFFFF
        asm.emit(_LD_W_ABS, lo_off)
        if op == _EQ:
            asm.emit(_JEQ, d, 0, fail)
        elif op == _NE:
            asm.emit(_JEQ, d, fail, 0)
        elif op == _GT:
            asm.emit(_JGT, d, 0, fail)
        elif op == _GE:
            asm.emit(_JGE, d, 0, fail)
        elif op == _LT:
            asm.emit(_JGE, d, fail, 0)
        elif op == _LE:
            asm.emit(_JGT, d, fail, 0)
        else:
            raise _Unsupported
        return
    dh, dl = a >> 32, a & 0xFFFFFFFF
    ok = asm.new_label()
    asm.emit(_LD_W_ABS, hi_off)
    if op == _EQ:
        asm.emit(_JEQ, dh, 0, fail)
        asm.emit(_LD_W_ABS, lo_off)
        asm.emit(_JEQ, dl, 0, fail)
    elif op == _NE:
        asm.emit(_JEQ, dh, 0, ok)
        asm.emit(_LD_W_ABS, lo_off)
        asm.emit(_JEQ, dl, fail, 0)
    elif op in (_GT, _GE):
        asm.emit(_JGT, dh, ok, 0)
        asm.emit(_JEQ, dh, 0, fail)
        asm.emit(_LD_W_ABS, lo_off)
        asm.emit(_JGT if op == _GT else _JGE, dl, 0, fail)
    elif op in (_LT, _LE):
        asm.emit(_JGT, dh, fail, 0)
        asm.emit(_JEQ, dh, 0, ok)
        asm.emit(_LD_W_ABS, lo_off)
        asm.emit(_JGE if op == _LT else _JGT, dl, fail, 0)
    else:
        raise _Unsupported
    asm.label(ok)


class _Asm:
    """Instructions with forward jumps to labels; a conditional jump farther than 255 is refused."""

    __slots__ = ("prog", "labels", "n")

    def __init__(self) -> None:
        self.prog: list[tuple[int, Any, Any, Any]] = []  # (code, jt, jf, k)
        self.labels: dict[str, int] = {}
        self.n = 0

    def new_label(self) -> str:
        self.n += 1
        return f"L{self.n}"

    def label(self, name: str) -> None:
        self.labels[name] = len(self.prog)

    def emit(self, code: int, k: Any, jt: Any = 0, jf: Any = 0) -> None:
        self.prog.append((code, jt, jf, k))

    def assemble(self) -> bytes:
        order = sys.byteorder
        labels = self.labels
        out = []
        for i, (code, jt, jf, k) in enumerate(self.prog):
            if code == _JA:
                k, jt, jf = labels[k] - i - 1, 0, 0
            else:
                if type(jt) is str:
                    jt = labels[jt] - i - 1
                if type(jf) is str:
                    jf = labels[jf] - i - 1
                if not (0 <= jt <= 255 and 0 <= jf <= 255):
                    raise _Unsupported
            out.append(code.to_bytes(2, order) + bytes((jt, jf)) + (k & 0xFFFFFFFF).to_bytes(4, order))
        return b"".join(out)
