"""checkpoint / restore through CRIU: the refusal where CRIU cannot work (everywhere, with a fake
criu whose `check` fails, and with the host's criu when its check fails), and the real round trip
of a counter container where `criu check` passes (skipped with CRIU's reason otherwise)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BundleFactory, Runtime, describe, reference_gap
from tests.support.bundle import Bundle, sh

CRIU = shutil.which("criu")
COUNTER = sh("i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done")


def criu_check() -> str | None:
    """None when `criu check` passes, else CRIU's reason."""
    if CRIU is None:
        return "criu is not installed"
    try:
        res = subprocess.run([CRIU, "check"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"criu check: {e}"
    if res.returncode == 0:
        return None
    errs = [ln for ln in (res.stderr + res.stdout).splitlines() if "Error" in ln]
    return "; ".join(errs) or f"criu check exited {res.returncode}"


def criu_feature(name: str) -> str | None:
    """None when `criu check --feature NAME` passes, else CRIU's reason."""
    if CRIU is None:
        return "criu is not installed"
    try:
        res = subprocess.run([CRIU, "check", "--feature", name], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"criu check --feature {name}: {e}"
    if res.returncode == 0:
        return None
    msgs = [ln.strip() for ln in (res.stderr + res.stdout).splitlines() if "Error" in ln or "Warn" in ln]
    return "; ".join(msgs) or f"criu check --feature {name} exited {res.returncode}"


CRIU_BROKEN = criu_check()
needs_criu = pytest.mark.skipif(CRIU_BROKEN is not None, reason=f"CRIU cannot work here: {CRIU_BROKEN}")
NO_DIRTY_TRACK = criu_feature("mem_dirty_track") if CRIU_BROKEN is None else None  # needs_criu says why
needs_dirty_track = pytest.mark.skipif(
    NO_DIRTY_TRACK is not None, reason=f"pre-dump needs CRIU's memory tracking: {NO_DIRTY_TRACK}"
)
has_criu_but_broken = pytest.mark.skipif(
    CRIU is None or CRIU_BROKEN is None, reason="needs an installed criu whose `criu check` fails"
)


def fake_criu(workdir: Path) -> Path:
    """A criu whose `check` fails the way this host's does, and that fails anything else."""
    p = workdir / "fake-criu"
    p.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = check ]; then\n'
        "  echo 'Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable' >&2\n"
        "  exit 1\n"
        "fi\n"
        "echo \"fake criu: $1 must not be reached\" >&2\n"
        "exit 3\n"
    )
    p.chmod(0o755)
    return p


def count(b_rootfs: Path, where: str = "tmp") -> int:
    """The counter's value: <b_rootfs>/<where>/count."""
    try:
        return int((b_rootfs / where / "count").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def test_checkpoint_help_exits_0(runtime: Runtime) -> None:
    """podman's probe for checkpoint support."""
    for cmd in ("checkpoint", "restore"):
        res = runtime.run(cmd, "--help", pipes=True)
        assert res.returncode == 0, res.stderr
        assert "--image-path" in res.stdout + res.stderr


def test_checkpoint_unknown_container(runtime: Runtime, workdir: Path) -> None:
    res = runtime.run("--criu", str(fake_criu(workdir)), "checkpoint", "--image-path", str(workdir / "img"),
                      "nosuch", pipes=True)
    assert res.returncode == 1
    assert "container does not exist" in res.stderr


@pytest.mark.railcar_only
def test_checkpoint_refused_when_criu_check_fails(runtime: Runtime, make_bundle: BundleFactory,
                                                  workdir: Path) -> None:
    b = make_bundle(COUNTER)
    cid = runtime.create_started(b)
    img = workdir / "img"
    t0 = time.monotonic()
    res = runtime.run("--criu", str(fake_criu(workdir)), "checkpoint", "--image-path", str(img), cid,
                      pipes=True)
    assert res.returncode == 1, res
    assert "vdso: Failed to fill self vdso symtable" in res.stderr
    assert "criu check" in res.stderr
    assert "must not be reached" not in res.stderr
    assert time.monotonic() - t0 < 5
    assert runtime.status(cid) == "running"  # untouched
    n = count(b.rootfs)
    runtime.wait_until(lambda: count(b.rootfs) > n, 5, "the counter to go on")


@pytest.mark.railcar_only
def test_restore_refused_when_criu_check_fails(runtime: Runtime, make_bundle: BundleFactory,
                                               workdir: Path) -> None:
    b = make_bundle(COUNTER, linux={"cgroupsPath": f"/railcar-it/criu-{secrets.token_hex(4)}"})
    img = workdir / "img"
    img.mkdir()
    cid = runtime.new_id()
    cg = b.config["linux"]["cgroupsPath"]
    runtime.cgroups.append(cg)
    res = runtime.run("--criu", str(fake_criu(workdir)), "restore", "--bundle", str(b.path), "--image-path",
                      str(img), "--detach", cid, pipes=True)
    assert res.returncode == 1, res
    assert "vdso: Failed to fill self vdso symtable" in res.stderr
    assert [d for d in runtime.container_dirs() if not d.startswith(".")] == []  # nothing left behind
    assert runtime.cgroup_dirs(cg) == []
    assert runtime.run("state", cid, pipes=True).returncode == 1


@has_criu_but_broken
def test_host_criu_refusal_quotes_its_reason(runtime: Runtime, make_bundle: BundleFactory, workdir: Path) -> None:
    """Here, with the real criu: both commands fail at once, exit 1 (runc too)."""
    b = make_bundle(COUNTER)
    cid = runtime.create_started(b)
    res = runtime.run("checkpoint", "--image-path", str(workdir / "img"), cid, pipes=True, timeout=60)
    assert res.returncode == 1, res
    if runtime.is_railcar:
        assert "criu check" in res.stderr and "vdso" in res.stderr, res.stderr
    assert runtime.status(cid) == "running"
    (workdir / "img2").mkdir()
    rid = runtime.new_id()
    res = runtime.run("restore", "--bundle", str(b.path), "--image-path", str(workdir / "img2"), "--detach", rid,
                      pipes=True, timeout=60)
    assert res.returncode == 1, res
    if runtime.is_railcar:
        assert "vdso" in res.stderr, res.stderr
    assert rid not in runtime.container_dirs()


# --- where CRIU works --------------------------------------------------------------------------
# CRIU cannot restore a process whose executable is a memfd, and railcar's init (pid 1 unless
# --no-init) runs from its sealed memfd: railcar refuses to checkpoint such a container, and the
# round trips below create theirs with --no-init (runc has no init: it runs them as they are).


def _create_started(runtime: Runtime, b: Bundle) -> str:
    return runtime.create_started(b, *(["--no-init"] if runtime.is_railcar else []))


def _checkpoint(runtime: Runtime, cid: str, img: Path, *flags: str) -> None:
    res = runtime.run("checkpoint", "--image-path", str(img), *flags, cid, pipes=True, timeout=120)
    assert res.returncode == 0, res


def _restore(runtime: Runtime, b_path: Path, img: Path, cid: str) -> None:
    runtime.ids.append(cid)
    res = runtime.run("restore", "--bundle", str(b_path), "--image-path", str(img), "--detach",
                      "--pid-file", str(runtime.pid_file(cid)), cid, timeout=120, io=cid)
    assert res.returncode == 0, res


@needs_criu
def test_checkpoint_and_restore_counter(runtime: Runtime, make_bundle: BundleFactory, workdir: Path) -> None:
    b = make_bundle(COUNTER)
    cid = _create_started(runtime, b)
    runtime.wait_until(lambda: count(b.rootfs) >= 3, 10, "the counter")
    img = workdir / "img"
    _checkpoint(runtime, cid, img)
    assert runtime.run("state", cid, pipes=True).returncode == 1  # gone after a plain checkpoint
    at = count(b.rootfs)
    time.sleep(0.5)
    assert count(b.rootfs) == at  # nothing counts while checkpointed
    _restore(runtime, b.path, img, cid)
    assert runtime.status(cid) == "running"
    assert runtime.init_pid(cid) == runtime.state(cid)["pid"]
    runtime.wait_until(lambda: count(b.rootfs) > at, 10, "the restored counter to go on from where it was")
    assert count(b.rootfs) < at + 50  # it went on, it did not start again from 1
    runtime.kill(cid)
    runtime.wait_status(cid, "stopped")
    runtime.delete(cid)


@needs_criu
def test_checkpoint_leave_running(runtime: Runtime, make_bundle: BundleFactory, workdir: Path) -> None:
    b = make_bundle(COUNTER)
    cid = _create_started(runtime, b)
    runtime.wait_until(lambda: count(b.rootfs) >= 2, 10, "the counter")
    _checkpoint(runtime, cid, workdir / "img", "--leave-running")
    assert runtime.status(cid) == "running"
    n = count(b.rootfs)
    runtime.wait_until(lambda: count(b.rootfs) > n, 10, "the counter to go on")


@pytest.mark.railcar_only
@needs_criu
def test_checkpoint_refused_with_railcars_init(runtime: Runtime, make_bundle: BundleFactory,
                                               workdir: Path) -> None:
    """Dumped, it could never be restored: refused before CRIU freezes and kills it."""
    b = make_bundle(COUNTER)
    cid = runtime.create_started(b)
    img = workdir / "img"
    res = runtime.run("checkpoint", "--image-path", str(img), cid, pipes=True, timeout=60)
    assert res.returncode == 1, res
    assert "memfd" in res.stderr and "--no-init" in res.stderr, res.stderr
    assert not img.exists()
    assert runtime.status(cid) == "running"
    n = count(b.rootfs)
    runtime.wait_until(lambda: count(b.rootfs) > n, 5, "the counter to go on")


@needs_criu
@needs_dirty_track
def test_pre_dump_then_dump_and_restore(runtime: Runtime, make_bundle: BundleFactory, workdir: Path) -> None:
    b = make_bundle(COUNTER)
    cid = _create_started(runtime, b)
    runtime.wait_until(lambda: count(b.rootfs) >= 2, 10, "the counter")
    _checkpoint(runtime, cid, workdir / "pre", "--pre-dump")
    assert runtime.status(cid) == "running"
    _checkpoint(runtime, cid, workdir / "img", "--parent-path", "../pre")
    at = count(b.rootfs)
    _restore(runtime, b.path, workdir / "img", cid)
    runtime.wait_until(lambda: count(b.rootfs) > at, 10, "the restored counter")


@needs_criu
@reference_gap("runc 1.1.5 gives the restored container a writable rootfs: it writes into the bundle")
def test_restore_keeps_a_read_only_rootfs(runtime: Runtime, make_bundle: BundleFactory, workdir: Path) -> None:
    """root.readonly holds after restore: the restored "/" is read-only, and nothing the
    container writes there reaches the host's bundle."""
    scratch = workdir / "scratch"
    scratch.mkdir()
    b = make_bundle(COUNTER)
    b.config["root"]["readonly"] = True
    b.add_mount("/tmp", "bind", str(scratch), ["rbind", "rw"])
    cid = _create_started(runtime, b)
    runtime.wait_until(lambda: count(workdir, "scratch") >= 2, 10, "the counter")
    img = workdir / "img"
    _checkpoint(runtime, cid, img)
    _restore(runtime, b.path, img, cid)
    at = count(workdir, "scratch")
    runtime.wait_until(lambda: count(workdir, "scratch") > at, 10, "the restored counter")
    res = runtime.run("exec", cid, "sh", "-c", "touch /x; awk '$5 == \"/\"' /proc/self/mountinfo", pipes=True)
    assert "Read-only file system" in res.stderr, describe(res)
    assert " ro" in res.stdout.split(" - ")[0], describe(res)
    assert not (b.rootfs / "x").exists(), "the restored container wrote into the bundle's rootfs"
