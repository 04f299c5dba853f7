"""The Python half of the static railcar: the zip appended to the executable, and a frozen-module
table for the start-up path.

Run by the static interpreter itself (its marshal format and magic number are the ones that will
load the code).  Only .pyc files go in the zip, deflated (only commands off the start-up path read
it; zlib is built in): with no source beside them zipimport checks nothing.  The stdlib part is
what railcar can import -- a modulefinder closure over railcar and the libraries, plus packages
imported by name at run time (encodings).

railcar's own modules are not here: they are compiled into the executable (tools/hotpath.py).

zipimport parses the whole zip directory (~4 us an entry, in Python) on the first import from it
and reopens the file for each module: ~2 ms on every start.  So the modules every start needs --
what the interpreter imports at start-up, and railcar's modules with what they import at module
level (heavy imports sit inside functions, see docs/internals.md) -- are frozen into the
executable instead (PyImport_FrozenModules, found before sys.path), and left out of the zip.  A
command that stays on that path never opens the zip.

    python3.11 static/mkzip.py OUTDIR STDLIB_DIR REPO DOCOPT_PY ORJSON_PY COMMIT
writes OUTDIR/railcar.zip, OUTDIR/frozen.bin (marshalled code) and OUTDIR/frozen.c (the table).
"""

from __future__ import annotations

import _imp
import ast
import importlib.util
import marshal
import modulefinder
import os
import sys
import zipfile

# Imported by name at run time, so no static analysis finds them.
RUNTIME_PACKAGES = ("encodings",)
RUNTIME_MODULES = ("_strptime", "_pydecimal")  # and _sysconfigdata_*, named after the platform
# What the interpreter imports while starting (stdio and file-system codecs: ascii in the C locale).
STARTUP = ("encodings", "encodings.aliases", "encodings.ascii", "encodings.utf_8", "encodings.latin_1")
# Never useful inside a runtime with no site, no tk, no test suite.
EXCLUDE_TOP = {
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "lib2to3",
    "ensurepip",
    "pydoc_data",
    "distutils",
    "venv",
    "turtle",
    "__phello__",
    "__hello__",
    "site-packages",
    "sqlite3",
    "curses",
    "dbm",
    "msilib",
    "_bootsubprocess",
    "_aix_support",
    "_osx_support",
    "antigravity",
    "this",
    "idle",
}


class Sources:
    """Module name -> (source path, is package), over the stdlib and railcar's own files."""

    def __init__(self, stdlib: str, repo: str, docopt_py: str, orjson_py: str, build_info: str) -> None:
        self.stdlib = stdlib
        self.extra = {
            "docopt": (docopt_py, False),
            "orjson": (orjson_py, False),
            "railcar._build_info": (build_info, False),
        }
        self.railcar = os.path.join(repo, "railcar")

    def find(self, name: str) -> tuple[str, bool] | None:
        if name in self.extra:
            return self.extra[name]
        parts = name.split(".")
        if parts[0] in EXCLUDE_TOP:
            return None
        base = os.path.dirname(self.railcar) if parts[0] == "railcar" else self.stdlib
        rel = os.path.join(base, *parts)
        if os.path.isfile(os.path.join(rel, "__init__.py")):
            return os.path.join(rel, "__init__.py"), True
        if os.path.isfile(rel + ".py"):
            return rel + ".py", False
        return None

    @staticmethod
    def submodules(init_py: str) -> list[str]:
        d = os.path.dirname(init_py)
        return sorted(
            fn[:-3] if fn.endswith(".py") else fn
            for fn in os.listdir(d)
            if (fn.endswith(".py") and fn != "__init__.py") or os.path.isfile(os.path.join(d, fn, "__init__.py"))
        )

    def railcar_modules(self) -> list[str]:
        names = []
        for root, dirs, files in os.walk(self.railcar):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            pkg = os.path.relpath(root, os.path.dirname(self.railcar)).replace(os.sep, ".")
            for fn in sorted(files):
                if fn == "__init__.py":
                    names.append(pkg)
                elif fn.endswith(".py"):
                    names.append(f"{pkg}.{fn[:-3]}")
        return names + ["railcar._build_info"]


def compile_module(path: str, name: str) -> bytes:
    """Marshalled code; file names say where the code came from without pointing at the disk."""
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, f"<railcar-static>/{name.replace('.', '/')}.py", "exec", dont_inherit=True)
    return marshal.dumps(code)


