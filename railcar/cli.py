"""argv → (globals, command, args): a matcher driven by railcar/_grammar.py.

The table is docopt's own parse of railcar/usage.py, so the grammar has one
definition; matching it here costs microseconds where importing docopt costs
~9 ms on every call.  docopt itself prints help and words usage errors.
"""

from __future__ import annotations

from railcar.errors import RailcarError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OptSpec = "tuple[str | None, str | None, int, Any]"


class Globals:
    """The global options, as attributes."""

    __slots__ = ("root", "log", "log_format", "debug", "systemd_cgroup", "rootless", "criu", "trace", "no_init")

    def __init__(self, opts: dict[str, Any]) -> None:
        root = opts["--root"]
        if root is None:  # not given: runc's default, $XDG_RUNTIME_DIR's for a non-root user
            from railcar import rootless

            root, xdg = rootless.default_root()
            if xdg:
                rootless.make_xdg_root(root)
        self.root: str = root
        self.log: str | None = opts["--log"]
        self.log_format: str = opts["--log-format"]
        self.debug: bool = bool(opts["--debug"])
        self.systemd_cgroup: bool = bool(opts["--systemd-cgroup"])
        self.rootless: str = opts["--rootless"]
        self.criu: str = opts["--criu"]
        self.trace: bool = bool(opts["--trace-startup"])
        self.no_init: bool = bool(opts["--no-init"])


class UsageError(RailcarError):
    pass


def _index(options: list) -> tuple[dict[str, tuple], dict[str, Any]]:
    by_flag: dict[str, tuple] = {}
    defaults: dict[str, Any] = {}
    for short, long, argc, value in options:
        key = long or short
        for f in (short, long):
            if f:
                by_flag[f] = (key, argc)
        defaults[key] = list(value) if argc == 2 else value
    return by_flag, defaults


# strconv.ParseBool's spellings, which runc's flags take after "="
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _take(
    argv: list[str], i: int, by_flag: dict[str, tuple], out: dict[str, Any], unknown_ok: bool
) -> int:
    """Consume the option at argv[i] (with its value); return the next index."""
    tok = argv[i]
    if tok.startswith("--"):
        name, eq, val = tok.partition("=")
        spec = by_flag.get(name)
        if spec is None:
            # a unique prefix of a long option is accepted, as docopt does
            cands = [f for f in by_flag if f.startswith(name) and f.startswith("--")]
            if len(cands) == 1:
                spec = by_flag[cands[0]]
        if spec is None:
            if unknown_ok:
                return i + 1
            raise UsageError(f"flag provided but not defined: {name}")
        key, argc = spec
        if argc == 0:
            if not eq:
                out[key] = True
            elif val in _TRUE or val in _FALSE:  # Go's flag package: --detach=true
                out[key] = val in _TRUE
            else:
                raise UsageError(f'invalid boolean value "{val}" for {name}')
            return i + 1
        return _store(argv, i, name, val if eq else None, key, argc, out)
    # short options, possibly stacked: -ad, -b dir, -bdir
    j = 1
    while j < len(tok):
        flag = "-" + tok[j]
        spec = by_flag.get(flag)
        if spec is None:
            if unknown_ok:
                return i + 1
            raise UsageError(f"flag provided but not defined: {flag}")
        key, argc = spec
        if argc == 0:
            out[key] = True
            j += 1
            continue
        return _store(argv, i, flag, tok[j + 1 :] or None, key, argc, out)
    return i + 1


def _store(argv: list[str], i: int, flag: str, val: str | None, key: str, argc: int, out: dict[str, Any]) -> int:
    """An option's value: `val` when the token held it (--root=/r, -b/dir), else the next
    argument. A repeatable option (argc 2) collects its values. Returns the next index."""
    if val is None:
        if i + 1 >= len(argv):
            raise UsageError(f"{flag} requires an argument")
        i += 1
        val = argv[i]
    if argc == 2:
        out[key].append(val)
    else:
        out[key] = val
    return i + 1


