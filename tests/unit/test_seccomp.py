"""railcar.seccomp: OCI seccomp section → BPF, the on-disk cache, and filters that really work.

The behaviour tests load the compiled program into a forked child exactly as the helper does
(no_new_privs, then seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)) and watch what the kernel does.
ctypes is fine here: only the runtime's hot path must not import it.
"""

from __future__ import annotations

import ast
import ctypes
import errno
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from railcar import jsonfast
from railcar import seccomp as sc
from railcar.errors import RailcarError
from railcar.seccomp import cache as sc_cache

REPO = Path(__file__).resolve().parent.parent.parent
DOCKER_PROFILE = REPO / "tests" / "data" / "docker-default-seccomp.json"

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers below are x86_64's")

NR = {
    "getcwd": 79,
    "getpgid": 121,
    "getpriority": 140,
    "personality": 135,
    "unshare": 272,
    "clone3": 435,
    "seccomp": 317,
    "getpid": 39,
}
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
ERRNO_MARK = 77  # an errno no syscall here returns by itself


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long


def sys_call(name: str, *args: int) -> tuple[int, int]:
    """(return value, errno) of a raw syscall."""
    ctypes.set_errno(0)
    r = LIBC.syscall(ctypes.c_long(NR[name]), *(ctypes.c_long(a) for a in args))
    return r, ctypes.get_errno() if r == -1 else 0


def docker_section() -> dict:
    return jsonfast.loads(DOCKER_PROFILE.read_bytes())  # type: ignore[return-value]


def allow_but(*calls: dict, **extra: Any) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(calls), **extra}


def compile_(section: dict, tmp_path: Path) -> sc.SeccompProgram:
    return sc.compile_profile(section, str(tmp_path / "cache"))


def run_filtered(prog: sc.SeccompProgram, body: Callable[[int], Any]) -> tuple[int, Any]:
    """Fork; the child loads `prog` as the helper would, runs body(seccomp() result) and sends back
    its repr. Returns (wait status as exit code / -signal, body's value or None)."""
    buf = ctypes.create_string_buffer(prog.bpf, len(prog.bpf))
    fprog = SockFprog(len(prog.bpf) // 8, ctypes.addressof(buf))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(r)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # KILL_PROCESS would dump core
            if LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl")
            ret = LIBC.syscall(
                ctypes.c_long(NR["seccomp"]),
                ctypes.c_long(SECCOMP_SET_MODE_FILTER),
                ctypes.c_long(prog.flags),
                ctypes.byref(fprog),
            )
            if ret < 0:
                os.write(w, repr(("load failed", ctypes.get_errno())).encode())
                code = 3
            else:
                os.write(w, repr(body(ret)).encode())
        except BaseException as e:  # report, never unwind into the parent's test
            try:
                os.write(w, repr(("exception", repr(e))).encode())
            finally:
                code = 2
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    while True:
        c = os.read(r, 65536)
        if not c:
            break
        chunks.append(c)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    out = b"".join(chunks).decode()
    return os.waitstatus_to_exitcode(status), (ast.literal_eval(out) if out else None)


# =================================================================================================
# Compilation: shape, determinism, errors
# =================================================================================================
def test_program_shape(tmp_path: Path) -> None:
    prog = compile_(allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}), tmp_path)
    assert isinstance(prog.bpf, bytes) and prog.bpf and len(prog.bpf) % 8 == 0
    assert prog.flags == 0 and prog.listener_path == "" and prog.listener_metadata == ""
    code = int.from_bytes(prog.bpf[0:2], sys.byteorder)
    assert (code, int.from_bytes(prog.bpf[4:8], sys.byteorder)) == (0x20, 4)  # ld [arch] comes first
    assert not hasattr(prog, "__dict__")  # a slotted plain class


def test_same_profile_same_bytes(tmp_path: Path) -> None:
    sec = docker_section()
    a = sc.compile_profile(sec, str(tmp_path / "a"))
    b = sc.compile_profile(docker_section(), str(tmp_path / "b"))  # separate caches: compiled twice
    assert a.bpf == b.bpf and a == b


def test_errno_ret_changes_bytes(tmp_path: Path) -> None:
    def sec(n: int) -> dict:
        return allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": n})

    assert compile_(sec(5), tmp_path).bpf != compile_(sec(6), tmp_path).bpf
    default = compile_(allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}), tmp_path)
    assert default.bpf == compile_(sec(errno.EPERM), tmp_path).bpf  # EPERM when not given


