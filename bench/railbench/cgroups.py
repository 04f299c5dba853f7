"""The cgroup mounts this process sees, and removal of the cgroups a benchmark left behind."""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

UNIFIED = "/sys/fs/cgroup/unified"


def cgroup_mounts(mountinfo: str | None = None) -> dict[str, str]:
    """Mount point -> fstype ("cgroup" or "cgroup2") from /proc/self/mountinfo."""
    text = mountinfo if mountinfo is not None else Path("/proc/self/mountinfo").read_text()
    mounts: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        sep = fields.index("-")
        fstype = fields[sep + 1]
        if fstype in ("cgroup", "cgroup2"):
            mounts[fields[4]] = fstype
    return mounts


def layout(mounts: dict[str, str]) -> str:
    """ "v1", "v2", "hybrid" (v1 controllers plus a cgroup2 mount) or "none"."""
    kinds = set(mounts.values())
    if kinds == {"cgroup2"}:
        return "v2"
    if kinds == {"cgroup"}:
        return "v1"
    return "hybrid" if kinds else "none"


def _kill_members(path: Path) -> None:
    try:
        pids = (path / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def _rmdir(path: Path, attempts: int = 20) -> str | None:
    """rmdir one cgroup, killing its members if busy; an error text if it stays."""
    for _ in range(attempts):
        try:
            path.rmdir()
            return None
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                return f"{path}: {exc.strerror}"
            _kill_members(path)
            time.sleep(0.01)
    return f"{path}: still busy"


def _remove_tree(top: Path) -> list[str]:
    """rmdir `top` and its children, deepest first; errors, if any."""
    errors: list[str] = []
    for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
        err = _rmdir(Path(dirpath))
        if err:
            errors.append(err)
    return errors


def remove(rel: str) -> list[str]:
    """Remove cgroup `rel` (and any children) from every hierarchy; errors, if any."""
    errors: list[str] = []
    for mount in cgroup_mounts():
        top = Path(mount) / rel.strip("/")
        if top.is_dir():
            errors += _remove_tree(top)
    return errors


def find(prefix: str, max_depth: int = 3) -> list[Path]:
    """Cgroups (in any hierarchy, up to `max_depth` levels down) whose name starts with `prefix`."""
    found: list[Path] = []
    for mount in cgroup_mounts():
        base = mount.rstrip("/").count("/")
        for dirpath, dirnames, _ in os.walk(mount):
            found += [Path(dirpath) / d for d in dirnames if d.startswith(prefix)]
            if dirpath.count("/") - base >= max_depth - 1:
                dirnames.clear()
    return found


def remove_found(prefix: str) -> list[str]:
    """Remove every cgroup `find` reports for `prefix` (the runtimes' default cgroup paths)."""
    errors: list[str] = []
    for path in find(prefix):
        errors += _remove_tree(path)
    return errors
