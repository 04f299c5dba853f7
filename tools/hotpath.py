"""railcar's Python modules compiled with Cython, to be linked into the launcher as built-in modules.

Each railcar/**/*.py becomes C (the sources stay plain, readable Python; annotations are not read
as C types, so the compiled module behaves as the interpreted one). The launcher registers every
module in the generated table (PyImport_ExtendInittab) and its importer (csrc/hotimport.c) answers
`railcar.*` imports from it: importing them opens no file and unmarshals nothing, and their code
runs compiled. Used by setup.py (the launcher of `./build.sh` and `pip install`) and by
build-static.sh (the static binary), each with its own C compiler.

    python tools/hotpath.py OUTDIR      writes OUTDIR/<module>.c, OUTDIR/hot_inittab.c and
                                        OUTDIR/sources.txt (each C file and its compiler flags)

Cython's module init function is PyInit_<last name part>: railcar.spec.devices and
railcar.cgroups.devices would both define PyInit_devices. Each module's C is therefore compiled
with -DPyInit_<tail>=<unique symbol> (see `compile_flags`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Not compiled: the build-time generator of _grammar.py, and the build stamp the build writes
# (static/mkzip.py writes its own). Both stay importable from the package directory.
EXCLUDE = {"railcar.grammar_gen", "railcar._build_info"}
# Link order. The kernel maps a program's pages 64 KiB around each one touched ("fault-around"),
# and all of them count in RSS: so what `run` of runc's default spec imports comes first, in its
# import order (tests/integration/test_hot_imports.py checks this list against what run imports),
# then the rest, then the modules only the rarer commands import (COLD).
RUN = ("railcar", "railcar.main", "railcar.posixos", "railcar.log", "railcar.trace", "railcar.errors", "railcar.cli",
       "railcar._grammar", "railcar.commands", "railcar.commands.run", "railcar.state", "railcar.container",
       "railcar.spec", "railcar.jsonfast", "railcar.mountopts", "railcar.plan", "railcar.spec.root",
       "railcar.spec.uts", "railcar.spec.namespaces", "railcar.spec.mounts", "railcar.cgroups",
       "railcar.cgroups.files", "railcar.cgroups.devices", "railcar.spec.process", "railcar.rootless",
       "railcar.cgroups.layout", "railcar.cgroups.manager", "railcar.spec.devices", "railcar.helperplan")
COLD = ("railcar.criu", "railcar.usage", "railcar.spec.default", "railcar.seccomp.compiler",
        "railcar.seccomp.emit", "railcar.seccomp.syscalls",
        "railcar.seccomp.probe", "railcar.seccomp.bpf", "railcar.cgroups.freezer", "railcar.cgroups.oomwatch",
        "railcar.commands.checkpoint", "railcar.commands.restore", "railcar.commands.events",
        "railcar.commands.features", "railcar.commands.ps", "railcar.commands.update", "railcar.commands.pause",
        "railcar.commands.resume", "railcar.commands.spec", "railcar.commands.version", "railcar.commands.list")
DIRECTIVES = {
    "language_level": 3,
    "annotation_typing": False,      # `x: int` stays a comment to the compiler, as to CPython
    "always_allow_keywords": True,   # every function takes keywords, as a Python one does
    # functions as C functions (no code object or function object state to build at import:
    # ~5% of railcar's own work at start-up). Methods still bind (Cython wraps a class body's
    # defs); a plain function assigned in a class body would not (tests/unit/test_hotpath.py)
    "binding": False,
    "embedsignature": False,
    "emit_code_comments": False,
}


@dataclass(frozen=True)
class Module:
    name: str      # railcar.spec.devices
    source: str    # absolute path of the .py
    package: bool  # an __init__.py

    @property
    def symbol(self) -> str:
        """The init function's unique C name."""
        return "PyInit_" + self.name.replace(".", "__")

    @property
    def cython_symbol(self) -> str:
        return "PyInit_" + self.name.rsplit(".", 1)[-1]


def modules(repo: str = REPO) -> list[Module]:
    out = []
    base = os.path.join(repo, "railcar")
    for root, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and os.path.isfile(os.path.join(root, d, "__init__.py")))
        pkg = os.path.relpath(root, repo).replace(os.sep, ".")
        for fn in sorted(files):
            if not fn.endswith(".py"):
                continue
            name = pkg if fn == "__init__.py" else f"{pkg}.{fn[:-3]}"
            if name not in EXCLUDE:
                out.append(Module(name, os.path.join(root, fn), fn == "__init__.py"))
    first = {name: i for i, name in enumerate(RUN)}
    return sorted(out, key=lambda m: (first.get(m.name, len(RUN)), m.name in COLD))


