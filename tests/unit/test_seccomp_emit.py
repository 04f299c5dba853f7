"""railcar's own BPF emitter (railcar/seccomp/emit.py) against libseccomp: for each profile, both
filters (each behind runc's -ENOSYS stub) are run by a classic-BPF interpreter on every
architecture token, syscall numbers across the tables (x32's too, and the edges), and argument
vectors built around every datum of the profile; every decision must be the same."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from railcar.seccomp import compiler, emit
from railcar.seccomp.syscalls import NR, X86_MUX
from railcar.seccomp.tables import ARCHS
from railcar.seccomp.validate import validate

pytestmark = pytest.mark.skipif(not emit.host_supported(), reason="emit.py covers x86_64 hosts")

DOCKER = Path(__file__).resolve().parents[1] / "data/docker-default-seccomp.json"
U64 = (1 << 64) - 1


def decode(prog: bytes) -> list[tuple[int, int, int, int]]:
    return [(int.from_bytes(prog[i : i + 2], "little"), prog[i + 2], prog[i + 3],
             int.from_bytes(prog[i + 4 : i + 8], "little")) for i in range(0, len(prog), 8)]


def run_bpf(insns: list[tuple[int, int, int, int]], arch: int, nr: int, args: tuple[int, ...]) -> int:
    data = (nr & 0xFFFFFFFF).to_bytes(4, "little") + arch.to_bytes(4, "little") + bytes(8)
    data += b"".join((a & U64).to_bytes(8, "little") for a in args)
    a = pc = 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:
            a = int.from_bytes(data[k : k + 4], "little")
        elif code == 0x54:
            a &= k
        elif code == 0x05:
            pc += k
        elif code == 0x15:
            pc += jt if a == k else jf
        elif code == 0x25:
            pc += jt if a > k else jf
        elif code == 0x35:
            pc += jt if a >= k else jf
        elif code == 0x45:
            pc += jt if a & k else jf
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"opcode {code:#x}")


def both(section: dict) -> tuple[bytes, bytes]:
    p = validate(json.loads(json.dumps(section)))
    ours = compiler.build(p)[0].bpf
    orig = emit.emit
    emit.emit = lambda p: None  # type: ignore[assignment]
    try:
        theirs = compiler.build(p)[0].bpf
    finally:
        emit.emit = orig  # type: ignore[assignment]
    assert emit.emit(p) is not None, "the emitter declined this profile"
    return ours, theirs


def arg_vectors(section: dict) -> list[tuple[int, ...]]:
    vals = {0, 1, U64, 1 << 32, 0xFFFFFFFF}
    for call in section.get("syscalls", ()):
        for arg in call.get("args", ()):
            for v in (arg["value"], arg.get("valueTwo", 0)):
                for d in (v, v ^ (1 << 32), v & 0xFFFFFFFF, v | (1 << 40)):
                    vals.update({d & U64, (d - 1) & U64, (d + 1) & U64})
    vals_l = sorted(vals)
    rnd = random.Random(7)
    vecs = [(0,) * 6]
    for v in vals_l:
        for i in range(6):
            vecs.append(tuple(v if j == i else 0 for j in range(6)))
    for _ in range(40):
        vecs.append(tuple(rnd.choice(vals_l) for _ in range(6)))
    return vecs


def assert_same(section: dict) -> None:
    ours, theirs = map(decode, both(section))
    nrs = set(range(0, 600)) | {0xFFFFFFFF, 0x3FFFFFFF, 0x7FFFFFFF, 0x80000000, 1000, 4095}
    nrs |= {X32 + n for X32 in (0x40000000,) for n in range(0, 600)}
    args = arg_vectors(section)
    named = {n for call in section.get("syscalls", ()) if call.get("args") for n in call["names"]}
    conditional = {t[n] & 0x3FFFFFFF for t in NR.values() for n in named if n in t} | {102, 117}
    conditional |= {X86_MUX[n][1] for n in named if n in X86_MUX}
    archs = [v for a, (v, _) in ARCHS.items() if a in ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                                                          "SCMP_ARCH_AARCH64")]
    for arch in archs + [0x12345678]:
        for nr in sorted(nrs):
            for vec in args if (nr & 0x3FFFFFFF) in conditional else args[:1]:
                got, want = run_bpf(ours, arch, nr, vec), run_bpf(theirs, arch, nr, vec)
                assert got == want, f"arch {arch:#x} nr {nr:#x} args {vec}: ours {got:#x}, libseccomp {want:#x}"


def test_docker_profile_same_decisions() -> None:
    assert_same(json.loads(DOCKER.read_text()))


@pytest.mark.parametrize("archs", [[], ["SCMP_ARCH_X86"], ["SCMP_ARCH_X32"], ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]])
def test_arch_sets(archs: list[str]) -> None:
    assert_same({"defaultAction": "SCMP_ACT_ERRNO", "architectures": archs, "syscalls": [
        {"names": ["read", "write", "socket", "semop", "socketcall", "ipc", "shmat", "recv"],
         "action": "SCMP_ACT_ALLOW"}]})


OPS = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("value", [0, 5, 0xFFFFFFFF, 0x100000005, U64])
def test_operators(op: str, value: int) -> None:
    arg = {"index": 1, "value": value, "op": op}
    if op == "SCMP_CMP_MASKED_EQ":
        arg["valueTwo"] = value & 0xF0F0F0F0F0F0F0F5
    assert_same({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                 "syscalls": [{"names": ["umask", "socket", "msgsnd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3,
                               "args": [arg]}]})


def test_rule_shapes() -> None:
    assert_same({"defaultAction": "SCMP_ACT_KILL", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                 "syscalls": [
                     {"names": ["mkdir", "bind"], "action": "SCMP_ACT_TRAP",
                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                               {"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]},
                     {"names": ["mkdir", "bind"], "action": "SCMP_ACT_TRAP",
                      "args": [{"index": 2, "value": 9, "op": "SCMP_CMP_GT"},
                               {"index": 3, "value": 4, "op": "SCMP_CMP_LE"}]},
                     {"names": ["getpid", "no_such_call"], "action": "SCMP_ACT_TRACE", "errnoRet": 5},
                     {"names": ["getpid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5},
                     {"names": ["read"], "action": "SCMP_ACT_KILL"},
                     {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]},
                     {"names": ["clone"], "action": "SCMP_ACT_ALLOW"},
                 ]})


def test_declines_what_it_does_not_cover() -> None:
    for section in [
        {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64"]},
        {"defaultAction": "SCMP_ACT_LOG"},
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL_PROCESS"}]},
        {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]},
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL"},
                                                         {"names": ["read"], "action": "SCMP_ACT_TRAP"}]},
    ]:
        assert emit.emit(validate(section)) is None, section


def test_docker_profile_cold_compile_skips_pyseccomp() -> None:
    import subprocess

    code = ("import json, sys; from railcar.seccomp.compiler import build;"
            " from railcar.seccomp.validate import validate;"
            f" build(validate(json.load(open({str(DOCKER)!r}))));"
            " print('pyseccomp' in sys.modules, 'ctypes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    assert out.split() == ["False", "False"]
