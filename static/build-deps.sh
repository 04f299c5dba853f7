#!/bin/sh
# The slow, cached half of the static build: zlib, libffi, libseccomp and CPython, each static
# with musl, from Debian's source packages (already fetched by build-static.sh).
#   static/build-deps.sh PREFIX WORKDIR DSC...
# Everything lands in PREFIX: bin/python3.11 (static, runs on the build host), lib/*.a,
# lib/libpython3.11.a, lib/python3.11/ (the stdlib sources), include/, and musl-cc, the compiler
# wrapper the rest of the build uses.  build-static.sh keys the cache on a hash of this file and
# Setup.local, so editing either rebuilds.
set -eu
PREFIX=$1
WORK=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
JOBS=${RAILCAR_STATIC_JOBS:-2}
mkdir -p "$PREFIX/bin" "$PREFIX/lib" "$PREFIX/include" "$WORK"

# musl-gcc sees only musl's headers: give it the kernel's (linux/, asm/, asm-generic/), after musl's.
KH=$PREFIX/kheaders
mkdir -p "$KH"
ARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for pair in "linux:/usr/include/linux" "asm:/usr/include/$ARCH/asm" "asm-generic:/usr/include/asm-generic"; do
    ln -sfn "${pair#*:}" "$KH/${pair%%:*}"
done
# CPython's configure compares the compiler's multiarch (gcc says x86_64-linux-gnu) with its own
# triplet (x86_64-linux-musl) and gives up when they differ: say nothing.
cat > "$PREFIX/bin/musl-cc" <<EOF
#!/bin/sh
[ "\$*" = --print-multiarch ] && exit 0
exec musl-gcc -idirafter "$KH" "\$@"
EOF
chmod +x "$PREFIX/bin/musl-cc"
CC=$PREFIX/bin/musl-cc
export CC
# Only our own .pc files: the host's would point musl builds at glibc-built libraries.
PKG_CONFIG_LIBDIR=$PREFIX/lib/pkgconfig
PKG_CONFIG_PATH=
export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH

# unpack NAME: extract NAME's .dsc (Debian patches applied) into $WORK/NAME.  --no-check: apt
# has checked the files against the signed index; the .dsc signature needs a keyring we lack.
unpack() {
    rm -rf "${WORK:?}/$1"
    for dsc in $DSCS; do
        case "$(basename "$dsc")" in
            "$1"_*) dpkg-source --no-check -x "$dsc" "$WORK/$1" >/dev/null; return 0 ;;
        esac
    done
    echo "build-deps: no source package for $1" >&2
    exit 1
}
DSCS="$*"
fail() {  # fail NAME: show the end of NAME's log
    echo "build-deps: $1 failed; the end of $WORK/$1.log:" >&2
    tail -40 "$WORK/$1.log" >&2
    exit 1
}

echo "== zlib"
unpack zlib
(cd "$WORK/zlib" && ./configure --static --prefix="$PREFIX" && make -j"$JOBS" libz.a && make install) \
    >"$WORK/zlib.log" 2>&1 || fail zlib

echo "== libffi"
unpack libffi
(cd "$WORK/libffi" && ./configure --prefix="$PREFIX" --disable-shared --enable-static --disable-docs \
    --disable-multi-os-directory --disable-exec-static-tramp && make -j"$JOBS" && make install) \
    >"$WORK/libffi.log" 2>&1 || fail libffi

echo "== libseccomp"
unpack libseccomp
# Same version and Debian patches as the host's libseccomp2: same BPF as the dynamic build.
(cd "$WORK/libseccomp" && ./configure --prefix="$PREFIX" --disable-shared --enable-static --disable-python &&
    make -j"$JOBS" -C include && make -j"$JOBS" -C src && make -C include install && make -C src install) \
    >"$WORK/libseccomp.log" 2>&1 || fail libseccomp