def test_default_errno_ret(tmp_path: Path) -> None:
    base = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
    eperm = compile_(base, tmp_path)
    assert eperm == compile_({**base, "defaultErrnoRet": 1}, tmp_path)
    assert eperm.bpf != compile_({**base, "defaultErrnoRet": 13}, tmp_path).bpf


def test_unknown_syscall_names_are_skipped(tmp_path: Path) -> None:
    only = compile_(allow_but({"names": ["getcwd"], "action": "SCMP_ACT_KILL"}), tmp_path)
    more = compile_(allow_but({"names": ["getcwd", "no_such_call_zz"], "action": "SCMP_ACT_KILL"}), tmp_path)
    assert only.bpf == more.bpf


def test_rule_equal_to_default_is_skipped(tmp_path: Path) -> None:
    base = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
    same = {**base, "syscalls": [*base["syscalls"], {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}
    assert compile_(base, tmp_path).bpf == compile_(same, tmp_path).bpf
    other = {
        **base,
        "syscalls": [*base["syscalls"], {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2}],
    }
    assert compile_(base, tmp_path).bpf != compile_(other, tmp_path).bpf


def test_architectures(tmp_path: Path) -> None:
    rule = {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}
    native = compile_(allow_but(rule), tmp_path)
    listed = compile_(allow_but(rule, architectures=["SCMP_ARCH_X86_64"]), tmp_path)
    assert native.bpf == listed.bpf  # native is always there; listing it again changes nothing
    multi = compile_(
        allow_but(rule, architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]), tmp_path
    )
    ks = {int.from_bytes(multi.bpf[i + 4 : i + 8], sys.byteorder) for i in range(0, len(multi.bpf), 8)}
    assert 0x40000003 in ks and 0xC000003E in ks  # AUDIT_ARCH_I386, AUDIT_ARCH_X86_64 are checked


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["getcwd"], "action": "SCMP_ACT_FOO"},
                ],
            },
            'linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"',
        ),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]},
            'linux.seccomp.architectures: unknown architecture "SCMP_ARCH_VAX"',
        ),
        ({"defaultAction": "SCMP_ACT_NOPE"}, 'linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"'),
        ({}, "linux.seccomp.defaultAction: is required"),
        (
            allow_but(
                {
                    "names": ["getcwd"],
                    "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ZZ"}],
                }
            ),
            'linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_ZZ"',
        ),
        (
            allow_but(
                {
                    "names": ["getcwd"],
                    "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}],
                }
            ),
            "linux.seccomp.syscalls[0].args[0].index: must be between 0 and 5, got 6",
        ),
        (
            allow_but(
                {
                    "names": ["getcwd"],
                    "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}],
                }
            ),
            "linux.seccomp.syscalls[0].args[0].value: must be between 0 and 18446744073709551615, got -1",
        ),
        (
            allow_but({"names": [], "action": "SCMP_ACT_ERRNO"}),
            "linux.seccomp.syscalls[0].names: must not be empty",
        ),
        (
            allow_but({"names": ["getcwd"], "action": "SCMP_ACT_KILL", "errnoRet": 5}),
            "linux.seccomp.syscalls[0].errnoRet: SCMP_ACT_KILL does not take an errno",
        ),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 5},
            "linux.seccomp.defaultErrnoRet: SCMP_ACT_ALLOW does not take an errno",
        ),
        (
            allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}),
            "linux.seccomp.syscalls[0].errnoRet: must be an integer between 0 and 65535",
        ),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]},
            'linux.seccomp.flags: unknown flag "SECCOMP_FILTER_FLAG_BOGUS"',
        ),
        (
            {"defaultAction": "SCMP_ACT_NOTIFY"},
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default",
        ),
        (
            allow_but({"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"}),
            "linux.seccomp.listenerPath: is required when a rule uses SCMP_ACT_NOTIFY",
        ),
        (
            allow_but({"names": ["write"], "action": "SCMP_ACT_NOTIFY"}, listenerPath="/run/agent.sock"),
            "linux.seccomp.syscalls[0].names: SCMP_ACT_NOTIFY cannot be used for write",
        ),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"},
            "linux.seccomp.listenerMetadata: must not be set without listenerPath",
        ),
        (
            allow_but(
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}],
                },
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_KILL",
                    "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}],
                },
            ),
            "linux.seccomp.syscalls[1]: personality: conflicts with an earlier rule",
        ),
        ("not a dict", "linux.seccomp: must be an object"),
        (
            allow_but({"names": ["read\0x"], "action": "SCMP_ACT_ERRNO"}),
            "linux.seccomp.syscalls[0].names: must be",
        ),
    ],
)
def test_invalid_sections(tmp_path: Path, section: Any, message: str) -> None:
    with pytest.raises(RailcarError) as ei:
        compile_(section, tmp_path)
    assert str(ei.value).startswith(message)
    assert not (tmp_path / "cache").exists() or not os.listdir(tmp_path / "cache")  # errors are never cached


