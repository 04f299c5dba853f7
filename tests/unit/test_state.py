"""railcar.state without containers: ids, whole-or-nothing writes, the validation of a state
read back, and what delete --force salvages from a damaged one."""

from __future__ import annotations

import json
import os
import resource
import signal
from pathlib import Path

import pytest

from railcar.errors import RailcarError
from railcar.state import STATE, Container, list_ids, state_problem, valid_id, write_atomic

GOOD = {"ociVersion": "1.0.2", "id": "c1", "pid": 1234, "pid_start": 99, "bundle": "/b", "rootfs": "/b/r",
        "created": "2026-01-01T00:00:00Z", "annotations": {}, "owner": "", "hooks": {}, "init": True,
        "config": {}, "cgroup": {"kind": "v1", "path": "/railcar/c1",
                                 "v1": {"memory": "/sys/fs/cgroup/memory/railcar/c1"}, "v2": "",
                                 "v2_controllers": [], "inodes": {}}}


def test_ids() -> None:
    assert valid_id(".hidden") and valid_id("a+b") and not valid_id("@railcar") and not valid_id("a..b")


def test_list_ids_skips_what_is_not_a_container(tmp_path: Path) -> None:
    for name in ("a", ".b", "@railcar", "no-state"):
        (tmp_path / name).mkdir()
    for name in ("a", ".b", "@railcar"):
        (tmp_path / name / STATE).write_text("{}")
    assert list_ids(str(tmp_path)) == [".b", "a"]


def test_write_atomic_whole_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    data = b"x" * 300_000
    pid = os.fork()
    if pid == 0:  # a file-size limit below the data: the write fails, the old file stays
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            write_atomic(str(target), data)
        except OSError as e:
            os._exit(0 if e.errno == 27 and e.filename == str(target) else 2)  # EFBIG
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"], "a temporary file was left"
    write_atomic(str(target), data)
    assert target.read_bytes() == data


@pytest.mark.parametrize("bad,why", [
    ([1, 2], "not a JSON object"),
    ({"foo": [1]}, "pid is missing"),
    ({**GOOD, "pid": "abc"}, "pid: must be a pid"),
    ({**GOOD, "pid": True}, "pid: must be a pid"),
    ({**GOOD, "pid_start": -1}, "pid_start"),
    ({**GOOD, "cgroup": {**GOOD["cgroup"], "v1": {"memory": "/sys/fs/cgroup/memory/../../x"}}}, "normalized"),
    ({**GOOD, "cgroup": {**GOOD["cgroup"], "v1": {f"x{i}": f"/c/{i}" for i in range(65)}}}, "at most 64"),
    ({**GOOD, "hooks": {"poststop": [{"args": []}]}}, "hooks"),
    ({**GOOD, "init": "yes"}, "init"),
])
def test_state_problems(bad: object, why: str) -> None:
    problem = state_problem(bad)
    assert problem is not None and why in problem, problem


def test_good_state_passes() -> None:
    assert state_problem(GOOD) is None
    assert state_problem(json.loads(json.dumps(GOOD))) is None


def _container(tmp_path: Path, state: bytes, fast: str | None = None) -> Container:
    d = tmp_path / "c1"
    d.mkdir()
    (d / STATE).write_bytes(state)
    if fast is not None:
        (d / "fast").write_text(fast)
    return Container(str(tmp_path), "c1")


def test_load_refuses_a_corrupt_state(tmp_path: Path) -> None:
    _container(tmp_path, b'{"pid": 12')
    with pytest.raises(RailcarError) as e:
        Container.load(str(tmp_path), "c1")
    assert "state of container c1 is corrupt" in e.value.msg


def test_salvage_takes_the_valid_fields_then_the_fast_file(tmp_path: Path) -> None:
    fast = "railcar-fast 1\npid 4321 77\ncgroup /sys/fs/cgroup/pids/railcar/c1\ncgroup ../escape\n"
    _container(tmp_path, json.dumps({"pid": "abc", "cgroup": GOOD["cgroup"]}).encode(), fast)
    c = Container.load(str(tmp_path), "c1", salvage=True)
    assert c.data["corrupt"] and c.data["cgroup"] == GOOD["cgroup"]
    assert (c.data["pid"], c.data["pid_start"]) == (4321, 77)
    c.unlock()


def test_salvage_from_the_fast_file_alone(tmp_path: Path) -> None:
    fast = "railcar-fast 1\npid 4321 77\ncgroup /sys/fs/cgroup/pids/railcar/c1\ncgroup ../escape\n"
    _container(tmp_path, b"[1,2]", fast)
    c = Container.load(str(tmp_path), "c1", salvage=True)
    assert c.data["cgroup"]["v1"] == {"dir0": "/sys/fs/cgroup/pids/railcar/c1"}  # the bad line dropped
    assert c.status() == "stopped"  # pid 4321 with start 77 is not a live process of ours
    c.unlock()
