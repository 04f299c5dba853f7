"""/dev: default device nodes and symlinks, linux.devices."""

from __future__ import annotations

import pytest

from tests.conftest import RunIn
from tests.support.bundle import sh

# name -> (major, minor)
DEFAULT_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}
DEFAULT_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "ptmx": "pts/ptmx",
}
STAT = "stat -c '%n|%F|%t|%T|%a|%u|%g'"


def stat_lines(text: str) -> dict[str, list[str]]:
    """Output of STAT -> path -> [type, major, minor (decimal), mode, uid, gid]."""
    out = {}
    for line in text.splitlines():
        name, ftype, major, minor, mode, uid, gid = line.split("|")
        out[name] = [ftype, str(int(major, 16)), str(int(minor, 16)), mode, uid, gid]
    return out


def test_default_devices(run_in: RunIn) -> None:
    res = run_in(sh(f"cd /dev && {STAT} {' '.join(DEFAULT_DEVICES)}"))
    got = stat_lines(res.stdout)
    for name, (major, minor) in DEFAULT_DEVICES.items():
        assert got[name] == ["character special file", str(major), str(minor), "666", "0", "0"], name


def test_default_symlinks(run_in: RunIn) -> None:
    script = "; ".join(f"echo {n}=$(readlink /dev/{n})" for n in DEFAULT_LINKS)
    res = run_in(sh(script))
    assert res.stdout.splitlines() == [f"{n}={t}" for n, t in DEFAULT_LINKS.items()]


def test_default_devices_work(run_in: RunIn) -> None:
    res = run_in(
        sh(
            "echo gone > /dev/null; head -c 4 /dev/zero | wc -c; head -c 8 /dev/urandom | wc -c; "
            "echo x > /dev/full || echo FULL"
        )
    )
    assert res.stdout.split() == ["4", "8", "FULL"]


def test_no_host_devices_leak(run_in: RunIn) -> None:
    res = run_in(["ls", "/dev"])
    names = set(res.stdout.split())
    assert names <= set(DEFAULT_DEVICES) | set(DEFAULT_LINKS) | {"pts", "shm", "mqueue", "console", "core"}
    assert "vda" not in names and "kmsg" not in names


def test_linux_devices_char_device(run_in: RunIn) -> None:
    dev = {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1000, "gid": 29}
    res = run_in(sh(f"{STAT} /dev/mynull"), linux={"devices": [dev]})
    assert stat_lines(res.stdout)["/dev/mynull"] == ["character special file", "1", "3", "640", "1000", "29"]


@pytest.mark.parametrize("rule", [True, False], ids=["allowed", "no-rule"])
def test_linux_devices_usable(run_in: RunIn, rule: bool) -> None:
    dev = {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666}
    rules = [{"allow": False, "access": "rwm"}]
    if rule:
        rules.append({"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"})
    res = run_in(
        sh("echo data > /dev/mynull && echo WROTE"),
        expect=None,
        linux={"devices": [dev], "resources": {"devices": rules}},
    )
    assert res.stdout == "WROTE\n", res.stderr


def test_linux_devices_nested_path(run_in: RunIn) -> None:
    dev = {"path": "/dev/sub/dir/zero", "type": "c", "major": 1, "minor": 5}
    res = run_in(sh(f"{STAT} /dev/sub/dir/zero"), linux={"devices": [dev]})
    assert stat_lines(res.stdout)["/dev/sub/dir/zero"][:3] == ["character special file", "1", "5"]


@pytest.mark.parametrize("rules", [[], None], ids=["empty", "absent"])
def test_no_device_rules_means_the_default_list_only(run_in: RunIn, rules: list[object] | None) -> None:
    """No linux.resources.devices rules (a hand-written config.json): runc's default list is all a
    container may open; a node made inside of any other device is denied (runc 1.1.5: DENIED)."""
    res = run_in(
        sh("mknod /tmp/kmsg c 1 11 && echo MADE; (: > /tmp/kmsg) 2>/dev/null && echo OPENED || echo DENIED"),
        process={"capabilities": {k: ["CAP_MKNOD"] for k in ("bounding", "effective", "permitted")}},
        linux={"resources": {"devices": rules}},
    )
    assert res.stdout == "MADE\nDENIED\n"


def test_device_cgroup_denies_unlisted(run_in: RunIn) -> None:
    # a node made inside (here /dev/kmsg's 1:11) is not usable: the devices rules deny it
    res = run_in(
        sh("mknod /tmp/kmsg c 1 11 && echo MADE; (: > /tmp/kmsg) 2>/dev/null && echo OPENED || echo DENIED"),
        process={"capabilities": {k: ["CAP_MKNOD"] for k in ("bounding", "effective", "permitted")}},
    )
    assert res.stdout == "MADE\nDENIED\n"
