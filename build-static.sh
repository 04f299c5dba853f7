#!/bin/sh
# The static railcar: one executable, bin/railcar-static, that needs no Python and no libc.
#   TARGET=x86_64-unknown-linux-musl ./build.sh [--release]   (build.sh execs this script)
#   ./build-static.sh [--release]
#   ./build-static.sh --clean-cache     drop the cached CPython + libraries (same as rm -rf build/static-cache)
# CPython 3.11, zlib, libffi and libseccomp are built static with musl from Debian's source
# packages (a deb-src line is added to apt's sources if there is none) and cached under
# build/static-cache/<versions>-<recipe hash>/: the first build takes minutes, later ones seconds.
# railcar's C and Cython code, the helper and the pyseccomp stand-in are linked to them; the stdlib,
# railcar and docopt are byte-compiled into a zip appended to the executable.  See static/.
set -eu
cd "$(dirname "$0")"
REPO=$PWD
CACHE=$REPO/build/static-cache
OUT=$REPO/build/static
RELEASE=${RAILCAR_RELEASE:-0}
for a in "$@"; do
    case "$a" in
        --release) RELEASE=1 ;;
        --clean-cache) rm -rf "$CACHE"; echo "removed $CACHE"; exit 0 ;;
        *) echo "usage: $0 [--release] | --clean-cache" >&2; exit 2 ;;
    esac
done
case "${TARGET:-x86_64-unknown-linux-musl}" in
    x86_64-unknown-linux-musl) ;;
    *) echo "build-static.sh: unsupported TARGET $TARGET (only x86_64-unknown-linux-musl)" >&2; exit 2 ;;
esac
T0=$(date +%s)
JOBS=${RAILCAR_STATIC_JOBS:-2}
export RAILCAR_STATIC_JOBS=$JOBS

