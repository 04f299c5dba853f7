"""An unprivileged user for rootless tests: made once (idempotently) with subuid/subgid ranges,
Debian's `uidmap` (setuid newuidmap/newgidmap) installed if missing, and helpers to run a
command as that user with its own $XDG_RUNTIME_DIR."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

USER = os.environ.get("RAILCAR_TEST_ROOTLESS_USER", "railcar-rl")
SUBID_COUNT = 65536
SUBID_FLOOR = 100000


@dataclass
class User:
    name: str
    uid: int
    gid: int
    home: Path
    subuid: tuple[int, int]  # (first host id, count)
    subgid: tuple[int, int]

    def env(self, xdg: Path | None, **extra: str) -> dict[str, str]:
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.home), "USER": self.name, "LOGNAME": self.name, "LANG": "C.UTF-8",
        }
        if xdg is not None:
            env["XDG_RUNTIME_DIR"] = str(xdg)
        env.update(extra)
        return env

    def run(self, argv: list[str], *, env: dict[str, str], cwd: Path | None = None,
            timeout: float = 60.0, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """argv as this user (its uid, gid and no supplementary groups). Output goes through
        files, not pipes: a detached container keeps its stdio open after the runtime exits."""
        import tempfile

        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            res = subprocess.run(argv, user=self.uid, group=self.gid, extra_groups=[], env=env,
                                 cwd=cwd, stdout=out, stderr=err, timeout=timeout,
                                 input=input.encode() if input is not None else None,
                                 stdin=None if input is not None else subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, res.returncode, out.read().decode(errors="replace"),
                                               err.read().decode(errors="replace"))

    def processes(self) -> list[int]:
        """Pids of processes running as this user (what its tests started)."""
        out = []
        for p in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.stat(f"/proc/{p}").st_uid == self.uid:
                    out.append(int(p))
            except OSError:
                pass
        return out

    def kill_leftovers(self) -> list[int]:
        """SIGKILL, by pid, whatever a test left running as this user; returns those pids."""
        left = self.processes()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.02)
        return left


def _installed(pkg: str) -> bool:
    res = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", pkg], capture_output=True, text=True)
    return res.returncode == 0 and res.stdout.strip().endswith(" installed")


def ensure_uidmap() -> None:
    """newuidmap/newgidmap (Debian's uidmap), installed as the suite installs other packages."""
    if _installed("uidmap"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-q", "uidmap"], env=env, check=True, capture_output=True,
                   timeout=600)


def _ranges(path: Path) -> list[tuple[str, int, int]]:
    out = []
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def _ensure_range(path: Path, name: str, uid: int) -> tuple[int, int]:
    """The user's range in /etc/subuid or /etc/subgid, added after every other one if missing."""
    have = _ranges(path)
    for who, start, count in have:
        if who in (name, str(uid)) and count >= SUBID_COUNT:
            return start, count
    start = max([SUBID_FLOOR, *(s + c for _, s, c in have)])
    with path.open("a") as f:
        f.write(f"{name}:{start}:{SUBID_COUNT}\n")
    return start, SUBID_COUNT


def ensure_user(name: str = USER) -> User:
    """The test user, made if missing (useradd -m), with subuid/subgid ranges; uidmap installed."""
    ensure_uidmap()
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
        pw = pwd.getpwnam(name)
    return User(name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir),
                _ensure_range(Path("/etc/subuid"), name, pw.pw_uid),
                _ensure_range(Path("/etc/subgid"), name, pw.pw_uid))


def chown_tree(path: Path, uid: int, gid: int) -> None:
    """chown -R without following symlinks (a rootfs's links point at host paths)."""
    subprocess.run(["chown", "-hR", f"{uid}:{gid}", str(path)], check=True)
