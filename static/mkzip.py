"""Build the zip appended to the static railcar: byte-compiled stdlib, railcar, docopt, orjson.

Run by the static interpreter itself (its marshal format and magic number are the ones that will
load the code).  Only .pyc files go in, stored uncompressed: zipimport then reads them with no
source check and no zlib.  The stdlib part is what railcar can import -- a modulefinder closure
over railcar and the libraries, plus whole packages imported by name at run time (encodings) --
because zipimport parses the whole directory on first use: fewer entries, faster start.

    python3.11 static/mkzip.py OUT.zip STDLIB_DIR REPO DOCOPT_PY ORJSON_PY COMMIT [--full-stdlib]
"""

from __future__ import annotations

import importlib.util
import marshal
import modulefinder
import os
import sys
import zipfile

# Imported by name at run time, so no static analysis finds them.
RUNTIME_PACKAGES = ("encodings",)
RUNTIME_MODULES = ("_strptime", "_pydecimal", "_sysconfigdata__linux_x86_64-linux-musl")
# Never useful inside a runtime with no site, no tk, no test suite.
EXCLUDE_TOP = {
    "test", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip", "pydoc_data", "distutils",
    "venv", "turtle", "__phello__", "__hello__", "site-packages", "sqlite3", "curses", "dbm",
    "msilib", "_bootsubprocess", "_aix_support", "_osx_support", "antigravity", "this", "idle",
}


def pyc(source: bytes, filename: str) -> bytes:
    """A timestamp pyc with mtime 0: zipimport checks nothing when the zip holds no source."""
    code = compile(source, filename, "exec", dont_inherit=True, optimize=0)
    return importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(code)


class Zip:
    def __init__(self, path: str) -> None:
        self.z = zipfile.ZipFile(path, "w", zipfile.ZIP_STORED)
        self.names: set[str] = set()

    def add_source(self, arcbase: str, path: str, display: str) -> None:
        """arcbase: "json/decoder" or "json/__init__" (no extension)."""
        name = arcbase + ".pyc"
        if name in self.names:
            return
        with open(path, "rb") as f:
            data = pyc(f.read(), display)
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        self.z.writestr(info, data)
        self.names.add(name)

    def add_tree(self, pkgdir: str, arcprefix: str) -> None:
        for root, dirs, files in os.walk(pkgdir):
            dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "test", "tests"))
            for fn in sorted(files):
                if fn.endswith(".py"):
                    rel = os.path.relpath(os.path.join(root, fn), pkgdir)[:-3]
                    arc = f"{arcprefix}/{rel}" if arcprefix else rel
                    self.add_source(arc, os.path.join(root, fn), f"<static>/{arc}.py")

    def close(self) -> None:
        self.z.close()


def stdlib_closure(stdlib: str, roots: list[str]) -> set[str]:
    """Stdlib module names reachable by any import statement (module level or in a function)."""
    finder = modulefinder.ModuleFinder(path=[stdlib], excludes=sorted(EXCLUDE_TOP))
    for r in roots:
        finder.run_script(r)
    return set(finder.modules)


def main(argv: list[str]) -> int:
    out, stdlib, repo, docopt_py, orjson_py, commit = argv[:6]
    full = "--full-stdlib" in argv[6:]
    z = Zip(out + ".tmp")

    # railcar: every module (commands are imported by name), plus the build info `--version` shows.
    z.add_tree(os.path.join(repo, "railcar"), "railcar")
    info = os.path.join(os.path.dirname(out), "_build_info.py")
    with open(info, "w") as f:
        f.write(f"COMMIT = {commit!r}\nSTATIC = True\n")
    z.add_source("railcar/_build_info", info, "<static>/railcar/_build_info.py")
    z.add_source("docopt", docopt_py, "<static>/docopt.py")
    z.add_source("orjson", orjson_py, "<static>/orjson.py")

    if full:
        names = {os.path.splitext(n)[0] for n in os.listdir(stdlib)}
    else:
        roots = [os.path.join(root, fn) for root, _, files in os.walk(os.path.join(repo, "railcar"))
                 for fn in files if fn.endswith(".py")] + [docopt_py, orjson_py]
        names = stdlib_closure(stdlib, roots) | set(RUNTIME_PACKAGES) | set(RUNTIME_MODULES)
    for name in sorted(names):
        top = name.split(".")[0]
        if top in EXCLUDE_TOP or top in ("railcar", "docopt", "orjson", "pyseccomp"):
            continue
        rel = name.replace(".", "/")
        if os.path.isdir(os.path.join(stdlib, rel)) and os.path.isfile(os.path.join(stdlib, rel, "__init__.py")):
            if full or name in RUNTIME_PACKAGES:
                z.add_tree(os.path.join(stdlib, rel), rel)
            else:
                z.add_source(rel + "/__init__", os.path.join(stdlib, rel, "__init__.py"), f"<static>/{rel}/__init__.py")
        elif os.path.isfile(os.path.join(stdlib, rel + ".py")):
            z.add_source(rel, os.path.join(stdlib, rel + ".py"), f"<static>/{rel}.py")
    z.close()
    os.replace(out + ".tmp", out)
    print(f"mkzip: {len(z.names)} modules, {os.path.getsize(out) // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