@pytest.mark.skipif(sc_cache.version_tuple(sc_cache.libseccomp_file()) >= (2, 6), reason="libseccomp knows loongarch")
def test_arch_too_new_for_libseccomp(tmp_path: Path) -> None:
    with pytest.raises(
        RailcarError, match='architectures: architecture "SCMP_ARCH_LOONGARCH64" is not supported'
    ):
        compile_({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_LOONGARCH64"]}, tmp_path)


def test_canonical_encoding_is_injective_and_order_free() -> None:
    def enc(v: Any) -> bytes:
        return sc_cache.canonical(v)

    assert enc({"a": 1, "b": [1, 2]}) == enc({"b": [1, 2], "a": 1})
    distinct = [
        {"a": "b"},
        {"a": ["b"]},
        {"ab": ""},
        {"a": "1"},
        {"a": 1},
        {"a": True},
        {"a": None},
        {"a": 1.0},
        [1, 2],
        [2, 1],
        [[1], 2],
        [1, [2]],
        ["a", "b"],
        ["ab"],
        "",
        [],
        {},
    ]
    assert len({enc(v) for v in distinct}) == len(distinct)
    assert enc({"a": "\udc80"}) != enc({"a": "\udc81"})  # lone surrogates from JSON escapes survive
    with pytest.raises(RailcarError):
        enc({"a": {1, 2}})


# =================================================================================================
# The kernel's view: load into a forked child
# =================================================================================================
def test_errno_ret_reaches_the_caller(tmp_path: Path) -> None:
    prog = compile_(allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}), tmp_path)

    def body(_: int) -> Any:
        try:
            return ("cwd", os.getcwd())
        except OSError as e:
            return ("errno", e.errno, os.getpid() > 0)

    assert run_filtered(prog, body) == (0, ("errno", 38, True))


def test_errno_default_eperm(tmp_path: Path) -> None:
    prog = compile_(allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}), tmp_path)
    assert run_filtered(prog, lambda _: sys_call("getcwd", 0, 0)) == (0, (-1, errno.EPERM))


