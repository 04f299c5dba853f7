"""config.json (and exec's process.json): load and validate; the schema language every section
is written in.

Each section of config.json has one module here that holds its schema, its semantic checks and
its planning into the LaunchPlan (railcar.plan): root, mounts, namespaces (with the id maps and
time offsets), devices, process (user, capabilities, rlimits, ...), lsm, uts, sysctl, hooks.
linux.seccomp is railcar.seccomp.validate's and linux.resources railcar.cgroups'. The tables
_CONFIG and _LINUX below say which module owns which key; a section's module is imported when
a config first has one of its keys.

Validation is a small interpreter over schema nodes plus a few cross-field checks. A node is one of:
  "str" | "int" | ...   a leaf type (see _LEAF)
  {key: node, "!": (required keys...)}   an object; unknown keys are kept and ignored
  [node]                a list of node
  ("range", lo, hi)     an integer in [lo, hi]
  ("enum", what, names) a string in names, else `unknown <what> "x"`
  ("names", what, names) a list of such strings (errors name the list, not the index)
  ("map", node)         an object of string keys → node
  ("and", node, fn)     node, then fn(value, field) for what types alone cannot say
  ("of", module, key)   node SCHEMA[key] of railcar.spec.<module>, imported on first use
An optional field that is null counts as absent, as Go's decoder (runc) reads it, and is dropped
from the dict so later stages can rely on `.get(key, default)`.
"""

from __future__ import annotations

import sys

from railcar import posixos as os
from railcar.errors import RailcarError, SpecError, strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

__all__ = ["DEV_MAX", "U16", "U32", "U64", "check", "check_device_number", "check_strings", "load", "unique",
           "validate"]

_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
U16, U32, U64 = 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF


# --- leaf checks ---------------------------------------------------------------------------------
def _show(v: object) -> str:
    from railcar.jsonfast import dumps

    try:
        s = dumps(v)
    except (TypeError, ValueError):
        s = type(v).__name__
    return s if len(s) <= 40 else s[:37] + "..."


def _bad(f: str, what: str, v: object) -> SpecError:
    return SpecError(f, f"must be {what}, got {_show(v)}")


def _str(v: object, f: str) -> None:
    if not isinstance(v, str):
        raise _bad(f, "a string", v)


def _bool(v: object, f: str) -> None:
    if not isinstance(v, bool):
        raise _bad(f, "a boolean", v)


def _int(v: object, f: str, lo: int = _I64_MIN, hi: int = _I64_MAX) -> None:
    # bool is an int subclass and JSON 1.0 is a float: neither is an integer to Go's decoder.
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad(f, "an integer", v)
    if v < lo or v > hi:
        raise SpecError(f, f"must be between {lo} and {hi}, got {v}")


def _abs(v: object, f: str) -> None:
    if not isinstance(v, str) or not v.startswith("/"):
        raise _bad(f, "an absolute path", v)


def _path(v: object, f: str) -> None:
    """Absolute, or "" (Go's zero value: not set)."""
    if v != "":
        _abs(v, f)


def _list_of(v: object, f: str, each: Callable[[object, str], None]) -> list:
    if not isinstance(v, list):
        raise _bad(f, "a list", v)
    for i, x in enumerate(v):
        each(x, f"{f}[{i}]")
    return v


def _list_of_str(v: object, f: str) -> None:
    if not isinstance(v, list):
        raise _bad(f, "a list of strings", v)
    try:
        "".join(v)  # a type check at C speed: seccomp profiles list hundreds of names
    except TypeError:
        i, x = next((i, x) for i, x in enumerate(v) if not isinstance(x, str))
        raise _bad(f"{f}[{i}]", "a string", x) from None


def _env(v: object, f: str) -> None:
    def one(x: object, g: str) -> None:
        # The name may hold anything but "=" and NUL; execve cannot pass a NUL.
        if not isinstance(x, str) or x.find("=") < 1 or "\0" in x:
            raise _bad(g, 'a "NAME=value" string', x)

    _list_of(v, f, one)


def _map(v: object, f: str) -> None:
    _map_of(v, f, "str")


def _map_of(v: object, f: str, node: object) -> None:
    if not isinstance(v, dict):
        raise _bad(f, "an object", v)
    for k, x in v.items():
        if not k:
            raise SpecError(f, "keys must not be empty")
        _check(x, node, f'{f}["{k}"]')


