"""`linux.seccomp`: the one validation of the section, and the Profile the compiler reads.

railcar.spec calls `validate` when it loads config.json (every create and run), and the compiler
calls it again on a cache miss (compile_profile may be handed a section nobody checked). Two
passes, one place:
- SCHEMA: types and names, in railcar.spec's schema language, so the errors read as every config
  error does (`linux.seccomp.syscalls[1].names: must not be empty`), and nulls are dropped as
  everywhere in config.json;
- then what types alone cannot say, as runc and libseccomp would refuse it: an errno on an action
  that takes none, errnoRet above 16 bits, SCMP_ACT_NOTIFY rules and their listener fields.
Names come from tables.py; no libseccomp here.
"""

from __future__ import annotations

from railcar.errors import SpecError
from railcar.seccomp.tables import ACTIONS, ARCHS, CMP_MASKED_EQ, FLAGS, OPERATORS, RET_USER_NOTIF
from railcar.spec import check

__all__ = ["FIELD", "SCHEMA", "Profile", "Rule", "validate"]

FIELD = "linux.seccomp"
_EPERM = 1  # errno.EPERM: what ERRNO and TRACE return when errnoRet is not given


def _nonempty(v: list, f: str) -> None:
    if not v:
        raise SpecError(f, "must not be empty")


SCHEMA = {
    "!": ("defaultAction",),
    "defaultAction": ("enum", "action", ACTIONS),
    "defaultErrnoRet": "u32",
    "architectures": ("names", "architecture", ARCHS),
    "flags": ("names", "flag", FLAGS),
    "listenerPath": "str",
    "listenerMetadata": "str",
    "syscalls": [{
        "!": ("names", "action"),
        "names": ("and", "strs", _nonempty),
        "action": ("enum", "action", ACTIONS),
        "errnoRet": "u32",
        "args": [{"!": ("index", "value", "op"), "index": ("range", 0, 5), "value": "u64",
                  "valueTwo": "u64", "op": ("enum", "operator", OPERATORS)}],
    }],
}


class Rule:
    """One entry of `syscalls`: its names, the SECCOMP_RET_* value (errno included) and the
    argument comparisons as libseccomp takes them."""

    __slots__ = ("index", "names", "action", "conds", "split")

    def __init__(self, index: int, names: list[str], action: int, conds: list[tuple[int, int, int, int]]) -> None:
        self.index = index  # in `syscalls`, for error messages
        self.names = names
        self.action = action
        self.conds = conds  # (arg index, op, datum_a, datum_b)
        # runc: several comparisons on one argument are OR'ed (one rule each), else AND'ed.
        idx = [c[0] for c in conds]
        self.split = len(set(idx)) != len(idx)


class Profile:
    """The section, checked, in the compiler's terms."""

    __slots__ = ("default", "archs", "flags", "rules", "listener_path", "listener_metadata", "notify")

    def __init__(self, default: int, archs: list[tuple[str, int]], flags: int, rules: list[Rule],
                 listener_path: str, listener_metadata: str, notify: bool) -> None:
        self.default = default  # SECCOMP_RET_* value
        self.archs = archs  # (SCMP_ARCH_* name, token), in the profile's order
        self.flags = flags  # the SECCOMP_FILTER_FLAG_* bits the profile asks for
        self.rules = rules
        self.listener_path = listener_path
        self.listener_metadata = listener_metadata
        self.notify = notify  # some rule is SCMP_ACT_NOTIFY


def _action(name: str, errno_ret: int | None, at: str, errno_key: str) -> int:
    """The SECCOMP_RET_* value of action `name` with its errno; errors name `<at>.<errno_key>`."""
    base, takes_errno = ACTIONS[name]
    if takes_errno:
        if errno_ret is None:
            return base | _EPERM
        if errno_ret > 0xFFFF:
            raise SpecError(f"{at}.{errno_key}", "must be an integer between 0 and 65535")
        return base | errno_ret
    if errno_ret is not None:
        # runtime-spec: "When the action doesn't support an errno, the runtime MUST ... fail."
        raise SpecError(f"{at}.{errno_key}", f"{name} does not take an errno")
    return base


def validate(section: object, field: str = FIELD) -> Profile:
    """Check `section` (nulls are removed from it) and read it; raises SpecError naming the field."""
    check(section, SCHEMA, field)
    sec: dict = section  # type: ignore[assignment]  # the schema has made sure
    default = _action(sec["defaultAction"], sec.get("defaultErrnoRet"), field, "defaultErrnoRet")
    if default == RET_USER_NOTIF:
        # The helper's own calls (sending the listener fd) would be notified before anyone listens.
        raise SpecError(f"{field}.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
    archs = [(a, ARCHS[a][0]) for a in sec.get("architectures", ())]
    flags = 0
    for name in sec.get("flags", ()):
        flags |= FLAGS[name]
    lpath = sec.get("listenerPath", "")
    lmeta = sec.get("listenerMetadata", "")
    if lmeta and not lpath:
        raise SpecError(f"{field}.listenerMetadata", "must not be set without listenerPath")

    rules: list[Rule] = []
    notify = False
    for i, call in enumerate(sec.get("syscalls", ())):
        at = f"{field}.syscalls[{i}]"
        names = call["names"]
        if "" in names or "\0" in "".join(names):
            raise SpecError(f"{at}.names", "must be a non-empty array of syscall names")
        act = _action(call["action"], call.get("errnoRet"), at, "errnoRet")
        if act == RET_USER_NOTIF:
            notify = True
            for bad in ("write", "sendmsg"):
                # runc refuses write; our helper hands the listener fd over with sendmsg.
                if bad in names:
                    raise SpecError(f"{at}.names", f"SCMP_ACT_NOTIFY cannot be used for {bad}")
        conds = []
        for arg in call.get("args", ()):
            op = OPERATORS[arg["op"]]
            # MASKED_EQ: value is the mask, valueTwo the datum (libseccomp's order).
            conds.append((arg["index"], op, arg["value"], arg.get("valueTwo", 0) if op == CMP_MASKED_EQ else 0))
        rules.append(Rule(i, names, act, conds))
    if notify and not lpath:
        raise SpecError(f"{field}.listenerPath", "is required when a rule uses SCMP_ACT_NOTIFY")
    return Profile(default, archs, flags, rules, lpath, lmeta, notify)
