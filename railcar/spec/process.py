"""process (args, env, cwd, user, capabilities, rlimits, noNewPrivileges, oomScoreAdj, terminal,
consoleSize, ioPriority, ...) and linux.personality: config.json's process, and exec's process.json,
which shares it. (apparmorProfile and selinuxLabel: railcar.spec.lsm.)

Planned in two parts: what the C child does before the helper (the program to look up, its
environment, cwd, umask, rlimits, oom score, terminal) into the LaunchPlan, and what the helper
does last (argv, user and groups, capabilities, no_new_privs) into the helper plan."""

from __future__ import annotations

from railcar.errors import SpecError
from railcar.plan import enc
from railcar.spec import check, unique

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.helperplan import HelperPlan
    from railcar.plan import LaunchPlan

# linux/capability.h: name → bit number
CAPS: dict[str, int] = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}
# asm-generic/resource.h (x86_64 uses the generic numbers): name → resource
RLIMITS: dict[str, int] = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")  # the order of HP_CAPS


def _rlimit(r: dict, f: str) -> None:
    if r["soft"] > r["hard"]:
        raise SpecError(f"{f}.soft", f"{r['soft']} is greater than hard ({r['hard']})")


def _lsm(key: str) -> tuple:
    return ("of", "lsm", key)


_CAPS = ("names", "capability", CAPS)
PROCESS = {
    "!": ("cwd",),
    "terminal": "bool",
    "consoleSize": {"!": ("height", "width"), "height": "u32", "width": "u32"},
    "user": {"uid": "u32", "gid": "u32", "umask": "u32", "additionalGids": ["u32"], "username": "str"},
    "args": "strs",
    "commandLine": "str",
    "env": "env",
    "cwd": "abs",
    "capabilities": {k: _CAPS for k in _CAP_SETS},
    "rlimits": ("and", [("and", {"!": ("type", "hard", "soft"), "type": ("enum", "rlimit", RLIMITS),
                                 "hard": "u64", "soft": "u64"}, _rlimit)], unique("type", "rlimit")),
    "noNewPrivileges": "bool",
    "apparmorProfile": _lsm("apparmorProfile"),
    "selinuxLabel": _lsm("selinuxLabel"),
    "oomScoreAdj": ("range", -1000, 1000),
    "ioPriority": {"!": ("class",), "priority": ("range", 0, 7),
                   "class": ("enum", "I/O priority class",
                             ("IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"))},
}
SCHEMA = {
    "personality": {"!": ("domain",), "domain": ("enum", "personality domain", ("LINUX", "LINUX32")),
                    "flags": "strs"},
}


def validate(proc: dict, field: str = "process") -> None:
    """The process object alone (config.json's `process`, or exec's --process file)."""
    args = proc.get("args") if isinstance(proc, dict) else None
    if isinstance(proc, dict) and (not isinstance(args, list) or not args):
        raise SpecError(f"{field}.args", "must be a non-empty list")
    check(proc, PROCESS, field)


def plan(proc: dict[str, Any], lp: LaunchPlan) -> None:
    """What the C child sets up for the program: its lookup, environment, cwd, umask, rlimits,
    oom score, terminal."""
    lp.exe = enc(proc["args"][0])
    env = proc.get("env") or []
    lp.env = [enc(e) for e in env]
    if not any(e.startswith("HOME=") for e in env):
        lp.home_uid = (proc.get("user") or {}).get("uid", 0)
    path = next((e[5:] for e in env if e.startswith("PATH=")), None)
    lp.path_env = enc(path if path is not None else DEFAULT_PATH)
    lp.cwd = enc(proc.get("cwd") or "/")
    umask = (proc.get("user") or {}).get("umask")
    lp.umask = 0o022 if umask is None else umask
    for r in proc.get("rlimits") or []:
        lp.rlimits.append((RLIMITS[r["type"]], r["soft"], r["hard"]))
    if "oomScoreAdj" in proc:
        lp.oom_score_adj = enc(str(proc["oomScoreAdj"]))
    if proc.get("terminal"):
        lp.terminal = 1
        size = proc.get("consoleSize") or {}
        lp.rows, lp.cols = size.get("height", 0), size.get("width", 0)


def caps_mask(names: list[str] | None) -> int:
    m = 0
    for n in names or []:
        m |= 1 << CAPS[n]
    return m


def host_bounding() -> int:
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"CapBnd:"):
                return int(line.split()[1], 16)
    return (1 << 64) - 1


def helper(proc: dict[str, Any], hp: HelperPlan) -> None:
    """What the helper applies right before exec: argv, uid, gid, groups, the capability sets,
    no_new_privs. A capability the runtime itself lacks is an error, never silently dropped."""
    from railcar.helperplan import HP_ARGV, HP_CAPS, HP_GID, HP_GROUPS, HP_NNP, HP_UID

    user = proc.get("user") or {}
    hp.strings(HP_ARGV, proc["args"])
    hp.u32(HP_UID, user.get("uid", 0))
    hp.u32(HP_GID, user.get("gid", 0))
    hp.u32s(HP_GROUPS, user.get("additionalGids") or [])
    # absent means none at all, as runc: a config that says nothing about capabilities must not
    # run with every capability the runtime has
    caps = proc.get("capabilities") or {}
    sets = [caps_mask(caps.get(k)) for k in _CAP_SETS]
    missing = (sets[0] | sets[2]) & ~host_bounding()
    if missing:
        names = [n for n, v in CAPS.items() if missing & (1 << v)]
        raise SpecError("process.capabilities",
                        f"{', '.join(sorted(names))} not in the runtime's own bounding set "
                        "(the host does not grant it)")
    hp.u64s(HP_CAPS, sets)
    hp.u32(HP_NNP, 1 if proc.get("noNewPrivileges") else 0)
