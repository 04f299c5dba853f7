"""The static build (TARGET=x86_64-unknown-linux-musl ./build.sh): one executable that runs where
there is no Python and no libc -- checked in a chroot holding nothing but the binary and a bundle.

Skipped unless bin/railcar-static exists or RAILCAR_TEST_STATIC=1 (which builds it: minutes when
build/static-cache is cold).  The container tests need root; they give the chroot the kernel's
filesystems (proc, sys, dev: no userland) in a private mount namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "bin" / "railcar-static"
DOCKER_PROFILE = REPO / "tests" / "data" / "docker-default-seccomp.json"
TIMEOUT = 60
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CHROOT = shutil.which("chroot", path=SBIN_PATH) or "/usr/sbin/chroot"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

if not STATIC.exists() and os.environ.get("RAILCAR_TEST_STATIC") != "1":
    pytest.skip(
        f"{STATIC.relative_to(REPO)} not built and RAILCAR_TEST_STATIC!=1 "
        "(build it with TARGET=x86_64-unknown-linux-musl ./build.sh)",
        allow_module_level=True,
    )

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chroot and containers need root")


@pytest.fixture(scope="module")
def binary() -> Path:
    if not STATIC.exists():
        subprocess.run([str(REPO / "build-static.sh")], check=True, timeout=3600)
    return STATIC


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, **kw)  # type: ignore[call-overload]


# --- the file itself --------------------------------------------------------------------------
def test_no_dynamic_section(binary: Path) -> None:
    res = run(["readelf", "-d", "-l", str(binary)])
    assert "There is no dynamic section" in res.stdout, res.stdout
    assert "INTERP" not in res.stdout, "has a program interpreter"
    if shutil.which("file"):
        assert "statically linked" in run(["file", "-L", str(binary)]).stdout


def test_version(binary: Path) -> None:
    res = run([str(binary), "--version"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("railcar version "), res.stdout
    assert f"({binary})" in res.stdout  # sys.executable: the zip the modules come from


# --- an empty chroot --------------------------------------------------------------------------
def chroot_dir(tmp: Path, binary: Path) -> Path:
    d = tmp / "chroot"
    d.mkdir()
    d.chmod(0o755)
    shutil.copy2(binary, d / "railcar")
    return d


@needs_root
def test_version_in_empty_chroot(binary: Path, tmp_path: Path) -> None:
    """Nothing but the binary: no /proc (argv[0] names the executable), no libc, no Python."""
    d = chroot_dir(tmp_path, binary)
    assert sorted(os.listdir(d)) == ["railcar"]
    res = run([CHROOT, str(d), "/railcar", "--version"], env={})
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("railcar version "), res.stdout
    assert "(/railcar)" in res.stdout


def in_chroot(d: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`chroot d /railcar args...` in a private mount namespace holding the kernel's filesystems."""
    # The chroot is a mount point of its own, as a real root is: railcar sets the propagation of
    # "/" (as runc does), which the kernel refuses (EINVAL) for a plain directory.
    script = (
        'set -e; d="$1"; shift; mount --bind "$d" "$d"; '
        'mount -t proc proc "$d/proc"; mount --rbind /sys "$d/sys"; mount --rbind /dev "$d/dev"; '
        'exec chroot "$d" /railcar "$@"'
    )
    return run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(d), *args],
        env={"PATH": SBIN_PATH},
        stdin=subprocess.DEVNULL,
    )


def remove_cgroups(cid: str) -> None:
    for mnt in Path("/sys/fs/cgroup").iterdir():
        for found in sorted(mnt.rglob(cid), key=lambda p: -len(p.parts)) if mnt.is_dir() else ():
            for sub in sorted((p for p in found.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                sub.rmdir()
            found.rmdir()


@pytest.fixture
def container_root(binary: Path, tmp_path: Path):
    from tests.support.bundle import make_rootfs

    d = chroot_dir(tmp_path, binary)
    for sub in ("proc", "sys", "dev", "state", "bundle"):
        (d / sub).mkdir()
    make_rootfs(d / "bundle" / "rootfs")
    ids: list[str] = []
    yield d, ids
    for cid in ids:
        in_chroot(d, "--root", "/state", "delete", "--force", cid)
        remove_cgroups(cid)


def write_config(d: Path, args: list[str], **overrides: object) -> None:
    from tests.support.bundle import make_config

    (d / "bundle" / "config.json").write_text(json.dumps(make_config(args, **overrides)))


@needs_root
def test_run_in_chroot(container_root) -> None:
    d, ids = container_root
    write_config(d, ["echo", "hello from the static railcar"])
    ids.append("static-run")
    res = in_chroot(d, "--root", "/state", "run", "--bundle", "/bundle", "static-run")
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr}"
    assert "hello from the static railcar" in res.stdout
    # orjson's stand-in
    res = in_chroot(d, "--root", "/state", "list", "--format", "json")
    assert res.returncode == 0, res.stderr
    assert isinstance(json.loads(res.stdout or "null"), (list, type(None)))


def cached_bpf(cache_dir: Path) -> bytes:
    """The BPF of the one entry in a seccomp cache dir (format: railcar/seccomp/cache.py, "Entries")."""
    entries = [p for p in cache_dir.iterdir() if len(p.name) == 64]
    assert len(entries) == 1, entries
    data = entries[0].read_bytes()
    assert data[:8] == b"RCSECBPF"
    nbpf, npath, nmeta = (int.from_bytes(data[o : o + 4], "little") for o in (16, 20, 24))
    return data[96 + npath + nmeta : 96 + npath + nmeta + nbpf]


@needs_root
@pytest.mark.skipif(not DOCKER_PROFILE.exists(), reason=f"{DOCKER_PROFILE} missing")
def test_seccomp_same_bpf_as_ordinary_build(container_root, tmp_path: Path) -> None:
    """Docker's default profile: the container runs under it, and the static build's libseccomp
    (built in, with the pyseccomp stand-in) compiles exactly the bytes the ordinary build's does."""
    d, ids = container_root
    section = json.loads(DOCKER_PROFILE.read_text())
    write_config(d, ["sh", "-c", "echo seccomp ok"], linux={"seccomp": section})
    ids.append("static-seccomp")
    res = in_chroot(d, "--root", "/state", "run", "--bundle", "/bundle", "static-seccomp")
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr}"
    assert "seccomp ok" in res.stdout
    static_bpf = cached_bpf(d / "state" / "@railcar" / "cache" / "seccomp")

    pytest.importorskip("pyseccomp")
    from railcar import seccomp

    ordinary = seccomp.compile_profile(section, str(tmp_path / "ordinary-cache"))
    assert len(static_bpf) == len(ordinary.bpf)
    assert static_bpf == ordinary.bpf


@needs_root
def test_features_in_chroot(container_root) -> None:
    """ctypes in a static binary: the seccomp flag probes go through static/dlshim.c."""
    d, _ = container_root
    res = in_chroot(d, "features")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert "linux" in doc
