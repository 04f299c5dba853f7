"""Arguments, paths and messages are bytes to the kernel: railcar takes UTF-8 and non-UTF-8
names alike, whatever the caller's locale, and reports errors about them without a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BundleFactory, Runtime, reference_gap
from tests.support.bundle import Bundle, sh

# the C locale: what a shim or a service manager often runs railcar with
C_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}


def call(runtime: Runtime, *args: bytes, detached: bool = False) -> subprocess.CompletedProcess[bytes]:
    """`detached`: a created container inherits stdio, so no pipes to wait on."""
    argv = [os.fsencode(runtime.binary), b"--root", os.fsencode(runtime.root), *args]
    out = subprocess.DEVNULL if detached else subprocess.PIPE
    return subprocess.run(argv, stdout=out, stderr=out, timeout=60, env=C_ENV, stdin=subprocess.DEVNULL)


def moved(b: Bundle, name: bytes) -> Bundle:
    """The bundle under a directory named by raw bytes."""
    new = os.path.join(os.fsencode(b.path.parent), name)
    os.rename(os.fsencode(b.path), new)
    return Bundle(Path(os.fsdecode(new)), b.config)


NOT_UTF8_GAP = reference_gap("runc 1.1.5 turns a non-UTF-8 bundle path into U+FFFD (its rootfs bind then fails)")


@pytest.mark.parametrize("name", [b"bundle-\xc3\xa9t\xc3\xa9", pytest.param(b"bundle-\xff\xfe", marks=NOT_UTF8_GAP)],
                         ids=["utf8", "not-utf8"])
def test_bundle_path_in_any_bytes(runtime: Runtime, make_bundle: BundleFactory, name: bytes) -> None:
    b = moved(make_bundle(sh("echo ran; pwd")), name)
    cid = runtime.new_id()
    runtime._prepare(b, cid)
    res = call(runtime, b"run", b"--bundle", os.fsencode(b.path), cid.encode())
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"ran\n/\n"
    assert not (runtime.root / cid).exists()


def test_unicode_args_reach_the_process(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b = make_bundle(["echo", "h\u00e9llo \u2603"])
    cid = runtime.new_id()
    runtime._prepare(b, cid)
    res = call(runtime, b"run", b"--bundle", os.fsencode(b.path), cid.encode())
    assert res.returncode == 0, res.stderr
    assert res.stdout == "h\u00e9llo \u2603\n".encode()


@reference_gap("runc 1.1.5 words it `chdir /nonexistent/\\xff`, escaped")
def test_error_about_a_non_utf8_path_is_clean(runtime: Runtime) -> None:
    res = call(runtime, b"run", b"--bundle", b"/nonexistent/\xff", b"enc-missing")
    assert res.returncode == 1
    assert b"Traceback" not in res.stderr
    assert b"/nonexistent/\xff/config.json" in res.stderr, res.stderr
    assert not (runtime.root / "enc-missing").exists()


@pytest.mark.railcar_only
def test_non_ascii_id_named_in_the_error(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b = make_bundle()
    runtime._prepare(b, "h\u00e9llo")
    res = call(runtime, b"create", b"--bundle", os.fsencode(b.path), "h\u00e9llo".encode())
    assert res.returncode == 1
    assert res.stderr == "railcar: invalid container id 'h\u00e9llo': use [A-Za-z0-9_+.-], no '..'\n".encode()


@reference_gap("runc 1.1.5 turns a non-UTF-8 bundle path into U+FFFD (its rootfs bind then fails)")
def test_list_and_ps_with_non_utf8_bytes(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # the inner shell's command line carries a 0xff byte made inside the container
    b = moved(make_bundle(sh("sh -c \"sleep 30; : $(printf '\\377')\"")), b"bundle-\xff")
    cid = runtime.new_id()
    runtime._prepare(b, cid)
    assert call(runtime, b"create", b"--bundle", os.fsencode(b.path), cid.encode(), detached=True).returncode == 0
    try:
        assert call(runtime, b"start", cid.encode()).returncode == 0
        listed = call(runtime, b"list")
        assert listed.returncode == 0, listed.stderr
        assert os.fsencode(b.path) in listed.stdout
        # procps prints the byte as "?": what matters is that ps reads such lines at all
        runtime.wait_until(lambda: b"sleep 30" in call(runtime, b"ps", cid.encode()).stdout, what="ps")
        ps = call(runtime, b"ps", cid.encode())
        assert ps.returncode == 0 and ps.stderr == b"", ps.stderr
    finally:
        runtime.delete(cid, force=True, check=False)
