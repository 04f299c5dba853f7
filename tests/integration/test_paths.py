"""maskedPaths, readonlyPaths, a read-only root."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import BundleFactory, RunIn, Runtime, describe
from tests.support.bundle import DEFAULT_SPEC, Bundle, sh
from tests.support.procfs import parse_mountinfo

# "TAG:what happened" lines are easy to assert on
PROBE_FILE = 'echo "{p}:[$(cat {p} 2>&1)]"; (echo x >> {p}) 2>/dev/null && echo {p}:WRITABLE || echo {p}:RO'
PROBE_DIR = 'echo "{p}:[$(ls -A {p} 2>&1)]"; (touch {p}/new) 2>/dev/null && echo {p}:WRITABLE || echo {p}:RO'


def probe(kind: str, path: str) -> str:
    return (PROBE_FILE if kind == "file" else PROBE_DIR).format(p=path)


def run_probes(runtime: Runtime, b: Bundle, probes: list[tuple[str, str]]) -> list[str]:
    b.config["process"]["args"] = sh("; ".join(probe(k, p) for k, p in probes))
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    return res.stdout.splitlines()


def populate(b: Bundle) -> None:
    (b.rootfs / "etc/secret").write_text("s3cret")
    (b.rootfs / "opt/secretdir").mkdir(parents=True)
    (b.rootfs / "opt/secretdir/key").write_text("k")
    (b.rootfs / "data").mkdir()
    (b.rootfs / "data/file").write_text("d")
    (b.rootfs / "etc/ro.conf").write_text("c")


def test_default_masked_paths(runtime: Runtime, make_bundle: BundleFactory) -> None:
    present = [p for p in DEFAULT_SPEC["linux"]["maskedPaths"] if Path(p).exists()]
    probes = [("dir" if Path(p).is_dir() else "file", p) for p in present]
    lines = run_probes(runtime, make_bundle(), probes)
    for kind, p in probes:
        assert f"{p}:[]" in lines, lines  # empty
        if kind == "dir":  # a file is masked by /dev/null: writes vanish without failing
            assert f"{p}:RO" in lines, lines


def test_custom_masked_paths(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b = make_bundle()
    populate(b)
    b.config["linux"]["maskedPaths"] = ["/etc/secret", "/opt/secretdir", "/does/not/exist"]
    lines = run_probes(runtime, b, [("file", "/etc/secret"), ("dir", "/opt/secretdir"), ("file", "/etc/ro.conf")])
    assert lines == [
        "/etc/secret:[]",
        "/etc/secret:WRITABLE",  # into /dev/null
        "/opt/secretdir:[]",
        "/opt/secretdir:RO",
        "/etc/ro.conf:[c]",
        "/etc/ro.conf:WRITABLE",
    ]
    assert (b.rootfs / "etc/secret").read_text() == "s3cret"
    assert not (b.rootfs / "does").exists()


def test_masked_paths_in_mountinfo(run_in: RunIn) -> None:
    m = parse_mountinfo(
        run_in(["cat", "/proc/self/mountinfo"], linux={"maskedPaths": ["/proc/keys", "/sys/firmware"]}).stdout
    )
    assert m["/sys/firmware"].fstype == "tmpfs" and "ro" in m["/sys/firmware"].options
    assert m["/proc/keys"].root.endswith("/null")  # a bind of /dev/null


def test_readonly_paths(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b = make_bundle()
    populate(b)
    b.config["linux"]["readonlyPaths"] = ["/data", "/etc/ro.conf", "/proc/sys", "/does/not/exist"]
    lines = run_probes(runtime, b, [("dir", "/data"), ("file", "/etc/ro.conf"), ("dir", "/tmp")])
    assert lines == ["/data:[file]", "/data:RO", "/etc/ro.conf:[c]", "/etc/ro.conf:RO", "/tmp:[]", "/tmp:WRITABLE"]


def test_default_readonly_proc_sys(run_in: RunIn) -> None:
    res = run_in(
        sh(
            "cat /proc/sys/kernel/ostype; (echo x > /proc/sys/kernel/domainname) 2>&1; "
            "grep ' /proc/sys ' /proc/self/mountinfo"
        )
    )
    ostype, err, mline = res.stdout.splitlines()
    assert ostype == "Linux"
    assert "Read-only file system" in err
    assert "ro" in parse_mountinfo(mline)["/proc/sys"].options


def test_readonly_root(run_in: RunIn) -> None:
    res = run_in(
        sh(
            "(touch /x) 2>&1; (touch /etc/x) 2>&1; touch /tmp/ok /dev/shm/ok && echo TMPFS-OK; cat /proc/self/mountinfo"
        ),
        root={"readonly": True},
        mounts=[*DEFAULT_SPEC["mounts"], {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}],
    )
    lines = res.stdout.splitlines()
    assert "Read-only file system" in lines[0] and "Read-only file system" in lines[1]
    assert lines[2] == "TMPFS-OK"
    assert "ro" in parse_mountinfo(res.stdout)["/"].options


def test_writable_root_by_default(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b = make_bundle(["touch", "/created-inside"])
    assert runtime.run_container(b).returncode == 0
    assert (b.rootfs / "created-inside").exists()