echo "== CPython"
unpack python3.11
PY=$WORK/python3.11
cp "$HERE/Setup.local" "$PY/Modules/Setup.local"
# On Linux configure leaves Modules/Setup.stdlib to setup.py (shared objects); make makesetup read
# it, as it does for WASM, so those modules are built in too.
sed -i 's|^    MODULES_SETUP_STDLIB= *$|    MODULES_SETUP_STDLIB=Modules/Setup.stdlib|' "$PY/configure"
grep -q '^    MODULES_SETUP_STDLIB=Modules/Setup.stdlib$' "$PY/configure" || {
    echo "build-deps: cannot patch CPython's configure (MODULES_SETUP_STDLIB)" >&2
    exit 1
}
# MODULE_BUILDTYPE=static: every stdlib C module configure finds goes into libpython, none is a .so
# (a static executable cannot dlopen).  LINKFORSHARED empty: nothing to export to extensions.
(cd "$PY" && MODULE_BUILDTYPE=static LDFLAGS="-static -L$PREFIX/lib" CPPFLAGS="-I$PREFIX/include" \
    LINKFORSHARED=" " ./configure --prefix="$PREFIX" --disable-shared --disable-test-modules \
    --without-ensurepip --without-doc-strings --with-system-ffi --enable-optimizations --with-lto) \
    >"$WORK/python-configure.log" 2>&1 || fail python-configure
# Profile-guided and link-time optimized, as distributions build CPython (Debian's python3, the
# dynamic launcher's, is): the profile task is CPython's own PGO set of tests
# (Lib/test/libregrtest/pgo.py) run by the instrumented interpreter. Some fail under musl
# (locales, float formats, embedding), which only costs their share of the profile; make's
# profile-opt would stop there, so its steps are run here with the task's status ignored.
(cd "$PY" && make -j"$JOBS" profile-gen-stamp && { ./python -m test --pgo --timeout=300 || true; } &&
    make build_all_merge_profile clean-retain-profile && touch profile-run-stamp &&
    make -j"$JOBS" profile-opt && make pybuilddir.txt) \
    >"$WORK/python-make.log" 2>&1 || fail python-make
# A minimal install (make install would also byte-compile the whole stdlib three times, for
# nothing: build-static.sh compiles what it ships).
VER=3.11
cp "$PY/python" "$PREFIX/bin/python$VER"
cp "$PY/libpython$VER.a" "$PREFIX/lib/"
rm -rf "$PREFIX/lib/python$VER" "$PREFIX/include/python$VER"
cp -a "$PY/Lib" "$PREFIX/lib/python$VER"
rm -rf "$PREFIX/lib/python$VER/test"  # 30 MB never shipped
mkdir -p "$PREFIX/lib/python$VER/lib-dynload"  # getpath's landmark for exec_prefix; stays empty
cp "$PY/$(cat "$PY/pybuilddir.txt")"/_sysconfigdata_*.py "$PREFIX/lib/python$VER/"
mkdir -p "$PREFIX/include/python$VER"
cp -a "$PY/Include/." "$PY/pyconfig.h" "$PREFIX/include/python$VER/"
# The link line libpython needs, from its own sysconfig; the bundled libmpdec and expat archives
# live in the build tree, so they move to PREFIX/lib.
cp "$PY/Modules/_decimal/libmpdec/libmpdec.a" "$PY/Modules/expat/libexpat.a" "$PREFIX/lib/"
"$PREFIX/bin/python$VER" -E -S -c '
import sys, sysconfig
out = []
for k in ("MODLIBS", "LIBS", "SYSLIBS"):
    for w in (sysconfig.get_config_var(k) or "").split():
        w = sys.argv[1] + "/" + w.rsplit("/", 1)[1] if w.endswith(".a") else w
        if w not in out:
            out.append(w)
print(" ".join(out))
' "$PREFIX/lib" > "$PREFIX/lib/python-libs"
"$PREFIX/bin/python$VER" -E -S -c 'import sys, zlib, _ctypes, _json, _sha256; print("python", sys.version.split()[0], "ok")'
