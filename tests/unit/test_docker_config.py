"""tests/data/docker-config.json (recorded by bench/record_docker_config.py): railcar accepts what
docker wrote, and the bench's adaptation (bench/railbench/bundle.py) changes only what it must."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

from railcar import spec

REPO = Path(__file__).resolve().parents[2]
RECORDED = REPO / "tests" / "data" / "docker-config.json"
sys.path.insert(0, str(REPO / "bench"))

from railbench import bundle  # noqa: E402


def recorded() -> dict:
    return json.loads(RECORDED.read_text())


def write(tmp_path: Path, cfg: dict) -> str:
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return str(tmp_path)


def test_recorded_is_dockers_default_container() -> None:
    cfg = recorded()
    linux = cfg["linux"]
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO" and len(linux["seccomp"]["syscalls"]) > 5
    assert len(cfg["process"]["capabilities"]["bounding"]) == 14  # docker's default set
    assert linux["cgroupsPath"].startswith("/docker/")
    assert "/proc/kcore" in linux["maskedPaths"] and "/proc/sys" in linux["readonlyPaths"]
    assert {m["destination"] for m in cfg["mounts"]} >= {"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"}
    assert cfg["hooks"]["prestart"][0]["args"][0] == "libnetwork-setkey"


def test_railcar_validates_it(tmp_path: Path) -> None:
    cfg = recorded()
    (tmp_path / "rootfs").mkdir()
    cfg["root"]["path"] = "rootfs"  # docker's overlay mount is gone; everything else as recorded
    spec.load(write(tmp_path, cfg))


def test_bench_adaptation(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    files = bundle.make_docker_files(tmp_path / "files")
    original = recorded()
    cfg = bundle.make_docker_config(original, rootfs, files, hostname="c1", cgroups_path="/bench/c1")
    assert original == recorded()  # not modified in place
    assert cfg["root"]["path"] == str(rootfs) and cfg["process"]["args"] == ["/bin/true"]
    assert cfg["process"]["terminal"] is False
    assert cfg["hostname"] == "c1" and "HOSTNAME=c1" in cfg["process"]["env"]
    assert cfg["linux"]["cgroupsPath"] == "/bench/c1"
    assert all("path" not in ns for ns in cfg["linux"]["namespaces"])
    binds = [m for m in cfg["mounts"] if m["type"] == "bind"]
    assert binds and all(Path(m["source"]).parent == files and Path(m["source"]).is_file() for m in binds)
    assert cfg["hooks"]["prestart"] == [bundle.STAND_IN_HOOK]
    # the rest as docker wrote it
    for key in ("seccomp", "resources", "maskedPaths", "readonlyPaths", "sysctl"):
        assert cfg["linux"][key] == original["linux"][key], key
    assert cfg["process"]["capabilities"] == original["process"]["capabilities"]
    # a second container gets its own config
    other = bundle.make_docker_config(original, rootfs, files, hostname="c2", cgroups_path="/bench/c2")
    assert other["linux"]["cgroupsPath"] != cfg["linux"]["cgroupsPath"] and other["hostname"] == "c2"
    spec.load(write(tmp_path, cfg))


def test_namespace_paths_dropped(tmp_path: Path) -> None:
    original = recorded()
    joined = copy.deepcopy(original)
    for ns in joined["linux"]["namespaces"]:
        if ns["type"] == "network":
            ns["path"] = "/var/run/docker/netns/abc"  # as with --network container:X
    (tmp_path / "rootfs").mkdir()
    files = bundle.make_docker_files(tmp_path / "files")
    cfg = bundle.make_docker_config(joined, tmp_path / "rootfs", files, hostname="c", cgroups_path="/c")
    assert [ns["type"] for ns in cfg["linux"]["namespaces"]] == [ns["type"] for ns in original["linux"]["namespaces"]]
    assert all("path" not in ns for ns in cfg["linux"]["namespaces"])