def _pos(v: object, f: str) -> None:
    _int(v, f)
    if v <= 0:
        raise SpecError(f, f"must be greater than zero, got {v}")


# The kernel's device numbers (linux/kdev_t.h, MINORBITS): a 12-bit major and a 20-bit minor. mknod
# cannot make, and no device rule can match, a number outside them; runc truncates it silently.
DEV_MAX = {"major": (1 << 12) - 1, "minor": (1 << 20) - 1}


def check_device_number(v: object, f: str, which: str, wildcard: bool = False) -> None:
    """`which` is "major" or "minor"; with `wildcard`, -1 means any (a device cgroup rule)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad(f, "an integer", v)
    if wildcard and v == -1:
        return
    hi = DEV_MAX[which]
    if not 0 <= v <= hi:
        any_ = "-1 (any) or " if wildcard else ""
        raise SpecError(f, f"must be {any_}between 0 and {hi} (the kernel's device numbers have a "
                           f"{hi.bit_length()}-bit {which}), got {v}")


_LEAF: dict[str, Callable[[object, str], None]] = {
    "str": _str, "bool": _bool, "int": _int, "abs": _abs, "path": _path, "strs": _list_of_str,
    "abss": lambda v, f: _list_of(v, f, _abs), "env": _env, "map": _map, "pos": _pos,
    "u16": lambda v, f: _int(v, f, 0, U16), "u32": lambda v, f: _int(v, f, 0, U32),
    "u64": lambda v, f: _int(v, f, 0, U64), "any": lambda v, f: None,
    "major": lambda v, f: check_device_number(v, f, "major"),
    "minor": lambda v, f: check_device_number(v, f, "minor"),
    "major*": lambda v, f: check_device_number(v, f, "major", True),
    "minor*": lambda v, f: check_device_number(v, f, "minor", True),
}


# --- the interpreter -----------------------------------------------------------------------------
def _check(v: object, node: object, f: str) -> None:
    t = type(node)
    if t is str:
        _LEAF[node](v, f)
    elif t is dict:
        _obj(v, node, f)
    elif t is list:
        sub = node[0]
        _list_of(v, f, lambda x, g: _check(x, sub, g))
    else:
        kind = node[0]
        if kind == "range":
            _int(v, f, node[1], node[2])
        elif kind == "enum":
            _name(v, f, node[1], node[2])
        elif kind == "names":
            _list_of_str(v, f)
            for x in v:
                _name(x, f, node[1], node[2])
        elif kind == "map":
            _map_of(v, f, node[1])
        elif kind == "and":
            _check(v, node[1], f)
            node[2](v, f)
        else:  # "of": a field a section's module owns
            _check(v, _section(node[1]).SCHEMA[node[2]], f)


def _name(v: object, f: str, what: str, names: object) -> None:
    if not isinstance(v, str):
        raise _bad(f, "a string", v)
    if v not in names:
        raise SpecError(f, f'unknown {what} "{v}"')


def _obj(v: object, schema: dict, f: str) -> None:
    if not isinstance(v, dict):
        raise _bad(f, "an object", v)
    pre = f + "." if f else ""
    for k in schema.get("!", ()):
        if v.get(k) is None:
            raise SpecError(pre + k, "is required")
    nulls: list[str] = []
    for k, x in v.items():  # the object's keys, not the schema's: most objects set few fields
        node = schema.get(k)
        if node is None or k == "!":
            continue
        if x is None:
            nulls.append(k)
        else:
            _check(x, node, pre + k)
    for k in nulls:
        del v[k]


def _section(name: str) -> ModuleType:
    """railcar.spec.<name>, imported on first use."""
    full = "railcar.spec." + name
    __import__(full)
    return sys.modules[full]


def unique(key: str, what: str) -> Callable[[list, str], None]:
    """For ("and", [node], unique(key, what)): no two items with the same `key`."""

    def check(items: list, f: str) -> None:
        seen: set[str] = set()
        for i, it in enumerate(items):
            if it[key] in seen:
                raise SpecError(f"{f}[{i}].{key}", f'duplicate {what} "{it[key]}"')
            seen.add(it[key])

    return check


def _resources(v: dict, f: str) -> None:
    """linux.resources: each controller module of railcar.cgroups checks its own section."""
    from railcar.cgroups import validate_resources

    validate_resources(v, f)


def _seccomp(v: dict, f: str) -> None:
    """linux.seccomp: railcar.seccomp.validate checks it, with the tables the compiler uses."""
    from railcar.seccomp.validate import validate

    validate(v, f)


# --- which module owns which key --------------------------------------------------------------
def _of(module: str, *keys: str) -> dict[str, tuple[str, str, str]]:
    return {k: ("of", module, k) for k in keys}


_LINUX = {
    **_of("namespaces", "namespaces", "uidMappings", "gidMappings", "timeOffsets"),
    **_of("devices", "devices"),
    "cgroupsPath": "str",
    "resources": ("and", "any", _resources),
    **_of("root", "rootfsPropagation", "maskedPaths", "readonlyPaths"),
    **_of("lsm", "mountLabel"),
    **_of("sysctl", "sysctl"),
    "seccomp": ("and", "any", _seccomp),
    **_of("process", "personality"),
    "intelRdt": "any",
}
_CONFIG = {
    "!": ("ociVersion", "root", "process"),
    "ociVersion": "str",
    **_of("root", "root"),
    **_of("mounts", "mounts"),
    "process": "any",  # railcar.spec.process.validate: exec's process.json shares it
    **_of("uts", "hostname", "domainname"),
    **_of("hooks", "hooks"),
    "annotations": "map",
    "linux": _LINUX,
}


# --- public --------------------------------------------------------------------------------------
def load(bundle: str) -> dict:
    """`<bundle>/config.json`, parsed and validated; raises RailcarError / SpecError."""
    from railcar.jsonfast import loads

    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise RailcarError(f"open {path}: {strerror(e.errno)}") from None
    try:
        cfg = loads(data)
    except ValueError as e:
        raise RailcarError(f"config.json: invalid JSON: {e}") from None
    except RecursionError:
        raise RailcarError("config.json: invalid JSON: nested too deeply") from None
    if isinstance(cfg, dict):
        check_strings(data, cfg, _KERNEL_KEYS)
    validate(cfg, bundle)
    return cfg


# What reaches the kernel or the process must be a C string of characters. JSON can still spell
# a NUL (\u0000), which a C string would silently cut short, and a lone surrogate (\ud800), which
# no encoding can write. Both can only be escapes, so the raw text tells whether to look at all.
_KERNEL_KEYS = ("process", "root", "hostname", "domainname", "mounts", "hooks", "linux")


def check_strings(raw: bytes, obj: dict, keys: tuple[str, ...]) -> None:
    """Raise SpecError naming the first string under obj[keys] with a NUL or a lone surrogate."""
    if b"\\u0000" not in raw and b"\\ud" not in raw and b"\\uD" not in raw:
        return
    for k in keys:
        if k in obj:
            _strings_in(obj[k], k)


def _strings_in(v: object, f: str) -> None:
    if isinstance(v, str):
        if "\0" in v:
            raise SpecError(f, "must not contain a NUL character (\\u0000)")
        if not v.isascii():
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise SpecError(f, "holds a lone surrogate escape (\\ud800-\\udfff), not a character") from None
    elif isinstance(v, dict):
        for k, x in v.items():
            g = f"{f}.{k}" if k.isidentifier() else f'{f}["{k}"]'
            _strings_in(k, g)
            _strings_in(x, g)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _strings_in(x, f"{f}[{i}]")


def validate(cfg: dict, bundle: str) -> None:
    """Every field a runtime reads; root.path is resolved against `bundle` and must be a directory.
    Null optional fields are removed from `cfg` (see the module docstring)."""
    if not isinstance(cfg, dict):
        raise RailcarError(f"config.json: must be a JSON object, got {_show(cfg)}")
    _obj(cfg, _CONFIG, "")
    from railcar.spec import namespaces, process, root

    process.validate(cfg["process"])
    root.check(cfg, bundle)
    linux = cfg.get("linux")
    if linux is not None:
        namespaces.check(linux)


def check(v: object, node: object, f: str) -> None:
    """`v` against a schema node (see the module docstring), errors naming field `f`: for the
    sections' own modules, and those validated elsewhere (linux.resources by railcar.cgroups,
    linux.seccomp by railcar.seccomp.validate)."""
    _check(v, node, f)
