"""Build railcar: the static helper, the Cython bridge with csrc/, and the launcher.

`pip install .` installs the package and the `railcar` launcher (a compiled
program, not an entry-point script); `./build.sh` builds everything in place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, "csrc")
CORE_C = ["sync.c", "spawn.c", "pathres.c", "rootfs.c", "devices.c", "console.c", "process.c", "copyup.c",
          "loopback.c", "bpfdev.c", "idmap.c", "hooks.c", "json.c"]
RELEASE = os.environ.get("RAILCAR_RELEASE") == "1"
OPT = ["-O3", "-DNDEBUG"] if RELEASE else ["-O2", "-g"]
HOT_OPT = ["-DNDEBUG"] if RELEASE else []  # the rest: tools/hotpath.py's CFLAGS


def _run(cmd: list[str]) -> None:
    print(" ".join(cmd), flush=True)
    subprocess.check_call(cmd)


def kernel_headers(build_dir: str) -> str:
    """musl-gcc does not see the kernel's headers: expose linux/, asm/, asm-generic/."""
    d = os.path.join(build_dir, "kheaders")
    os.makedirs(d, exist_ok=True)
    arch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    for name, src in (("linux", "/usr/include/linux"), ("asm", f"/usr/include/{arch}/asm"),
                      ("asm-generic", "/usr/include/asm-generic")):
        link = os.path.join(d, name)
        if not os.path.lexists(link):
            os.symlink(src, link)
    return d


def build_helper(build_dir: str) -> str:
    """The container helper: a static program, small enough to copy into a memfd per start."""
    out = os.path.join(build_dir, "railcar-init")
    src = os.path.join(CSRC, "helper.c")
    cc = shutil.which("musl-gcc")
    flags = ["-Os", "-Wall", "-Wextra", "-static", "-I", CSRC]
    if cc:
        _run([cc, *flags, "-idirafter", kernel_headers(build_dir), "-o", out, src])
    else:  # glibc static works too, at ~15x the size
        _run([os.environ.get("CC", "cc"), *flags, "-o", out, src])
    _run(["strip", out])
    return out


def write_blob(build_dir: str, helper: str) -> str:
    gen = os.path.join(build_dir, "gen")
    os.makedirs(gen, exist_ok=True)
    with open(os.path.join(gen, "helper_blob.h"), "w") as f:
        f.write("extern const unsigned char rc_helper_blob[];\n"
                "extern const unsigned char rc_helper_blob_end[];\n")
    with open(os.path.join(gen, "helper_blob.c"), "w") as f:
        f.write('__asm__(".section .rodata\\n.balign 16\\n.global rc_helper_blob\\n'
                f'rc_helper_blob:\\n.incbin \\"{helper}\\"\\n.global rc_helper_blob_end\\n'
                'rc_helper_blob_end:\\n.byte 0\\n.previous\\n");\n')
    return gen


def static_libpython() -> str | None:
    v = sysconfig.get_config_var
    libdir = v("LIBPL") or v("LIBDIR")
    path = os.path.join(libdir, f"libpython{v('LDVERSION') or v('VERSION')}.a")
    return path if os.path.exists(path) else None


def launcher_flags(pkgpaths: str) -> list[str]:
    v = sysconfig.get_config_var
    stdlib = [sysconfig.get_path("stdlib"), v("DESTSHARED")]
    static = static_libpython()
    # static libpython starts faster (no PIC); extension modules need its symbols exported
    pylib = ["-no-pie", static] if static else [f"-L{v('LIBDIR')}", f"-lpython{v('LDVERSION') or v('VERSION')}"]
    libs = []
    for flag in " ".join(v(k) or "" for k in ("LIBS", "MODLIBS", "SYSLIBS")).split():
        if flag not in libs:
            libs.append(flag)
    return [
        f"-I{sysconfig.get_path('include')}",
        f'-DRC_PYHOME="{sys.base_prefix}"',
        f'-DRC_STDLIB="{":".join(stdlib)}"',
        f'-DRC_PKGPATHS="{pkgpaths}"',
        "-Wl,-export-dynamic", "-pthread", *pylib, *static_where_possible(libs),
    ]


