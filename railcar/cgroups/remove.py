"""Removing a container's cgroup (Manager.destroy): refuse what cannot be ours, kill what is
inside, rmdir every directory children first. Apart from manager.py: `create` never needs it."""

from __future__ import annotations

import time

from railcar import posixos as os
from railcar.cgroups.files import errtext, exists, pids_in, read_word, wait_until
from railcar.cgroups.manager import NotOurs
from railcar.errors import RailcarError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cgroups.manager import Manager


def destroy(m: Manager, kill: bool) -> None:
    """Optionally SIGKILL everything inside, then rmdir every directory (children first)."""
    check_owned(m)
    if kill:
        kill_all(m)
    failed = [err for err in map(_rmtree, m.dirs()) if err]
    if failed:
        raise RailcarError("cgroups: " + "; ".join(failed))


def only(m: Manager, dirs: list[str]) -> Manager:
    """A manager of m's directories in `dirs` only (the others are removed already: Manager.destroy
    rmdirs each directory create made once before it comes here)."""
    keep = set(dirs)
    rest = type(m)(m.kind, m.path, {c: d for c, d in m.v1.items() if d in keep},
                   m.v2 if m.v2 in keep else "", m.v2_controllers, m.inodes)
    rest.rootless = m.rootless
    return rest


def check_owned(m: Manager) -> None:
    """Refuse to kill in or remove what cannot be a container's cgroup (a state file that was
    forged or damaged): a directory that is not a cgroup, one another container made, a
    hierarchy's root, or one that holds this very process."""
    me = os.getpid()
    for d in m.dirs():
        try:
            st = os.stat(d)
        except FileNotFoundError:
            continue  # never made, or gone: nothing to do there
        except OSError as e:
            raise RailcarError(f"cgroups: stat {d}: {errtext(e)}") from None
        if m.inodes and m.inodes.get(d) == st.st_ino:
            continue  # the directory create made (recorded after its mkdir): nothing more to ask
        up = os.stat(os.path.dirname(d))
        why = ""
        if not exists(d + "/cgroup.procs"):
            why = "not a cgroup"
        elif m.inodes and m.inodes.get(d) != st.st_ino:
            why = "not the directory this container made (another path or inode)"
        elif st.st_dev != up.st_dev:
            why = "the root of a cgroup hierarchy"
        elif me in pids_in(d):
            why = "the runtime's own cgroup"
        if why:
            raise NotOurs(f"cgroups: refusing to remove {d}: {why}")


def kill_all(m: Manager) -> None:
    """SIGKILL everything in every directory, and again until nothing is left (5 s at most)."""
    deadline = time.monotonic() + 5.0
    if not m.kill_at_once():
        # freeze first so nothing forks while we kill
        if m.freezer_file()[0] and _all_pids(m):
            try:
                m.freeze()
            except RailcarError:
                pass
        _signal(_all_pids(m))
    # a task frozen by the v1 freezer cannot die: thaw (a no-op when not frozen)
    fz = m.freezer_file()[0]
    if fz and read_word(fz) not in ("THAWED", "0", ""):
        try:
            m.thaw()
        except RailcarError:
            pass

    def gone() -> bool:
        left = _all_pids(m)
        _signal(left)
        return not left

    wait_until(gone, max(deadline - time.monotonic(), 0.0), 0.001)


def _all_pids(m: Manager) -> set[int]:
    out: set[int] = set()
    for d in m.dirs():
        out.update(pids_in(d))
    return out


def _signal(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def _rmtree(d: str) -> str:
    """rmdir d and any sub-cgroups, children first; EBUSY retried. Returns an error or ""."""
    if not exists(d):
        return ""
    for sub in [top for top, _dirs, _files in os.walk(d, topdown=False)]:
        delay = 0.01
        for attempt in range(8):
            try:
                os.rmdir(sub)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno == 16 and attempt < 7:  # EBUSY: its last tasks are still exiting
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
                    continue
                return f"rmdir {sub}: {errtext(e)}"
    return ""