def test_argument_rule_blocks_one_value_allows_another(tmp_path: Path) -> None:
    # personality(0xffffffff) only queries; personality(PER_LINUX) is the default anyway.
    rule = {
        "names": ["personality"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": ERRNO_MARK,
        "args": [{"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_EQ"}],
    }
    prog = compile_(allow_but(rule), tmp_path)
    status, (query, setlinux) = run_filtered(
        prog, lambda _: (sys_call("personality", 0xFFFFFFFF), sys_call("personality", 0))
    )
    assert status == 0
    assert query == (-1, ERRNO_MARK)
    assert setlinux[1] == 0  # PER_LINUX went through


# The rule matches when `arg <op> value`.
OPS = {
    "SCMP_CMP_NE": lambda arg, value: arg != value,
    "SCMP_CMP_LT": lambda arg, value: arg < value,
    "SCMP_CMP_LE": lambda arg, value: arg <= value,
    "SCMP_CMP_EQ": lambda arg, value: arg == value,
    "SCMP_CMP_GE": lambda arg, value: arg >= value,
    "SCMP_CMP_GT": lambda arg, value: arg > value,
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_operators(tmp_path: Path, op: str) -> None:
    # getpgid(pid) is harmless for any pid: the rule's errno tells whether the comparison matched.
    ref = 70000
    rule = {
        "names": ["getpgid"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": ERRNO_MARK,
        "args": [{"index": 0, "value": ref, "op": op}],
    }
    prog = compile_(allow_but(rule), tmp_path)
    probes = [ref - 1, ref, ref + 1]
    status, got = run_filtered(prog, lambda _: [sys_call("getpgid", p)[1] == ERRNO_MARK for p in probes])
    assert status == 0
    assert got == [OPS[op](p, ref) for p in probes]


def test_masked_eq(tmp_path: Path) -> None:
    # value = mask, valueTwo = datum: matches when (arg & 0xff00) == 0x1200.
    rule = {
        "names": ["getpgid"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": ERRNO_MARK,
        "args": [{"index": 0, "value": 0xFF00, "valueTwo": 0x1200, "op": "SCMP_CMP_MASKED_EQ"}],
    }
    prog = compile_(allow_but(rule), tmp_path)
    probes = [0x1200, 0x12FF, 0x11FF, 0x31234, 0x34]
    status, got = run_filtered(prog, lambda _: [sys_call("getpgid", p)[1] == ERRNO_MARK for p in probes])
    assert status == 0
    assert got == [True, True, False, True, False]


def test_args_on_distinct_indexes_are_anded(tmp_path: Path) -> None:
    rule = {
        "names": ["getpriority"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": ERRNO_MARK,
        "args": [
            {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 54321, "op": "SCMP_CMP_EQ"},
        ],
    }
    prog = compile_(allow_but(rule), tmp_path)
    probes = [(0, 54321), (0, 0), (1, 54321)]
    status, got = run_filtered(prog, lambda _: [sys_call("getpriority", *p)[1] == ERRNO_MARK for p in probes])
    assert (status, got) == (0, [True, False, False])


def test_args_on_the_same_index_are_ored(tmp_path: Path) -> None:
    rule = {
        "names": ["getpgid"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": ERRNO_MARK,
        "args": [
            {"index": 0, "value": 11111, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 22222, "op": "SCMP_CMP_EQ"},
        ],
    }
    prog = compile_(allow_but(rule), tmp_path)
    probes = [11111, 22222, 33333]
    status, got = run_filtered(prog, lambda _: [sys_call("getpgid", p)[1] == ERRNO_MARK for p in probes])
    assert (status, got) == (0, [True, True, False])


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS"])
def test_kill_actions_kill_with_sigsys(tmp_path: Path, action: str) -> None:
    prog = compile_(allow_but({"names": ["getcwd"], "action": action}), tmp_path)
    status, out = run_filtered(prog, lambda _: sys_call("getcwd", 0, 0))
    assert status == -signal.SIGSYS and out is None


def test_trap_delivers_sigsys(tmp_path: Path) -> None:
    prog = compile_(allow_but({"names": ["getcwd"], "action": "SCMP_ACT_TRAP"}), tmp_path)
    seen: list[int] = []

    def body(_: int) -> Any:
        signal.signal(signal.SIGSYS, lambda signum, frame: seen.append(signum))
        sys_call("getcwd", 0, 0)
        for _ in range(100):  # let the Python-level handler run
            if seen:
                break
            time.sleep(0.001)
        return ("alive", seen)

    assert run_filtered(prog, body) == (0, ("alive", [signal.SIGSYS]))


def test_trace_without_tracer_is_enosys(tmp_path: Path) -> None:
    prog = compile_(allow_but({"names": ["getcwd"], "action": "SCMP_ACT_TRACE", "errnoRet": 5}), tmp_path)
    assert run_filtered(prog, lambda _: sys_call("getcwd", 0, 0)[1]) == (0, errno.ENOSYS)


def test_log_allows(tmp_path: Path) -> None:
    prog = compile_(
        {"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]},
        tmp_path,
    )
    assert run_filtered(prog, lambda _: (os.getpid() > 0, sys_call("getcwd", 0, 0)[1])) == (
        0,
        (True, errno.EPERM),
    )


def test_notify_gives_a_listener(tmp_path: Path) -> None:
    sec = allow_but(
        {"names": ["getpgid"], "action": "SCMP_ACT_NOTIFY"},
        listenerPath="/run/agent.sock",
        listenerMetadata="meta",
        flags=["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
    )
    prog = compile_(sec, tmp_path)
    # NEW_LISTENER and WAIT_KILLABLE_RECV; TSYNC dropped (EINVAL together with NEW_LISTENER)
    assert prog.flags == 8 | 32
    assert (prog.listener_path, prog.listener_metadata) == ("/run/agent.sock", "meta")
    assert run_filtered(prog, lambda fd: os.readlink(f"/proc/self/fd/{fd}")) == (
        0,
        "anon_inode:seccomp notify",
    )
    # again from the cache: the listener fields survive the round trip
    assert compile_(sec, tmp_path) == prog


def test_listener_fields_round_trip_any_string(tmp_path: Path) -> None:
    sec = allow_but(
        {"names": ["getpgid"], "action": "SCMP_ACT_NOTIFY"},
        listenerPath="/run/ä\udc80.sock",
        listenerMetadata="é",
    )
    first = compile_(sec, tmp_path)
    assert compile_(sec, tmp_path) == first and first.listener_path == "/run/ä\udc80.sock"
    assert len(os.listdir(tmp_path / "cache")) == 1


def test_listener_fields_empty_without_notify(tmp_path: Path) -> None:
    prog = compile_(
        allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}, listenerPath="/x.sock"), tmp_path
    )
    assert (prog.flags, prog.listener_path, prog.listener_metadata) == (0, "", "")


@pytest.mark.parametrize(
    ("flags", "bits"),
    [
        (["SECCOMP_FILTER_FLAG_TSYNC"], 1),
        (["SECCOMP_FILTER_FLAG_LOG"], 2),
        (["SECCOMP_FILTER_FLAG_SPEC_ALLOW"], 4),
        (["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"], 7),
        (["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], 0),  # no listener: nothing to wait on
    ],
)
def test_flags_load(tmp_path: Path, flags: list[str], bits: int) -> None:
    prog = compile_(allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}, flags=flags), tmp_path)
    assert prog.flags == bits
    assert run_filtered(prog, lambda r: r) == (0, 0)  # the kernel takes the program with these flags


# =================================================================================================
# Docker's default profile
# =================================================================================================
def test_docker_profile_checks_in_the_child(tmp_path: Path) -> None:
    prog = compile_(docker_section(), tmp_path)
    assert prog.flags == 0 and 100 < len(prog.bpf) // 8 <= 4096

    def body(_: int) -> Any:
        return {
            "getpid": sys_call("getpid")[1],
            "unshare": sys_call("unshare", 0x04000000)[1],  # CLONE_NEWUTS: not without CAP_SYS_ADMIN → EPERM
            "clone3": sys_call("clone3", 0, 0)[1],  # errnoRet 38: glibc falls back to clone
            "personality query": sys_call("personality", 0xFFFFFFFF)[1],
            "personality other": sys_call("personality", 0x0400000)[1],  # not in the list → EPERM
            "beyond the table": LIBC.syscall(ctypes.c_long(1000)) == -1
            and ctypes.get_errno(),  # the -ENOSYS stub
            "cwd": os.getcwd() != "",
        }

    status, got = run_filtered(prog, body)
    assert status == 0, got
    assert got == {
        "getpid": 0,
        "unshare": errno.EPERM,
        "clone3": errno.ENOSYS,
        "personality query": 0,
        "personality other": errno.EPERM,
        "beyond the table": errno.ENOSYS,
        "cwd": True,
    }


@pytest.mark.parametrize(
    ("script", "code"), [("true", 0), ("exit 7", 7), ("ls / >/dev/null && cd /tmp && pwd >/dev/null", 0)]
)
def test_docker_profile_runs_a_shell(tmp_path: Path, script: str, code: int) -> None:
    prog = compile_(docker_section(), tmp_path)

    def body(_: int) -> Any:
        os.execv("/bin/sh", ["sh", "-c", script])

    status, out = run_filtered(prog, body)
    assert (status, out) == (code, None)


_code_pages: list[Any] = []


def int80(nr: int, arg: int = 0) -> int:
    """An i386 syscall from this 64-bit process (int $0x80): the kernel reports AUDIT_ARCH_I386."""
    import mmap

    # push rbx; mov eax, nr; mov ebx, arg; int 0x80; movsxd rax, eax; pop rbx; ret
    code = (
        b"\x53\xb8"
        + nr.to_bytes(4, "little")
        + b"\xbb"
        + arg.to_bytes(4, "little")
        + b"\xcd\x80\x48\x63\xc0\x5b\xc3"
    )
    page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    _code_pages.append(page)
    return ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()  # type: ignore[no-any-return]


def ia32_works() -> bool:
    try:
        return int80(20) == os.getpid()  # i386 getpid
    except Exception:
        return False


X32 = 0x40000000


@pytest.mark.skipif(not ia32_works(), reason="no IA32 emulation in this kernel")
def test_docker_profile_other_abis(tmp_path: Path) -> None:
    # i386 and x32 calls go through their own arch branches (and the -ENOSYS stub's).
    prog = compile_(docker_section(), tmp_path)

    def body(_: int) -> Any:
        return {
            "i386 getpid": int80(20) == os.getpid(),
            "i386 unshare": int80(310, 0x04000000),
            "i386 beyond the table": int80(1000),
            "x32 unshare": sys_call_nr(X32 | 272, 0x04000000),
            "x32 beyond the table": sys_call_nr(X32 | 1000),
        }

    status, got = run_filtered(prog, body)
    assert (status, got) == (
        0,
        {
            "i386 getpid": True,
            "i386 unshare": -errno.EPERM,
            "i386 beyond the table": -errno.ENOSYS,  # the stub (the filter's default would say EPERM)
            "x32 unshare": errno.EPERM,  # the filter's x32 branch, whether or not the kernel runs x32
            "x32 beyond the table": errno.ENOSYS,
        },
    )


@pytest.mark.skipif(not ia32_works(), reason="no IA32 emulation in this kernel")
def test_unlisted_arch_is_killed(tmp_path: Path) -> None:
    prog = compile_(
        allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}, architectures=["SCMP_ARCH_X86_64"]),
        tmp_path,
    )
    status, out = run_filtered(prog, lambda _: int80(20))
    assert (status, out) == (-signal.SIGSYS, None)  # libseccomp's bad-arch action: KILL
    both = compile_(
        allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}, architectures=["SCMP_ARCH_X86"]),
        tmp_path,
    )
    assert run_filtered(both, lambda _: int80(20) > 0) == (0, True)


def sys_call_nr(nr: int, *args: int) -> int:
    """errno of a raw syscall by number (0 on success)."""
    ctypes.set_errno(0)
    r = LIBC.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    return ctypes.get_errno() if r == -1 else 0


def test_enosys_stub_only_when_refusing_by_default(tmp_path: Path) -> None:
    rule = {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}
    archs = ["SCMP_ARCH_X86_64"]
    allow = compile_(allow_but(rule, architectures=archs), tmp_path)
    assert allow.bpf[:8] == compile_(allow_but(rule), tmp_path).bpf[:8]  # no stub: ld [4] of libseccomp
    refuse = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": archs,
        "syscalls": [{"names": ["read", "getcwd"], "action": "SCMP_ACT_ALLOW"}],
    }
    stubbed = compile_(refuse, tmp_path)
    plain = compile_({**refuse, "architectures": []}, tmp_path)
    assert len(stubbed.bpf) > len(plain.bpf) and stubbed.bpf.endswith(plain.bpf)
    enosys = compile_({**refuse, "defaultErrnoRet": 38}, tmp_path)
    assert len(enosys.bpf) == len(plain.bpf)  # ERRNO(ENOSYS) already: no stub


# =================================================================================================
# The cache
# =================================================================================================
def entry_of(cache: Path) -> Path:
    (entry,) = list(cache.iterdir())
    return entry


def test_cache_hit_returns_the_same_program(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = sc.compile_profile(docker_section(), str(cache))
    entry = entry_of(cache)
    assert entry.name == sc_cache.key_of(docker_section()).hex()
    data = entry.read_bytes()
    assert data[:8] == b"RCSECBPF" and len(data) == 96 + len(first.bpf)
    assert entry.stat().st_mode & 0o777 == 0o600
    mtime = entry.stat().st_mtime_ns
    again = sc.compile_profile(docker_section(), str(cache))
    assert again == first and entry.stat().st_mtime_ns == mtime  # read, not rewritten


def test_key_ignores_dict_order_but_not_content(tmp_path: Path) -> None:
    sec = docker_section()
    reordered = dict(reversed(list(sec.items())))
    assert sc_cache.key_of(sec) == sc_cache.key_of(reordered)
    changed = docker_section()
    changed["syscalls"][2]["args"][0]["value"] = 41
    assert sc_cache.key_of(sec) != sc_cache.key_of(changed)


def corrupt_flip(p: Path, off: int) -> None:
    b = bytearray(p.read_bytes())
    b[off] ^= 0x10
    p.write_bytes(bytes(b))


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: corrupt_flip(p, p.stat().st_size - 3), id="flip-bpf-byte"),
        pytest.param(lambda p: corrupt_flip(p, 13), id="flip-flags"),
        pytest.param(lambda p: corrupt_flip(p, 40), id="flip-key"),
        pytest.param(lambda p: corrupt_flip(p, 70), id="flip-checksum"),
        pytest.param(lambda p: corrupt_flip(p, 0), id="flip-magic"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:-8]), id="truncate-insn"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:50]), id="truncate-header"),
        pytest.param(lambda p: p.write_bytes(b""), id="empty"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes() + b"\0" * 8), id="appended"),
        pytest.param(lambda p: p.chmod(0o620), id="group-writable"),
        pytest.param(lambda p: os.chown(p, 65534, 65534), id="foreign-owner"),
        pytest.param(lambda p: (p.unlink(), p.symlink_to("/etc/hostname")), id="symlink"),
        pytest.param(lambda p: (p.unlink(), os.mkfifo(p)), id="fifo"),
    ],
)
def test_bad_entry_is_removed_and_rebuilt(tmp_path: Path, damage: Callable[[Path], Any]) -> None:
    cache = tmp_path / "cache"
    good = sc.compile_profile(docker_section(), str(cache))
    entry = entry_of(cache)
    pristine = entry.read_bytes()
    damage(entry)
    again = sc.compile_profile(docker_section(), str(cache))
    assert again == good  # identical output, never the damaged bytes
    assert entry.is_file() and not entry.is_symlink() and entry.read_bytes() == pristine
    assert entry.stat().st_uid == os.geteuid() and entry.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in cache.iterdir()] == [entry.name]  # no temp files left behind


