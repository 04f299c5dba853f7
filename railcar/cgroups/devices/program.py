"""The v2 device filter: (default, exceptions) from the emulation -> an eBPF program of type
BPF_PROG_TYPE_CGROUP_DEVICE (attached by railcar._core.attach_device_filter).

The program sees struct bpf_cgroup_dev_ctx { u32 access_type (type | access << 16); u32 major,
minor; } in r1 and returns 1 to allow, 0 to deny. One block per exception, in order; a block
that does not match jumps to the next; the default verdict comes last.
"""

from __future__ import annotations

import struct

from railcar.cgroups.devices import ACC_ALL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups.devices import Key

# opcodes (linux/bpf.h): BPF_LDX|BPF_W|BPF_MEM, BPF_ALU|BPF_AND|BPF_K, ... BPF_JMP|BPF_EXIT
_LDXW, _AND32, _RSH32, _MOV32, _MOV32_REG = 0x61, 0x54, 0x74, 0xB4, 0xBC
_JNE, _JNE_REG, _JEQ, _EXIT = 0x55, 0x5D, 0x15, 0x95
_JUMPS = (_JNE, _JNE_REG, _JEQ)
_DEV_TYPE = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR


def _ins(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def assemble(default_allow: bool, exc: dict[Key, int]) -> bytes:
    prog = [
        _ins(_LDXW, 2, 1, 0), _ins(_AND32, 2, imm=0xFFFF),  # r2 = type
        _ins(_LDXW, 3, 1, 0), _ins(_RSH32, 3, imm=16),      # r3 = requested access
        _ins(_LDXW, 4, 1, 4),                               # r4 = major
        _ins(_LDXW, 5, 1, 8),                               # r5 = minor
    ]
    verdict = 0 if default_allow else 1
    for (t, major, minor), bits in exc.items():
        block: list[tuple[int, int, int, int]] = []  # (code, dst, src, imm); a jump skips the rest
        block.append((_JNE, 2, 0, _DEV_TYPE[t]))
        if bits != ACC_ALL:
            block.append((_MOV32_REG, 1, 3, 0))
            block.append((_AND32, 1, 0, bits))
            if default_allow:
                block.append((_JEQ, 1, 0, 0))      # deny list: any overlap matches
            else:
                block.append((_JNE_REG, 1, 3, 0))  # allow list: the request must be a subset
        if major >= 0:
            block.append((_JNE, 4, 0, major))
        if minor >= 0:
            block.append((_JNE, 5, 0, minor))
        n = len(block) + 2
        for i, (code, dst, src, imm) in enumerate(block):
            prog.append(_ins(code, dst, src, n - i - 1 if code in _JUMPS else 0, imm))
        prog.append(_ins(_MOV32, 0, imm=verdict))
        prog.append(_ins(_EXIT))
    prog.append(_ins(_MOV32, 0, imm=1 if default_allow else 0))
    prog.append(_ins(_EXIT))
    return b"".join(prog)