def static_where_possible(libs: list[str]) -> list[str]:
    """libz and libexpat (what libpython's built-in modules need) linked in when their archives
    exist: each shared library is one more file for the dynamic loader to map and relocate at
    every start and its touched pages count in the runtime's RSS. glibc's own (libm, libdl)
    stay shared: their archives only link into a fully static program."""
    found, rest = [], []
    for flag in libs:
        name = flag[2:] if flag.startswith("-l") else None
        glibc = name in ("m", "dl", "pthread", "c", "util", "rt")
        if name and not glibc and any(os.path.exists(os.path.join(d, f"lib{name}.a"))
                                      for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib")):
            found.append(flag)
        else:
            rest.append(flag)
    return (["-Wl,-Bstatic", *found, "-Wl,-Bdynamic"] if found else []) + rest


def frozen_startup(build_dir: str) -> str:
    """The stdlib modules the interpreter imports while it starts (the codecs), frozen into the
    launcher as static/mkzip.py freezes them into the static binary: no directory listed, no file
    read before railcar runs. Returns the object."""
    sys.path.insert(0, os.path.join(HERE, "static"))
    import mkzip

    out = os.path.join(build_dir, "frozen")
    os.makedirs(out, exist_ok=True)
    stdlib = sysconfig.get_path("stdlib")
    code, is_pkg = {}, {}
    for name in mkzip.STARTUP:
        rel = os.path.join(stdlib, *name.split("."))
        is_pkg[name] = os.path.isdir(rel)
        code[name] = mkzip.compile_module(os.path.join(rel, "__init__.py") if is_pkg[name] else rel + ".py", name)
    mkzip.write_frozen(out, code, is_pkg)
    obj = os.path.join(out, "frozen.o")
    subprocess.check_call([os.environ.get("CC", "cc"), "-O2", f"-I{sysconfig.get_path('include')}", "-c",
                           os.path.join(out, "frozen.c"), "-o", obj])
    return obj


def hot_objects(build_dir: str) -> list[str]:
    """railcar's modules compiled with Cython (tools/hotpath.py), as objects for the launcher.

    Only what changed is rebuilt; the C compiler runs on every CPU."""
    from concurrent.futures import ThreadPoolExecutor

    sys.path.insert(0, os.path.join(HERE, "tools"))
    import hotpath

    out = os.path.join(build_dir, "hot")
    mods = hotpath.generate(out)
    cc = os.environ.get("CC", "cc")
    inc = f"-I{sysconfig.get_path('include')}"
    flags = [*HOT_OPT, *hotpath.CFLAGS, "-fno-pie" if static_libpython() else "-fPIE", inc, f"-I{CSRC}"]
    # objects per set of flags: a change of flags rebuilds them, switching back reuses them
    objdir = os.path.join(out, "obj-" + hashlib.sha256(" ".join([cc, *flags]).encode()).hexdigest()[:10])
    os.makedirs(objdir, exist_ok=True)
    jobs = [(c, os.path.join(objdir, os.path.basename(c)[:-2] + ".o"), extra) for c, extra in
            [(hotpath.c_path(out, m), hotpath.compile_flags(m)) for m in mods]
            + [(os.path.join(out, "hot_inittab.c"), [])]]

    header = os.stat(os.path.join(CSRC, "hotimport.h")).st_mtime  # the table's layout

    def one(job: tuple[str, str, list[str]]) -> None:
        c, o, extra = job
        if not os.path.exists(o) or os.stat(o).st_mtime < max(os.stat(c).st_mtime, header):
            subprocess.check_call([cc, *flags, *extra, "-c", c, "-o", o + ".tmp"])
            os.replace(o + ".tmp", o)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(one, jobs))
    print(f"hot path: {len(mods)} modules compiled into the launcher", flush=True)
    return [o for _, o, _ in jobs]


def build_launcher(out: str, pkgpaths: str, objects: list[str]) -> None:
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cc = os.environ.get("CC", "cc")
    print(f"link {out} ({len(objects)} objects)", flush=True)
    sources = [os.path.join(CSRC, c) for c in ("launcher.c", "fastpath.c", "hotimport.c")]
    subprocess.check_call([cc, *OPT, "-Wall", "-o", out, *sources, f"-I{CSRC}", *objects, *launcher_flags(pkgpaths)])


def installed_pkgpath() -> str:
    """Where pip puts the package, relative to where it puts the launcher."""
    paths = sysconfig.get_paths()
    return os.path.relpath(paths["purelib"], paths["scripts"])


def write_build_info() -> None:
    """railcar/_build_info.py: the commit `railcar --version` prints."""
    try:
        commit = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    with open(os.path.join(HERE, "railcar", "_build_info.py"), "w") as f:
        f.write(f'"""Written by the build."""\n\nCOMMIT = {commit!r}\n')


class BuildExt(build_ext):
    def run(self) -> None:
        build_dir = os.path.abspath(self.build_temp)
        os.makedirs(build_dir, exist_ok=True)
        helper = build_helper(build_dir)
        gen = write_blob(build_dir, helper)
        for ext in self.extensions:
            ext.include_dirs += [gen, CSRC]
            ext.sources.append(os.path.join(gen, "helper_blob.c"))
            ext.depends.append(helper)
        super().run()
        launcher = os.environ.get("RAILCAR_LAUNCHER_OUT") or os.path.join(HERE, "build", "scripts-bin", "railcar")
        # railcar._core goes into the launcher too (no dlopen at each start); the extension module
        # beside the sources stays for the unit tests and tools run by a plain interpreter
        core = [o for ext in self.extensions
                for o in self.compiler.object_filenames(ext.sources, output_dir=self.build_temp)]
        build_launcher(launcher, os.environ.get("RAILCAR_PKGPATHS") or installed_pkgpath(),
                       [*core, *hot_objects(build_dir), frozen_startup(build_dir)])


def extensions() -> list[Extension]:
    from Cython.Build import cythonize

    ext = Extension(
        "railcar._core",
        sources=["railcar/_core.pyx", *[os.path.join("csrc", c) for c in CORE_C]],
        include_dirs=[CSRC],
        extra_compile_args=[*OPT, "-Wall", "-Wno-unused-function"],
    )
    return cythonize([ext], language_level=3, quiet=True)


write_build_info()  # before build_py copies the package
setup(
    name="railcar",
    version="0.1.0",
    description="An OCI container runtime, a drop-in for runc",
    packages=["railcar", "railcar.commands", "railcar.cgroups", "railcar.cgroups.devices", "railcar.seccomp",
              "railcar.spec"],
    python_requires=">=3.11",  # the launcher: 3.11's frozen-module table, PyGC_Disable
    install_requires=["docopt>=0.6.2", "orjson", "pyseccomp"],
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExt},
    # the launcher is a compiled program: data, not a script (build_scripts would parse it as text)
    data_files=[("bin", ["build/scripts-bin/railcar"])],
)
