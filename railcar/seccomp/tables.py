"""The names a `linux.seccomp` section may use, and what each means to the kernel and libseccomp.

One table each for actions, operators, architectures and flags (runtime-spec config-linux.md).
Validation (validate.py), compilation (compiler.py, bpf.py) and `railcar features` (probe.py)
all read these tables, so a name is added or dropped here and nowhere else.
"""

from __future__ import annotations

# --- actions: linux/seccomp.h SECCOMP_RET_* ------------------------------------------------------
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000
RET_USER_NOTIF = 0x7FC00000

# Action name → (SECCOMP_RET_* base, takes errnoRet). An action that takes it carries errnoRet in
# its low 16 bits (EPERM when not given, for TRACE too, as runc). SCMP_ACT_KILL is libseccomp's
# KILL, i.e. KILL_THREAD (runc maps it the same way).
ACTIONS: dict[str, tuple[int, bool]] = {
    "SCMP_ACT_KILL": (RET_KILL_THREAD, False),
    "SCMP_ACT_KILL_PROCESS": (RET_KILL_PROCESS, False),
    "SCMP_ACT_KILL_THREAD": (RET_KILL_THREAD, False),
    "SCMP_ACT_TRAP": (RET_TRAP, False),
    "SCMP_ACT_ERRNO": (RET_ERRNO, True),
    "SCMP_ACT_TRACE": (RET_TRACE, True),
    "SCMP_ACT_ALLOW": (RET_ALLOW, False),
    "SCMP_ACT_LOG": (RET_LOG, False),
    "SCMP_ACT_NOTIFY": (RET_USER_NOTIF, False),
}

# --- operators: libseccomp's enum scmp_compare ----------------------------------------------------
OPERATORS: dict[str, int] = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}
# MASKED_EQ compares (arg & value) with valueTwo; the others compare arg with value alone.
CMP_MASKED_EQ = OPERATORS["SCMP_CMP_MASKED_EQ"]

# --- architectures --------------------------------------------------------------------------------
# Arch name → (SCMP_ARCH_* token, the oldest libseccomp that knows it). A token is the kernel's
# AUDIT_ARCH_* (EM_* | 64BIT 0x80000000 | LE 0x40000000), except X32's, which libseccomp encodes
# as EM_X86_64|LE: the kernel reports x32 calls as AUDIT_ARCH_X86_64 with bit 30 in the number.
ARCHS: dict[str, tuple[int, tuple[int, ...]]] = {
    "SCMP_ARCH_X86": (0x40000003, ()),
    "SCMP_ARCH_X86_64": (0xC000003E, ()),
    "SCMP_ARCH_X32": (0x4000003E, ()),
    "SCMP_ARCH_ARM": (0x40000028, ()),
    "SCMP_ARCH_AARCH64": (0xC00000B7, ()),
    "SCMP_ARCH_MIPS": (0x00000008, ()),
    "SCMP_ARCH_MIPS64": (0x80000008, ()),
    "SCMP_ARCH_MIPS64N32": (0xA0000008, ()),
    "SCMP_ARCH_MIPSEL": (0x40000008, ()),
    "SCMP_ARCH_MIPSEL64": (0xC0000008, ()),
    "SCMP_ARCH_MIPSEL64N32": (0xE0000008, ()),
    "SCMP_ARCH_PPC": (0x00000014, ()),
    "SCMP_ARCH_PPC64": (0x80000015, ()),
    "SCMP_ARCH_PPC64LE": (0xC0000015, ()),
    "SCMP_ARCH_S390": (0x00000016, ()),
    "SCMP_ARCH_S390X": (0x80000016, ()),
    "SCMP_ARCH_PARISC": (0x0000000F, ()),
    "SCMP_ARCH_PARISC64": (0x8000000F, ()),
    "SCMP_ARCH_RISCV64": (0xC00000F3, ()),
    "SCMP_ARCH_LOONGARCH64": (0xC0000102, (2, 6)),  # runc knows the name too
}
AUDIT_ARCH_X86_64 = ARCHS["SCMP_ARCH_X86_64"][0]
X32_SYSCALL_BIT = 0x40000000

# --- flags: linux/seccomp.h SECCOMP_FILTER_FLAG_* -------------------------------------------------
FLAG_TSYNC = 1
FLAG_LOG = 2
FLAG_SPEC_ALLOW = 4
FLAG_NEW_LISTENER = 8  # not a profile flag: set when a rule is SCMP_ACT_NOTIFY
FLAG_WAIT_KILLABLE_RECV = 32
# The flags a profile may name → bit, in the runtime-spec's order (features' knownFlags keeps it).
FLAGS: dict[str, int] = {
    "SECCOMP_FILTER_FLAG_TSYNC": FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": FLAG_WAIT_KILLABLE_RECV,
}
