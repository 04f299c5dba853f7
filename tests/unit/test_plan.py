"""config.json (validated) → LaunchPlan, without running anything: namespaces as clone flags
and joined fds, id maps, mount and symlink records, devices, sysctls."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from railcar import mountopts as mo
from railcar import plan
from railcar.errors import SpecError
from railcar.spec import devices, mounts, namespaces, sysctl
from tests.support.bundle import make_config


def _plan() -> plan.LaunchPlan:
    lp = plan.LaunchPlan()
    lp.floor = 3
    return lp


def test_new_namespaces_are_clone_flags() -> None:
    lp = _plan()
    ns = namespaces.plan(make_config(), lp)
    want = sum(namespaces.NS_FLAGS[t] for t in ns)
    assert lp.new_flags == want and lp.joins == []
    assert all(v is None for v in ns.values())


def test_joined_namespace_is_an_fd_of_the_right_type() -> None:
    cfg = make_config()
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "network"]
    cfg["linux"]["namespaces"].append({"type": "network", "path": "/proc/self/ns/net"})
    lp = _plan()
    try:
        ns = namespaces.plan(cfg, lp)
        assert ns["network"] == "/proc/self/ns/net"
        assert [t for _, t in lp.joins] == [namespaces.NS_FLAGS["network"]]
        assert not lp.new_flags & namespaces.NS_FLAGS["network"]
    finally:
        lp.close()
    cfg["linux"]["namespaces"][-1]["path"] = "/proc/self/ns/uts"
    with pytest.raises(SpecError, match="is a uts namespace, not a network namespace"):
        namespaces.plan(cfg, _plan())


def test_id_maps_only_with_a_new_user_namespace() -> None:
    cfg = make_config()
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1},
                                   {"containerID": 1, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    lp = _plan()
    namespaces.id_maps(cfg, lp, namespaces.plan(cfg, lp))
    assert lp.uid_map == b"0 1000 1\n1 100000 65536\n" and lp.gid_map == b"0 1000 1\n"
    assert lp.devices_bind == 1  # a user namespace cannot mknod: device nodes are bound


def test_mount_records(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "file").write_text("x")
    cfg = make_config()
    cfg["mounts"] = [
        {"destination": "/data", "type": "bind", "source": "src", "options": ["rbind", "ro", "nosuid"]},
        {"destination": "/f", "type": "bind", "source": str(tmp_path / "file"), "options": ["bind"]},
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755", "noexec"]},
    ]
    lp = _plan()
    mounts.plan(cfg, str(tmp_path), lp, namespaces.plan(cfg, lp), [])
    bind, f, tmpfs = lp.mounts
    assert isinstance(bind, plan.Mount) and bind.source == str(tmp_path / "src").encode()  # bundle-relative
    assert bind.flags == mo.MS_BIND | mo.MS_REC and bind.remount == mo.MS_RDONLY | mo.MS_NOSUID
    assert bind.is_file == 0 and bind.field == b"mounts[0]"
    assert f.is_file == 1
    assert (tmpfs.fstype, tmpfs.data, tmpfs.flags) == (b"tmpfs", b"mode=755", mo.MS_NOEXEC)
    cfg["mounts"] = [{"destination": "/x", "type": "bind", "source": "/nonexistent-src"}]
    with pytest.raises(SpecError, match=r"mounts\[0\].source: stat /nonexistent-src: no such file"):
        mounts.plan(cfg, str(tmp_path), _plan(), {}, [])


def test_devices_and_dev_symlinks() -> None:
    cfg = make_config()
    cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600}]
    lp = _plan()
    devices.plan(cfg, lp)
    by_path = {d[0]: d for d in lp.devices}
    assert by_path[b"/dev/null"][3] == os.makedev(1, 3)
    assert by_path[b"/dev/fuse"][2] == devices.S_IFCHR | 0o600 and by_path[b"/dev/fuse"][3] == os.makedev(10, 229)
    links = {m.link: m.target for m in lp.mounts if isinstance(m, plan.Symlink)}
    assert links[b"/dev/fd"] == b"/proc/self/fd" and links[b"/dev/ptmx"] == b"pts/ptmx"


@pytest.mark.parametrize("key,ns_types,err", [
    ("net.ipv4.ip_forward", ["network"], None),
    ("net.ipv4.ip_forward", [], "without a network namespace"),
    ("kernel.shmmax", ["ipc"], None),
    ("kernel.hostname", ["uts"], "conflicts with the \"hostname\" field"),
    ("vm.swappiness", ["ipc", "network"], "not in a separate kernel namespace"),
    ("net/../x", ["network"], "invalid sysctl name"),
])
def test_sysctls(key: str, ns_types: list[str], err: str | None) -> None:
    cfg = make_config()
    cfg["linux"]["sysctl"] = {key: "1"}
    lp = _plan()
    ns: dict[str, str | None] = {t: None for t in ns_types}
    if err is None:
        sysctl.plan(cfg, lp, ns)
        assert lp.sysctl == [(b"/proc/sys/" + key.replace(".", "/").encode(), b"1",
                              f'linux.sysctl["{key}"]'.encode())]
    else:
        with pytest.raises(SpecError, match=err):
            sysctl.plan(cfg, lp, ns)