def c_path(outdir: str, m: Module) -> str:
    return os.path.join(outdir, m.name + ".c")


# C compiler flags for the generated code, in both builds. -Os: the code runs about once per start,
# and every page a start touches counts in RSS; no unwind tables (nothing unwinds through this C),
# so no .eh_frame beside the code; uncompressed string tables (nothing to inflate at import); no
# dict-version caches or method unpacking (speed for loops, ~10% of the code size for us).
CFLAGS = ["-Os", "-fwrapv", "-w", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
          "-DCYTHON_COMPRESS_STRINGS=0", "-DCYTHON_USE_DICT_VERSIONS=0", "-DCYTHON_UNPACK_METHODS=0",
          "-DCYTHON_CLINE_IN_TRACEBACK=0"]


def compile_flags(m: Module) -> list[str]:
    """The module's own flags: its init function's unique name."""
    return [f"-D{m.cython_symbol}={m.symbol}"]


def generate(outdir: str, repo: str = REPO) -> list[Module]:
    """Cython each module whose C is missing or older than its source; write the inittab."""
    import Cython
    from Cython.Compiler.Main import CompilationOptions, compile_single, default_options

    os.makedirs(outdir, exist_ok=True)
    mods = modules(repo)
    # another Cython or other directives make other C from the same sources: all of it again
    stamp = f"Cython {Cython.__version__} {sorted(DIRECTIVES.items())}\n"
    fresh = _read(os.path.join(outdir, "cython.stamp")) == stamp
    stale = [m for m in mods if not fresh or _older(c_path(outdir, m), m.source)]
    for m in stale:
        opts = CompilationOptions(default_options, output_file=c_path(outdir, m), compiler_directives=DIRECTIVES,
                                  language_level=3, module_name=m.name)
        r = compile_single(m.source, opts, full_module_name=m.name)
        if r.num_errors:
            raise SystemExit(f"cython: {m.source}: {r.num_errors} errors")
    _write_if_changed(os.path.join(outdir, "cython.stamp"), stamp)
    _write_if_changed(os.path.join(outdir, "hot_inittab.c"), inittab(mods))
    # for build-static.sh: each C file with the flags it is compiled with, one per line
    _write_if_changed(os.path.join(outdir, "sources.txt"),
                      "".join(f"{c_path(outdir, m)} {' '.join(CFLAGS + compile_flags(m))}\n" for m in mods)
                      + f"{os.path.join(outdir, 'hot_inittab.c')} {' '.join(CFLAGS)}\n")
    return mods


# The C core: compiled from _core.pyx by setup.py / build-static.sh, linked into both launchers.
CORE = ("railcar._core", "PyInit__core")


def inittab(mods: list[Module]) -> str:
    entries = [(m.name, m.symbol, int(m.package)) for m in mods] + [(CORE[0], CORE[1], 0)]
    decls = "\n".join(f"PyMODINIT_FUNC {sym}(void);" for _, sym, _ in entries)
    rows = "\n".join(f'    {{"{name}", {sym}}},' for name, sym, _ in entries)
    hot = "\n".join(f'    {{"{name}", {sym}, {pkg}}},' for name, sym, pkg in entries)
    return (
        "/* generated by tools/hotpath.py: railcar's modules, compiled, as built-in modules */\n"
        '#include "hotimport.h"\n'
        f"{decls}\n"
        "struct _inittab rc_hot_modules[] = {\n"
        f"{rows}\n"
        "    {NULL, NULL},\n"
        "};\n"
        "/* for the launcher's importer (csrc/hotimport.c) */\n"
        "const struct rc_hot_module rc_hot[] = {\n"
        f"{hot}\n"
        "    {NULL, NULL, 0},\n"
        "};\n"
    )


def _older(target: str, source: str) -> bool:
    try:
        return os.stat(target).st_mtime < os.stat(source).st_mtime
    except FileNotFoundError:
        return True


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def _write_if_changed(path: str, text: str) -> None:
    if _read(path) == text:
        return
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    got = generate(sys.argv[1])
    print(f"hotpath: {len(got)} modules")
