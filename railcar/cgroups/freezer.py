"""freezer: pausing and resuming a container's processes (`pause`, `resume`, and a kill that
stops forks first). v1 writes freezer.state until it reads back FROZEN / THAWED; v2 writes
cgroup.freeze and waits for cgroup.events to say frozen. Which one a cgroup uses, and reading
its state (every status check does), is the managers'."""

from __future__ import annotations

from railcar.cgroups.files import read_kv, read_word, wait_until, write, write_raw
from railcar.errors import RailcarError


def freeze_v1(d: str) -> None:
    def frozen() -> bool:
        write("pause", d, "freezer.state", "FROZEN")
        return read_word(d + "/freezer.state") == "FROZEN"

    if not wait_until(frozen, 10.0):
        _undo(d + "/freezer.state", "THAWED")
        raise RailcarError(f"pause: timed out waiting for {d}/freezer.state to be FROZEN")


def thaw_v1(d: str) -> None:
    def thawed() -> bool:
        write("resume", d, "freezer.state", "THAWED")
        return read_word(d + "/freezer.state") == "THAWED"

    if not wait_until(thawed, 10.0, 0.001, 0.001):
        raise RailcarError(f"resume: timed out waiting for {d}/freezer.state to be THAWED")


def freeze_v2(d: str) -> None:
    write("pause", d, "cgroup.freeze", "1")
    if not wait_until(lambda: read_kv(d + "/cgroup.events").get("frozen") == 1, 10.0):
        _undo(d + "/cgroup.freeze", "0")
        raise RailcarError(f"pause: timed out waiting for {d} to be frozen")


def thaw_v2(d: str) -> None:
    write("resume", d, "cgroup.freeze", "0")


def _undo(path: str, value: str) -> None:
    """A freeze that timed out is taken back (best effort)."""
    try:
        write_raw(path, value)
    except OSError:
        pass