def module_level_imports(path: str, name: str, is_pkg: bool) -> set[str]:
    """Modules a module imports when it is imported: not inside functions, not under
    `if TYPE_CHECKING:`.  Candidates only (`from a import b` yields a and a.b)."""
    with open(path, "rb") as f:
        tree = ast.parse(f.read())
    pkg = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                for n in child.orelse:
                    walk_stmt(n)
                continue
            walk_stmt(child)

    def walk_stmt(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.rsplit(".", node.level - 1)[0] if node.level > 1 else pkg
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
        else:
            walk(node)

    walk(tree)
    # importing a.b.c imports a and a.b first
    return {".".join(n.split(".")[:i]) for n in found if n for i in range(1, n.count(".") + 2)}


def startup_set(src: Sources) -> dict[str, tuple[str, bool]]:
    """Start-up modules and railcar's modules, closed over module-level imports."""
    todo = [*STARTUP, *src.railcar_modules()]
    done: dict[str, tuple[str, bool]] = {}
    while todo:
        name = todo.pop()
        if name in done or _imp.is_builtin(name) or _imp.is_frozen(name):
            continue
        where = src.find(name)
        if where is None:
            continue
        done[name] = where
        todo.extend(module_level_imports(where[0], name, where[1]))
        if where[1]:
            # A frozen package's __path__ is empty: its submodules are found only if frozen too.
            todo.extend(f"{name}.{sub}" for sub in src.submodules(where[0]))
    return done


def cold_set(src: Sources, roots: list[str]) -> set[str]:
    """Every stdlib module reachable by any import statement (module level or in a function)."""
    finder = modulefinder.ModuleFinder(path=[src.stdlib], excludes=sorted(EXCLUDE_TOP))
    for r in roots:
        finder.run_script(r)
    names = set(finder.modules) | set(RUNTIME_MODULES)
    names.update(fn[:-3] for fn in os.listdir(src.stdlib) if fn.startswith("_sysconfigdata_") and fn.endswith(".py"))
    for pkg in RUNTIME_PACKAGES:
        for fn in os.listdir(os.path.join(src.stdlib, pkg)):
            if fn.endswith(".py") and fn != "__init__.py":
                names.add(f"{pkg}.{fn[:-3]}")
        names.add(pkg)
    return names


def write_frozen(outdir: str, mods: dict[str, bytes], is_pkg: dict[str, bool]) -> None:
    blob = os.path.join(outdir, "frozen.bin")
    rows = []
    off = 0
    with open(blob, "wb") as f:
        for name in sorted(mods):
            f.write(mods[name])
            rows.append(f'    {{"{name}", rc_frozen_blob + {off}, {len(mods[name])}, {int(is_pkg[name])}, NULL}},')
            off += len(mods[name])
    with open(os.path.join(outdir, "frozen.c"), "w") as f:
        f.write(
            "/* generated by static/mkzip.py: railcar's start-up modules, frozen */\n"
            "#include <Python.h>\n"
            '__asm__(".section .rodata\\n.balign 16\\n.global rc_frozen_blob\\nrc_frozen_blob:\\n'
            f'.incbin \\"{blob}\\"\\n.previous\\n");\n'
            "extern const unsigned char rc_frozen_blob[];\n"
            "const struct _frozen rc_frozen_modules[] = {\n" + "\n".join(rows) + "\n    {NULL, NULL, 0, 0, NULL},\n};\n"
        )


def main(argv: list[str]) -> int:
    outdir, stdlib, repo, docopt_py, orjson_py, commit = argv[:6]
    build_info = os.path.join(outdir, "_build_info.py")
    with open(build_info, "w") as f:
        f.write(f"COMMIT = {commit!r}\nSTATIC = True\n")
    src = Sources(stdlib, repo, docopt_py, orjson_py, build_info)

    hot = startup_set(src)
    railcar = src.railcar_modules()
    # railcar's modules compiled into the executable (tools/hotpath.py) need neither a frozen
    # copy nor one in the zip; their imports are still walked above for the stdlib they need
    sys.path.insert(0, os.path.join(repo, "tools"))
    import hotpath

    compiled = {m.name for m in hotpath.modules(repo)}
    roots = [src.find(n)[0] for n in railcar] + [docopt_py, orjson_py]  # type: ignore[index]
    every = set(railcar) | {"docopt", "orjson"} | cold_set(src, roots)

    frozen: dict[str, bytes] = {}
    is_pkg: dict[str, bool] = {}
    tmp = os.path.join(outdir, "railcar.zip.tmp")
    zcount = 0
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name in sorted(every | set(hot)):
            where = src.find(name)
            if where is None or _imp.is_builtin(name) or _imp.is_frozen(name) or name in compiled:
                continue
            code = compile_module(where[0], name)
            if name in hot:
                frozen[name], is_pkg[name] = code, where[1]
                continue
            arc = name.replace(".", "/") + ("/__init__" if where[1] else "") + ".pyc"
            info = zipfile.ZipInfo(arc, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            # a timestamp pyc with mtime 0: zipimport checks nothing when the zip holds no source
            z.writestr(info, importlib.util.MAGIC_NUMBER + bytes(12) + code)
            zcount += 1
    os.replace(tmp, os.path.join(outdir, "railcar.zip"))
    write_frozen(outdir, frozen, is_pkg)
    size = os.path.getsize(os.path.join(outdir, "railcar.zip")) // 1024
    print(f"mkzip: {len(frozen)} modules frozen, {zcount} in the zip ({size} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