# --- host tools ---------------------------------------------------------------------------------
need=""
command -v musl-gcc >/dev/null || need="$need musl-tools"
command -v gperf >/dev/null || need="$need gperf"
command -v dpkg-source >/dev/null || need="$need dpkg-dev"
command -v make >/dev/null || need="$need make"
if [ -n "$need" ]; then
    echo "installing:$need"
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null
fi
PYTHON=${PYTHON:-/usr/bin/python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c 'import Cython, docopt' 2>/dev/null; then
    .venv/bin/pip install -q -r requirements-dev.txt
fi

# --- the cache key: source package versions + the recipe ------------------------------------------
installed() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
want() {  # want BINPKG: the version installed here (libseccomp's decides the BPF), else apt's candidate
    v=$(installed "$1")
    [ -n "$v" ] || v=$(candidate "$1")
    echo "$v"
}
V_PY=$(want python3.11)
V_SECCOMP=$(want libseccomp2)
V_ZLIB=$(want zlib1g)
V_FFI=$(want libffi8)
V_MUSL=$(want musl-dev)
RECIPE=$(cat static/build-deps.sh static/Setup.local | sha256sum | cut -c1-12)
KEY=$(echo "py$V_PY-seccomp$V_SECCOMP-zlib$V_ZLIB-ffi$V_FFI-musl$V_MUSL-$RECIPE" | tr -c 'A-Za-z0-9.+_\n-' '_')
PREFIX=$CACHE/$KEY

fetch() {  # fetch SRCPKG VERSION: the .dsc path; another version of the source if that one is gone
    cd "$CACHE/src"
    for v in "$2" $(apt-cache showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p' | sort -rV | uniq); do
        dsc=$(ls "$1_${v#*:}.dsc" 2>/dev/null || true)
        if [ -z "$dsc" ] && apt-get source -q --download-only "$1=$v" >"$CACHE/src/fetch.log" 2>&1; then
            dsc=$(ls "$1_${v#*:}.dsc")
        fi
        if [ -n "$dsc" ]; then
            [ "$v" = "$2" ] || echo "note: $1 $2 has no source on the mirror, using $v" >&2
            echo "$CACHE/src/$dsc"
            cd "$REPO"
            return 0
        fi
    done
    cd "$REPO"
    echo "build-static.sh: cannot fetch the source of $1 (see $CACHE/src/fetch.log)" >&2
    exit 1
}

ensure_deb_src() {  # apt-get source needs deb-src lines; add them once, mirroring the deb ones
    [ -n "$(apt-cache showsrc zlib 2>/dev/null)" ] && return 0
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
            > /etc/apt/sources.list.d/railcar-deb-src.sources
    else
        sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list > /etc/apt/sources.list.d/railcar-deb-src.list
    fi
    echo "added deb-src sources; apt-get update"
    apt-get update -q >/dev/null
}

if [ ! -f "$PREFIX/.complete" ]; then
    echo "building CPython + libraries (cache $PREFIX; takes a few minutes)"
    rm -rf "$PREFIX" "$CACHE/work"
    mkdir -p "$CACHE/src"
    ensure_deb_src
    DSCS=""
    for pair in "python3.11 $V_PY" "libseccomp $V_SECCOMP" "zlib $V_ZLIB" "libffi $V_FFI"; do
        # shellcheck disable=SC2086
        dsc=$(fetch $pair) || exit 1
        DSCS="$DSCS $dsc"
    done
    # shellcheck disable=SC2086
    static/build-deps.sh "$PREFIX" "$CACHE/work" $DSCS
    rm -rf "$CACHE/work"
    for d in $DSCS; do basename "$d"; done > "$PREFIX/sources"
    touch "$PREFIX/.complete"
    for d in "$CACHE"/*/; do  # builds for other versions or recipes: stale
        case "$d" in "$CACHE/src/" | "$PREFIX/") ;; *) rm -rf "$d" ;; esac
    done
    echo "cached in $(($(date +%s) - T0)) s"
else
    echo "using cached CPython + libraries: $PREFIX"
fi

# --- railcar ------------------------------------------------------------------------------------
CC=$PREFIX/bin/musl-cc
PYINC=$PREFIX/include/python3.11
if [ "$RELEASE" = 1 ]; then OPT="-O3 -DNDEBUG"; else OPT="-O2 -g"; fi
rm -rf "$OUT"
mkdir -p "$OUT/gen" "$OUT/obj" bin

# The helper runs inside containers: a tiny static program embedded with .incbin (as setup.py).
"$CC" -Os -Wall -Wextra -static -I csrc -o "$OUT/railcar-init" csrc/helper.c
strip "$OUT/railcar-init"
printf '%s\n' 'extern const unsigned char rc_helper_blob[];' 'extern const unsigned char rc_helper_blob_end[];' \
    > "$OUT/gen/helper_blob.h"
printf '__asm__(".section .rodata\\n.balign 16\\n.global rc_helper_blob\\nrc_helper_blob:\\n.incbin \\"%s\\"\\n.global rc_helper_blob_end\\nrc_helper_blob_end:\\n.byte 0\\n.previous\\n");\n' \
    "$OUT/railcar-init" > "$OUT/gen/helper_blob.c"

COMMIT=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)  # as setup.py
"$PREFIX/bin/python3.11" -E -S static/mkzip.py "$OUT" "$PREFIX/lib/python3.11" "$REPO" \
    "$(.venv/bin/python -c 'import docopt; print(docopt.__file__)')" static/orjson.py "$COMMIT"
.venv/bin/cython -3 railcar/_core.pyx -o "$OUT/gen/_core.c"
.venv/bin/python tools/hotpath.py "$REPO/build/static-hot"   # railcar's modules as C; kept: only changes re-run
.venv/bin/cython -3 --module-name pyseccomp static/pyseccomp_static.pyx -o "$OUT/gen/pyseccomp.c"

CFLAGS="$OPT -fwrapv -Wall -Wno-unused-function -I$PYINC -Icsrc -I$OUT/gen -I$PREFIX/include"
compile() {  # compile SRC [FLAGS...]: object into $OUT/obj
    src=$1
    shift
    # shellcheck disable=SC2086
    "$CC" $CFLAGS "$@" -c "$src" -o "$OUT/obj/$(basename "$src" .c).o"
}
pids=""
for src in "$OUT/gen/_core.c" "$OUT/gen/pyseccomp.c" "$OUT/gen/helper_blob.c" "$OUT/frozen.c" static/dlshim.c \
        $(ls csrc/*.c | grep -v -e '/helper\.c$' -e '/launcher\.c$'); do
    compile "$src" &
    pids="$pids $!"
    if [ "$(echo "$pids" | wc -w)" -ge "$JOBS" ]; then
        for p in $pids; do wait "$p"; done
        pids=""
    fi
done
compile csrc/launcher.c -DRC_STATIC
for p in $pids; do wait "$p"; done
# the compiled modules: objects kept in the cache beside their C, rebuilt when it changes
HOTFLAGS="-I$PYINC -Icsrc"   # with each file's own from sources.txt (tools/hotpath.py's CFLAGS)
[ "$RELEASE" = 1 ] && HOTFLAGS="$HOTFLAGS -DNDEBUG"
pids=""
while read -r src flags; do
    obj=${src%.c}.static$RELEASE.o   # rebuilt when its C, the flags (sources.txt) or the compiler change
    if [ ! -f "$obj" ] || [ "$obj" -ot "$src" ] || [ "$obj" -ot "$REPO/build/static-hot/sources.txt" ] \
            || [ "$obj" -ot "$CC" ]; then
        # shellcheck disable=SC2086
        "$CC" $HOTFLAGS $flags -c "$src" -o "$obj.tmp" && mv -f "$obj.tmp" "$obj" &
        pids="$pids $!"
    fi
    if [ "$(echo "$pids" | wc -w)" -ge "$JOBS" ]; then
        for p in $pids; do wait "$p" || exit 1; done
        pids=""
    fi
    HOTOBJS="${HOTOBJS:-} $obj"
done < "$REPO/build/static-hot/sources.txt"
for p in $pids; do wait "$p" || exit 1; done

# shellcheck disable=SC2046
# shellcheck disable=SC2086
"$CC" -static -o "$OUT/railcar.elf" "$OUT"/obj/*.o $HOTOBJS "$PREFIX/lib/libpython3.11.a" \
    $(cat "$PREFIX/lib/python-libs") "$PREFIX/lib/libseccomp.a"
strip "$OUT/railcar.elf"

cat "$OUT/railcar.elf" "$OUT/railcar.zip" > "$OUT/railcar"
chmod 755 "$OUT/railcar"
mv -f "$OUT/railcar" bin/railcar-static.tmp
mv -f bin/railcar-static.tmp bin/railcar-static
echo "built: bin/railcar-static ($(du -k bin/railcar-static | cut -f1) KiB, $(($(date +%s) - T0)) s): $(bin/railcar-static --version | head -1)"
