"""devices: linux.resources.devices, runc's default rules appended (specconv.AllowedDevices).

The rules go through the v1 controller's semantics (`emulate`, below: the kernel's v1 rules run
in Python); the result is written to devices.allow / devices.deny on v1, or compiled to an eBPF
program (program.py) that the C core attaches to the unified directory on v2, so both versions
enforce the same. Set when a container is made, never by `update`.
"""

from __future__ import annotations

from railcar.cgroups.files import errtext, read_opt, write, write_each
from railcar.errors import RailcarError, SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups.manager import Manager

    Rule = tuple[bool, str, int, int, int]  # (allow, type, major, minor, access bits); -1: any number
    Key = tuple[str, int, int]  # (type, major, minor)

# access bits, as in BPF_DEVCG_ACC_*
ACC_M, ACC_R, ACC_W = 1, 2, 4
ACC_ALL = ACC_M | ACC_R | ACC_W

SCHEMA = [{"!": ("allow",), "allow": "bool", "type": "str", "major": "major*", "minor": "minor*",
           "access": "str"}]

# (allow, type, major, minor, access bits); -1 is a wildcard
DEFAULT_RULES: tuple[Rule, ...] = (
    (True, "c", -1, -1, ACC_M),      # mknod of any char device
    (True, "b", -1, -1, ACC_M),      # mknod of any block device
    (True, "c", 1, 3, ACC_ALL),      # /dev/null
    (True, "c", 1, 8, ACC_ALL),      # /dev/random
    (True, "c", 1, 7, ACC_ALL),      # /dev/full
    (True, "c", 5, 0, ACC_ALL),      # /dev/tty
    (True, "c", 1, 5, ACC_ALL),      # /dev/zero
    (True, "c", 1, 9, ACC_ALL),      # /dev/urandom
    (True, "c", 136, -1, ACC_ALL),   # /dev/pts/*
    (True, "c", 5, 2, ACC_ALL),      # /dev/ptmx
    (True, "c", 10, 200, ACC_ALL),   # /dev/net/tun
)


def parse(rules: list, f: str) -> tuple[str, list[Rule]]:
    """(field, the rules as tuples); always a value: no rules still means runc's defaults."""
    out: list[Rule] = []
    for i, r in enumerate(rules):
        t = r.get("type") or "a"
        if t not in ("a", "b", "c"):
            raise SpecError(f"{f}[{i}].type", f'must be "a", "b" or "c", got {t!r}')
        access = r.get("access") or "rwm"
        if any(c not in "rwm" for c in access):
            raise SpecError(f"{f}[{i}].access", f"must be a combination of r, w, m; got {access!r}")
        major, minor = r.get("major"), r.get("minor")
        out.append((r["allow"], t, -1 if major is None or major < 0 else major,
                    -1 if minor is None or minor < 0 else minor, access_bits(access)))
    return f, out


def rule_text(key: Key, bits: int) -> str:
    """A v1 devices.allow / devices.deny line: `c 1:3 rwm`, `b *:* m`."""
    t, major, minor = key
    return f"{t} {'*' if major < 0 else major}:{'*' if minor < 0 else minor} {access_text(bits)}"


def apply(m: Manager, cfg: tuple[str, list[Rule]], create: bool) -> None:
    if not create:
        return
    f, rules = cfg
    default_allow, exc = emulate([*rules, *DEFAULT_RULES])
    d = m.v1.get("devices")
    if d:
        _set_v1(f, d, default_allow, exc)
    elif m.v2:
        if default_allow and not exc:
            return
        from railcar import _core
        from railcar.cgroups.devices.program import assemble

        try:
            _core.attach_device_filter(m.v2, assemble(default_allow, exc))
        except OSError as e:
            raise RailcarError(f"{f}: load eBPF device filter into {m.v2}: {errtext(e)}") from None
    elif rules and not (default_allow and not exc):
        raise RailcarError(f"{f}: the devices cgroup controller is not available on this host")


def _set_v1(f: str, d: str, default_allow: bool, exc: dict[Key, int]) -> None:
    if default_allow:
        if not exc and (read_opt(d + "/devices.list") or "").split() == ["a", "*:*", "rwm"]:
            return
        write(f, d, "devices.allow", "a")
        target = "devices.deny"
    else:
        write(f, d, "devices.deny", "a")
        target = "devices.allow"
    write_each(f, d, target, [rule_text(key, bits) for key, bits in exc.items()])


# -- the v1 semantics ------------------------------------------------------------------------


def access_bits(access: str) -> int:
    return (ACC_R if "r" in access else 0) | (ACC_W if "w" in access else 0) | (ACC_M if "m" in access else 0)


def access_text(bits: int) -> str:
    return ("r" if bits & ACC_R else "") + ("w" if bits & ACC_W else "") + ("m" if bits & ACC_M else "")


def emulate(rules: list[Rule]) -> tuple[bool, dict[Key, int]]:
    """Run rules through the v1 devices controller's semantics.

    Returns (default_allow, exceptions): a type "a" rule resets everything to allow-all or
    deny-all; a rule with the default's action removes access bits from the exception with the
    same key; a rule with the other action adds (merges) an exception. It starts from deny-all,
    as runc's emulator does: a config without rules gets runc's default list and nothing more.
    """
    default_allow = False
    exc: dict[Key, int] = {}
    for allow, t, major, minor, bits in rules:
        if t == "a":
            default_allow = allow
            exc = {}
            continue
        key = (t, major, minor)
        if allow == default_allow:
            cur = exc.get(key)
            if cur is not None:
                cur &= ~bits
                if cur:
                    exc[key] = cur
                else:
                    del exc[key]
        else:
            exc[key] = exc.get(key, 0) | bits
    return default_allow, exc
