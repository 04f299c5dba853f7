"""Reading /proc: mountinfo, status, namespaces, processes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Mount:
    mountpoint: str
    root: str
    fstype: str
    source: str
    options: frozenset[str]  # per-mount (ro, nosuid, ...)
    optional: frozenset[str]  # shared:N, master:N, ...
    super_options: frozenset[str]  # filesystem options (size=..., mode=...)

    def propagation(self) -> set[str]:
        """{"shared", "master"} subset; empty means private."""
        return {f.split(":")[0] for f in self.optional if f.startswith(("shared:", "master:"))}


def parse_mountinfo(text: str) -> dict[str, Mount]:
    """Mount point -> the topmost mount there (lines that are not mountinfo are skipped)."""
    mounts: dict[str, Mount] = {}
    for line in text.splitlines():
        pre, sep, post = line.partition(" - ")
        f = pre.split()
        if not sep or len(f) < 6:
            continue
        fstype, source, sopts = (post.split() + ["", ""])[:3]
        mp = f[4].replace("\\040", " ")
        mounts[mp] = Mount(
            mountpoint=mp,
            root=f[3],
            fstype=fstype,
            source=source,
            options=frozenset(f[5].split(",")),
            optional=frozenset(f[6:]),
            super_options=frozenset(sopts.split(",")),
        )
    return mounts


def parse_status(text: str) -> dict[str, str]:
    """/proc/PID/status as key -> value (tabs collapsed to single spaces)."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = " ".join(value.split())
    return out


def parse_limits(text: str) -> dict[str, tuple[str, str]]:
    """/proc/PID/limits: 'Max open files' -> (soft, hard)."""
    out = {}
    for line in text.splitlines()[1:]:
        name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
        out[name] = (soft, hard)
    return out


def ns_link(ns: str, pid: int | str = "self") -> str:
    return os.readlink(f"/proc/{pid}/ns/{ns}")


def pids_in_pidns(link: str) -> list[int]:
    """Host pids of the processes whose pid namespace is `link` (e.g. 'pid:[4026532]')."""
    found = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.readlink(f"/proc/{p}/ns/pid") == link:
                    found.append(int(p))
            except OSError:
                pass
    return found


def proc_state(pid: int) -> str | None:
    """The state letter of /proc/PID/stat (R, S, Z...), None if gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return data[data.rindex(")") + 2]
