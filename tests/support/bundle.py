"""Busybox root filesystems and runc-style config.json files for integration tests."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUSYBOX = Path(os.environ.get("RAILCAR_TEST_BUSYBOX", "/bin/busybox"))

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:tester:/home/tester:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """\
root:x:0:
tty:x:5:
wheel:x:10:
audio:x:29:
users:x:100:
tester:x:1000:
nogroup:x:65534:
"""
EMPTY_DIRS = ("proc", "sys", "dev", "tmp", "etc", "root", "home/tester", "mnt", "run", "var")


def make_rootfs(path: Path) -> None:
    """Build a busybox rootfs at `path`: every applet linked into /bin, a passwd/group, empty dirs."""
    if not BUSYBOX.is_file():
        raise RuntimeError(f"{BUSYBOX} missing: apt-get install busybox-static")
    bindir = path / "bin"
    bindir.mkdir(parents=True)
    shutil.copy2(BUSYBOX, bindir / "busybox")
    applets = subprocess.run([str(BUSYBOX), "--list"], check=True, capture_output=True, text=True).stdout
    for name in applets.split():
        if name != "busybox" and "/" not in name:
            (bindir / name).symlink_to("busybox")
    for d in EMPTY_DIRS:
        (path / d).mkdir(parents=True, exist_ok=True)
    (path / "tmp").chmod(0o1777)
    (path / "etc/passwd").write_text(PASSWD)
    (path / "etc/group").write_text(GROUP)
    for name in ("hosts", "resolv.conf", "hostname"):
        (path / "etc" / name).write_text("")
    (path / "home/tester").chmod(0o755)
    os.chown(path / "home/tester", 1000, 1000)


def copy_rootfs(src: Path, dst: Path) -> None:
    """A private, writable copy of a cached rootfs (a few MB: cheap)."""
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


# runc 1.1's `runc spec`, minus the terminal, with a writable root (tests opt in to readonly).
_DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
_NOSUID_NOEXEC_NODEV = ["nosuid", "noexec", "nodev"]
DEFAULT_SPEC: dict[str, Any] = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["true"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {k: list(_DEFAULT_CAPS) for k in ("bounding", "effective", "permitted", "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": False},
    "hostname": "testbox",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": [*_NOSUID_NOEXEC_NODEV, "mode=1777", "size=65536k"],
        },
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": _NOSUID_NOEXEC_NODEV},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*_NOSUID_NOEXEC_NODEV, "ro"]},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": [*_NOSUID_NOEXEC_NODEV, "relatime", "ro"],
        },
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": [
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
        ],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge in place: dicts merge recursively, None deletes a key, anything else replaces."""
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def make_config(args: Sequence[str] = ("true",), **overrides: Any) -> dict[str, Any]:
    """The default test spec running `args`; `overrides` are deep-merged (see `merge`)."""
    spec = copy.deepcopy(DEFAULT_SPEC)
    spec["process"]["args"] = list(args)
    return merge(spec, overrides)


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


@dataclass
class Bundle:
    path: Path
    config: dict[str, Any] = field(default_factory=make_config)
    hand_written: bool = False  # config.json was written by the test: write() leaves it alone

    @property
    def rootfs(self) -> Path:
        return self.path / self.config["root"]["path"]

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    def write(self) -> None:
        if not self.hand_written:
            self.config_path.write_text(json.dumps(self.config, indent=1))

    def set_namespace(self, ns_type: str, path: str | None = None) -> None:
        """Add (or replace) a namespace entry; `path` joins an existing one."""
        nss = self.config.setdefault("linux", {}).setdefault("namespaces", [])
        nss[:] = [ns for ns in nss if ns["type"] != ns_type]
        nss.append({"type": ns_type, **({"path": path} if path else {})})

    def drop_namespace(self, ns_type: str) -> None:
        nss = self.config.get("linux", {}).get("namespaces", [])
        nss[:] = [ns for ns in nss if ns["type"] != ns_type]

    def add_mount(self, destination: str, type_: str, source: str, options: Sequence[str] = ()) -> None:
        self.config.setdefault("mounts", []).append(
            {"destination": destination, "type": type_, "source": source, "options": list(options)}
        )