def parse(argv: list[str]) -> tuple[Globals, str, dict[str, Any]]:
    """Match argv (without the program name). Raises UsageError on bad input."""
    from railcar import _grammar

    gflags, gopts = _index(_grammar.GLOBAL_OPTIONS)
    gopts["--root"] = None  # Globals picks the default (railcar.rootless.default_root)
    commands = _grammar.COMMANDS
    i, n = 0, len(argv)
    while i < n and argv[i].startswith("-") and argv[i] != "-":
        tok = argv[i]
        if tok.split("=")[0] in gflags or (not tok.startswith("--") and tok[1:2] in "vh"):
            i = _take(argv, i, gflags, gopts, False)
            continue
        # unknown global flag (a newer client's): never refuse to run; skip its
        # value too when the next word is not a command
        i += 1
        if "=" not in tok and i < n and argv[i] not in commands and not argv[i].startswith("-"):
            i += 1
    g = Globals(gopts)
    if gopts["--version"]:
        return g, "version", {}
    if gopts["--help"] or i >= n:
        return g, "help", {"topic": None}
    cmd = argv[i]
    if cmd not in commands:
        raise UsageError(f"unknown command {cmd!r}; see 'railcar --help'")
    options, positionals = commands[cmd]
    cflags, args = _index(options)
    pos: list[str] = []
    stop = cmd in ("exec", "ps")
    i += 1
    while i < n:
        tok = argv[i]
        if stop and len(pos) >= 2:  # exec ID CMD ...: the command's own words, "--" included
            pos.extend(argv[i:])
            break
        if tok == "--":
            pos.extend(argv[i + 1 :])
            break
        if tok.startswith("-") and tok != "-" and not (stop and pos):
            i = _take(argv, i, cflags, args, False)
            continue
        pos.append(tok)
        i += 1
    if args.get("--help"):
        return g, "help", {"topic": cmd}
    k = 0
    for name, many in positionals:
        if many:
            args[name] = pos[k:]
            k = len(pos)
        elif k < len(pos):
            args[name] = pos[k]
            k += 1
        else:
            args[name] = None
    if k < len(pos):
        raise UsageError(f"{cmd}: unexpected argument {pos[k]!r}")
    if "<id>" in args and not args["<id>"]:
        raise UsageError(f'"{cmd}" requires a container id')
    return g, cmd, args


def print_help(topic: str | None) -> None:
    from railcar import usage

    print(usage.COMMANDS[topic] if topic else usage.GLOBAL, end="")


def preserve(args: dict) -> int:
    """--preserve-fds N (create, run, exec): N, once fds 3..3+N-1 are checked to be the caller's.
    Here, not in a command's module: run and exec need it without importing create."""
    v = args.get("--preserve-fds") or "0"
    if not v.isdigit():
        raise RailcarError(f"--preserve-fds: not a number: {v!r}")
    n = int(v)
    if n:
        check_caller_fds(n)
    return n


def check_caller_fds(n: int) -> None:
    """Every preserved fd must be the caller's: a gap in 3..3+n-1 would be taken by an fd the
    runtime opens (a cgroup file, a socket) and handed to the container. The launcher counts
    the caller's fds before it opens anything; without it (railcar run as a module) they are
    checked here, which cannot tell the caller's from the interpreter's."""
    import sys

    from railcar import posixos as os

    have = getattr(sys, "_railcar_caller_fds", None)
    for i in range(n):
        fd = 3 + i
        if have is not None:
            ok = fd < 3 + have
        else:
            try:
                os.fstat(fd)
                ok = True
            except OSError:
                ok = False
        if not ok:
            raise RailcarError(f"unable to stat preserved-fd {i} (of {n}): fd {fd} is not open "
                               "in the caller (--preserve-fds passes fds 3..3+N-1)")