def test_unusable_cache_dir_still_compiles(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    prog = sc.compile_profile(docker_section(), str(blocker / "cache"))
    assert prog == compile_(docker_section(), tmp_path)


def test_cache_is_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sc_cache, "CACHE_MAX", 8)
    cache = tmp_path / "cache"
    for i in range(9):
        sc.compile_profile(
            allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": i + 1}), str(cache)
        )
    names = os.listdir(cache)
    newest = sc_cache.key_of(allow_but({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9})).hex()
    assert len(names) == 4 and newest in names


def _fresh_interpreter(code: str) -> subprocess.CompletedProcess[str]:
    # -S -I: the launcher's interpreter (no site); the repo on sys.path by hand.
    return subprocess.run(
        [
            sys.executable,
            "-S",
            "-I",
            "-X",
            "importtime",
            "-c",
            f"import sys; sys.path.insert(0, {str(REPO)!r})\n" + code,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


HEAVY = {
    "pyseccomp",
    "ctypes",
    "_ctypes",
    "re",
    "json",
    "typing",
    "enum",
    "hashlib",
    "_hashlib",
    "struct",
    "orjson",
    "dataclasses",
    "tempfile",
    "shutil",
    "pathlib",
    "subprocess",
    "ast",
    "inspect",
}


def test_cache_hit_imports_nothing_heavy(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    expected = sc.compile_profile(docker_section(), str(cache))  # prime (cache miss here)
    code = (
        "from railcar import jsonfast, seccomp\n"
        f"sec = jsonfast.loads(open({str(DOCKER_PROFILE)!r}, 'rb').read())\n"
        f"p = seccomp.compile_profile(sec, {str(cache)!r})\n"
        "print(len(p.bpf), p.flags, p.bpf.hex()[:64], 'pyseccomp' in sys.modules)\n"
    )
    res = _fresh_interpreter(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [str(len(expected.bpf)), "0", expected.bpf.hex()[:64], "False"]
    imported = {
        line.split("|")[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")
    }
    assert "railcar.seccomp" in imported
    assert not (imported & HEAVY), sorted(imported & HEAVY)


def test_cache_miss_in_fresh_interpreter_then_hit(tmp_path: Path) -> None:
    # Docker's profile is compiled by railcar's own emitter (emit.py): neither the miss nor the hit
    # imports pyseccomp, and both give the same program.
    cache = tmp_path / "cache"
    code = (
        "from railcar import jsonfast, seccomp\n"
        f"sec = jsonfast.loads(open({str(DOCKER_PROFILE)!r}, 'rb').read())\n"
        "sys.path.extend(%r)\n"
        f"p = seccomp.compile_profile(sec, {str(cache)!r})\n"
        "print(p.bpf.hex(), 'pyseccomp' in sys.modules)\n"
    ) % [p for p in sys.path if "site-packages" in p]
    miss, hit = _fresh_interpreter(code), _fresh_interpreter(code)
    assert miss.returncode == 0 and hit.returncode == 0, miss.stderr + hit.stderr
    assert miss.stdout.split()[1] == "False" and hit.stdout.split()[1] == "False"
    assert miss.stdout.split()[0] == hit.stdout.split()[0] == compile_(docker_section(), tmp_path).bpf.hex()


def test_warm_hit_is_fast(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    sec = docker_section()
    sc.compile_profile(sec, cache)
    best = min(_timed(lambda: sc.compile_profile(sec, cache)) for _ in range(20))
    assert best < 0.002, f"cache hit took {best * 1e3:.3f} ms"


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# =================================================================================================
# features
# =================================================================================================
def test_features() -> None:
    f = sc.features()
    assert f["enabled"] is True
    assert set(f["actions"]) == {
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    }
    assert len(f["operators"]) == 7 and "SCMP_CMP_MASKED_EQ" in f["operators"]
    assert {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"} <= set(f["archs"])
    assert f["knownFlags"] == [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]
    assert set(f["supportedFlags"]) <= set(f["knownFlags"])
    assert "SECCOMP_FILTER_FLAG_LOG" in f["supportedFlags"]  # any kernel since 4.14
    assert sc.libseccomp_version().count(".") == 2


def test_cold_compile_spawns_no_ldconfig_and_leaves_ctypes_util_real(tmp_path: Path) -> None:
    """pyseccomp's own find_library calls would import subprocess and run `ldconfig -p` twice."""
    repo = Path(__file__).resolve().parents[2]
    code = (
        "import sys, json\n"
        "from railcar import seccomp\n"
        f"prof = json.load(open({str(repo / 'tests/data/docker-default-seccomp.json')!r}))\n"
        "prof['architectures'].append('SCMP_ARCH_AARCH64')  # past emit.py: libseccomp compiles\n"
        f"seccomp.compile_profile(prof, {str(tmp_path)!r})\n"
        "print('subprocess' in sys.modules, 'pyseccomp' in sys.modules)\n"
        "import ctypes.util\n"
        "print(ctypes.util.__file__ is not None and ctypes.util.find_library('c') is not None)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "True", "True"], res.stdout


def test_pyseccomp_is_handed_the_library_the_cache_key_names() -> None:
    """compiler.import_pyseccomp: pyseccomp dlopens the very file cache.libseccomp_file() found (the
    one whose identity is in the key), and ctypes.util is left as it was."""
    code = (
        "import sys\n"
        "from railcar.seccomp import cache, compiler\n"
        "lib = cache.libseccomp_file()\n"
        "ps = compiler.import_pyseccomp(lib)\n"
        "print(bool(lib), ps._libseccomp_path == lib, 'ctypes.util' in sys.modules, 'subprocess' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "True", "False", "False"], res.stdout


def test_pyseccomp_asking_for_another_library_gets_the_real_find_library(tmp_path: Path) -> None:
    """The stand-in answers "c" and "seccomp" only: a pyseccomp that asks for anything else is
    imported the ordinary way, with the real ctypes.util, never handed None for a name it needs."""
    (tmp_path / "pyseccomp.py").write_text(
        "import ctypes.util\nASKED = ctypes.util.find_library('c')\n"
        "OTHER = ctypes.util.find_library('no_such_library_zz')\nREAL = ctypes.util.__file__\n"
    )
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "from railcar.seccomp import compiler\n"
        "ps = compiler.import_pyseccomp('/nonexistent/libseccomp.so.2')\n"
        "print(ps.ASKED is not None, ps.REAL is not None, ps.OTHER)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "True", "None"], res.stdout


def test_one_table_for_validation_compilation_and_features(tmp_path: Path) -> None:
    """Every name in railcar.seccomp.tables is accepted by config.json's validation and compiles;
    features lists exactly the tables' names."""
    from railcar.seccomp import tables

    f = sc.features()
    assert (f["actions"], f["operators"], f["knownFlags"]) == (
        sorted(tables.ACTIONS),
        sorted(tables.OPERATORS),
        list(tables.FLAGS),
    )
    assert set(f["archs"]) <= set(tables.ARCHS)
    harmless = iter(["getpgid", "getpriority", "getcwd", "personality", "umask", "getuid", "getgid", "getppid"])
    calls = [
        {"names": [name], "action": a, "args": [{"index": 0, "value": 7, "op": op}]}
        for a, name in zip([a for a in tables.ACTIONS if a != "SCMP_ACT_NOTIFY"], harmless)
        for op in tables.OPERATORS
    ]
    section = {"defaultAction": "SCMP_ACT_ALLOW", "flags": list(tables.FLAGS), "syscalls": calls,
               "architectures": [a for a in f["archs"] if a.startswith("SCMP_ARCH_X")]}
    assert compile_(section, tmp_path).bpf
