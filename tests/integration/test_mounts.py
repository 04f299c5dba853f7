"""config.json mounts: types, options, bind sources, targets, propagation."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MS_BIND, MS_SHARED, BundleFactory, RunIn, Runtime, describe, host_mount, reference_gap
from tests.support.bundle import Bundle, sh
from tests.support.procfs import Mount, parse_mountinfo

MOUNTINFO = ["cat", "/proc/self/mountinfo"]


def run_mounts(
    runtime: Runtime, make_bundle: BundleFactory, mounts: list[dict[str, Any]], args: list[str] = MOUNTINFO
) -> subprocess.CompletedProcess[str]:
    b = make_bundle(args)
    b.config["mounts"] += mounts
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    return res


def mount_table(runtime: Runtime, make_bundle: BundleFactory, mounts: list[dict[str, Any]]) -> dict[str, Mount]:
    return parse_mountinfo(run_mounts(runtime, make_bundle, mounts).stdout)


def mnt(destination: str, type_: str, source: str, *options: str) -> dict[str, Any]:
    return {"destination": destination, "type": type_, "source": source, "options": list(options)}


def host_dir(runtime: Runtime, name: str, files: dict[str, str] | None = None) -> Path:
    d = runtime.workdir / name
    d.mkdir()
    for fname, content in (files or {}).items():
        (d / fname).write_text(content)
    return d


def test_default_mounts(run_in: RunIn) -> None:
    m = parse_mountinfo(run_in(MOUNTINFO).stdout)
    expect = {
        "/proc": ("proc", set(), set()),
        "/dev": ("tmpfs", {"nosuid"}, {"mode=755"}),
        "/dev/pts": ("devpts", {"nosuid", "noexec"}, {"mode=620", "ptmxmode=666", "gid=5"}),
        "/dev/shm": ("tmpfs", {"nosuid", "noexec", "nodev"}, {"size=65536k"}),
        "/dev/mqueue": ("mqueue", {"nosuid", "noexec", "nodev"}, set()),
        "/sys": ("sysfs", {"ro", "nosuid", "noexec", "nodev"}, set()),
    }
    for dest, (fstype, opts, sopts) in expect.items():
        assert dest in m, f"{dest} not mounted"
        assert m[dest].fstype == fstype, m[dest]
        assert opts <= m[dest].options, m[dest]
        assert sopts <= m[dest].super_options, m[dest]
    assert any(p.startswith("/sys/fs/cgroup") for p in m)
    assert m["/"].root.endswith("/rootfs"), m["/"]  # a bind of the bundle's rootfs, not the host's /


@pytest.mark.parametrize("form", [("bind", "bind"), ("none", "rbind"), ("bind", "rbind")])
def test_bind_rw(runtime: Runtime, make_bundle: BundleFactory, form: tuple[str, str]) -> None:
    src = host_dir(runtime, "src", {"in.txt": "from host"})
    res = run_mounts(
        runtime,
        make_bundle,
        [mnt("/mnt/b", form[0], str(src), form[1])],
        sh("cat /mnt/b/in.txt; echo hi > /mnt/b/out.txt"),
    )
    assert res.stdout == "from host"
    assert (src / "out.txt").read_text() == "hi\n"


def test_bind_ro(runtime: Runtime, make_bundle: BundleFactory) -> None:
    src = host_dir(runtime, "src", {"in.txt": "x"})
    res = run_mounts(
        runtime,
        make_bundle,
        [mnt("/mnt/b", "bind", str(src), "rbind", "ro", "nosuid", "nodev")],
        sh("cat /proc/self/mountinfo; touch /mnt/b/new && echo WROTE; cat /mnt/b/in.txt"),
    )
    m = parse_mountinfo(res.stdout)["/mnt/b"]
    assert {"ro", "nosuid", "nodev"} <= m.options
    assert "WROTE" not in res.stdout
    assert not (src / "new").exists()
    assert res.stdout.endswith("x")


@pytest.mark.parametrize("recursive", [True, False], ids=["rbind", "bind"])
def test_rbind_carries_submounts(runtime: Runtime, make_bundle: BundleFactory, recursive: bool) -> None:
    src = host_dir(runtime, "src")
    (src / "sub").mkdir()
    host_mount(src / "sub", "tmpfs", "tmpfs")
    (src / "sub/marker").write_text("submount")
    opt = "rbind" if recursive else "bind"
    res = run_mounts(
        runtime, make_bundle, [mnt("/mnt/b", "bind", str(src), opt)], sh("cat /mnt/b/sub/marker 2>/dev/null; true")
    )
    assert res.stdout == ("submount" if recursive else "")


def test_tmpfs_size_mode_and_flags(runtime: Runtime, make_bundle: BundleFactory) -> None:
    res = run_mounts(
        runtime,
        make_bundle,
        [mnt("/mnt/t", "tmpfs", "tmpfs", "nosuid", "nodev", "noexec", "size=1m", "mode=700")],
        sh("cat /proc/self/mountinfo; stat -c MODE=%a /mnt/t; cp /bin/busybox /mnt/t/bb; /mnt/t/bb true; echo EXEC=$?"),
    )
    m = parse_mountinfo(res.stdout)["/mnt/t"]
    assert m.fstype == "tmpfs"
    assert {"nosuid", "nodev", "noexec"} <= m.options
    assert {"size=1024k", "mode=700"} <= m.super_options
    assert "MODE=700" in res.stdout
    assert "EXEC=126" in res.stdout  # noexec: permission denied


def test_pseudo_filesystems(runtime: Runtime, make_bundle: BundleFactory) -> None:
    m = mount_table(
        runtime,
        make_bundle,
        [
            mnt("/mnt/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
            mnt("/mnt/sys", "sysfs", "sysfs", "ro", "nosuid"),
            mnt("/mnt/pts", "devpts", "devpts", "newinstance", "ptmxmode=0600", "mode=0600"),
            mnt("/mnt/mq", "mqueue", "mqueue", "nodev"),
        ],
    )
    assert (m["/mnt/proc"].fstype, m["/mnt/sys"].fstype, m["/mnt/pts"].fstype, m["/mnt/mq"].fstype) == (
        "proc",
        "sysfs",
        "devpts",
        "mqueue",
    )
    assert {"nosuid", "noexec", "nodev"} <= m["/mnt/proc"].options
    assert "ro" in m["/mnt/sys"].options
    assert "ptmxmode=600" in m["/mnt/pts"].super_options


def test_bind_file_onto_missing_target(runtime: Runtime, make_bundle: BundleFactory) -> None:
    src = runtime.workdir / "host.conf"
    src.write_text("bound file\n")
    res = run_mounts(
        runtime,
        make_bundle,
        [mnt("/etc/new/bound.conf", "bind", str(src), "bind", "ro")],
        sh("cat /etc/new/bound.conf; test -f /etc/new/bound.conf && echo FILE"),
    )
    assert res.stdout == "bound file\nFILE\n"


def test_missing_target_dir_is_created(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b: Bundle = make_bundle(sh("test -d /new/deep/dir && grep -c ' /new/deep/dir ' /proc/self/mountinfo"))
    b.add_mount("/new/deep/dir", "tmpfs", "tmpfs")
    res = runtime.run_container(b)
    assert (res.returncode, res.stdout) == (0, "1\n"), describe(res)
    assert (b.rootfs / "new/deep/dir").is_dir()


# --- propagation ------------------------------------------------------------------------------


@pytest.fixture
def shared_src(runtime: Runtime) -> Path:
    """A host directory that is a shared mount (its own peer group)."""
    d = host_dir(runtime, "shared")
    host_mount(d, str(d), flags=MS_BIND)
    host_mount(d, flags=MS_SHARED)
    return d


@pytest.mark.parametrize("prop", ["rshared", "shared", "rslave", "slave", "rprivate", "private"])
def test_mount_propagation_flags(runtime: Runtime, make_bundle: BundleFactory, shared_src: Path, prop: str) -> None:
    m = mount_table(runtime, make_bundle, [mnt("/mnt/p", "bind", str(shared_src), "rbind", prop)])["/mnt/p"]
    got = m.propagation()
    if "shared" in prop:
        assert "shared" in got, m  # (may also be a slave of the host's peer group)
    elif "slave" in prop:
        assert got == {"master"}, m
    else:
        assert got == set(), m


@pytest.mark.parametrize("prop, propagates", [("rslave", True), ("rprivate", False)])
def test_host_mounts_propagate_into_slave(
    runtime: Runtime, make_bundle: BundleFactory, shared_src: Path, prop: str, propagates: bool
) -> None:
    b = make_bundle(["sleep", "60"])
    b.add_mount("/mnt/p", "bind", str(shared_src), ["rbind", prop])
    cid = runtime.new_id()
    runtime.create(b, cid)
    pid = runtime.init_pid(cid)
    (shared_src / "late").mkdir()
    host_mount(shared_src / "late", "late", "tmpfs")
    seen = parse_mountinfo(Path(f"/proc/{pid}/mountinfo").read_text())
    assert ("/mnt/p/late" in seen) == propagates


def root_mount(runtime: Runtime, make_bundle: BundleFactory, propagation: str) -> Mount:
    b = make_bundle(["sleep", "60"])
    b.config["linux"]["rootfsPropagation"] = propagation
    cid = runtime.new_id()
    runtime.create(b, cid)
    return parse_mountinfo(Path(f"/proc/{runtime.init_pid(cid)}/mountinfo").read_text())["/"]


@pytest.mark.parametrize("prop", ["slave", "rslave", "private", "rprivate"])
def test_rootfs_propagation_not_shared(runtime: Runtime, make_bundle: BundleFactory, prop: str) -> None:
    root = root_mount(runtime, make_bundle, prop)
    assert "shared" not in root.propagation(), root


@pytest.mark.railcar_only
@pytest.mark.parametrize("prop", ["shared", "rshared"])
def test_rootfs_propagation_shared(runtime: Runtime, make_bundle: BundleFactory, prop: str) -> None:
    # runc 1.1.5 applies rootfsPropagation to the old root only: its "/" never shows shared:N.
    root = root_mount(runtime, make_bundle, prop)
    assert "shared" in root.propagation(), root


@pytest.mark.parametrize("prop", ["unbindable", "runbindable"])
def test_rootfs_propagation_unbindable(runtime: Runtime, make_bundle: BundleFactory, prop: str) -> None:
    # crun accepts it; runc 1.1.5 fails create ("rootfs: bind mount: invalid argument" in railcar
    # before): the root is bound onto itself first, and made unbindable only after pivot_root
    if not runtime.is_railcar and Path(runtime.binary).name == "runc":
        pytest.skip("runc 1.1.5 cannot bind an unbindable rootfs (reference gap)")
    root = root_mount(runtime, make_bundle, prop)
    assert "unbindable" in root.optional, root


def test_tmpfs_tmpcopyup_copies_the_directory(runtime: Runtime, make_bundle: BundleFactory) -> None:
    # podman --tmpfs / --read-only: the tmpfs starts with what the image had there
    b = make_bundle(sh("cd /data && find . | sort && cat f sub/g && readlink ln && stat -c '%a %u:%g' . sub/g"
                       " && grep ' /data ' /proc/self/mountinfo"))
    data = b.rootfs / "data"
    (data / "sub").mkdir(parents=True)
    (data / "f").write_text("one\n")
    (data / "sub/g").write_text("two\n")
    (data / "sub/g").chmod(0o604)
    os.chown(data / "sub/g", 1000, 1000)
    (data / "ln").symlink_to("sub/g")
    data.chmod(0o750)
    b.config["mounts"].append(mnt("/data", "tmpfs", "tmpfs", "tmpcopyup", "nosuid"))
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    lines = res.stdout.splitlines()
    assert lines[:5] == [".", "./f", "./ln", "./sub", "./sub/g"], res.stdout
    assert lines[5:8] == ["one", "two", "sub/g"], res.stdout
    assert lines[8:10] == ["750 0:0", "604 1000:1000"], res.stdout
    assert " - tmpfs " in lines[10] and "tmpcopyup" not in lines[10], res.stdout
    assert (data / "f").read_text() == "one\n"  # the image's directory is untouched


def test_tmpfs_tmpcopyup_mode_option_wins(runtime: Runtime, make_bundle: BundleFactory) -> None:
    b = make_bundle(["stat", "-c", "%a", "/data"])
    (b.rootfs / "data").mkdir(mode=0o700)
    b.config["mounts"].append(mnt("/data", "tmpfs", "tmpfs", "tmpcopyup", "mode=1777"))
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    assert res.stdout.strip() == "1777", res.stdout


def _owned_dir(workdir: Path) -> Path:
    d = workdir / "shared"
    d.mkdir()
    (d / "f").write_text("x\n")
    os.chown(d / "f", 0, 0)
    return d


IDMAP_1000 = [{"containerID": 0, "hostID": 1000, "size": 1}]


@reference_gap("runc 1.1.5 has no id-mapped mounts (runc 1.2 has)")
def test_idmapped_bind_mount(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """mounts[].uidMappings/gidMappings: the bind is id-mapped (mount_setattr MOUNT_ATTR_IDMAP):
    a file root owns on disk shows as owned by uid 1000 through it, and only through it."""
    d = _owned_dir(runtime.workdir)
    b = make_bundle(sh("stat -c %u:%g /data/f /plain/f"))
    b.add_mount("/data", "bind", str(d), ["rbind"])
    b.config["mounts"][-1].update(uidMappings=IDMAP_1000, gidMappings=IDMAP_1000)
    b.add_mount("/plain", "bind", str(d), ["rbind"])
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    assert res.stdout.split() == ["1000:1000", "0:0"], describe(res)
    assert os.stat(d / "f").st_uid == 0  # the files themselves are not chowned


USERNS_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


@reference_gap("runc 1.1.5 has no id-mapped mounts (runc 1.2 has)")
@pytest.mark.parametrize("option", ["idmap", "ridmap"])
def test_idmapped_bind_in_a_user_namespace(runtime: Runtime, make_bundle: BundleFactory, option: str) -> None:
    """idmap alone takes the container's user namespace: the host's root-owned files are
    root's inside (podman's --userns volumes), and what root writes inside is root's on disk."""
    d = _owned_dir(runtime.workdir)
    b = make_bundle(sh("stat -c %u:%g /data/f; echo y > /data/g; stat -c %u:%g /plain/f"))
    b.set_namespace("user")
    b.config["linux"].update(uidMappings=USERNS_MAP, gidMappings=USERNS_MAP)
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "cgroup"]
    b.add_mount("/data", "bind", str(d), ["rbind", option])
    b.add_mount("/plain", "bind", str(d), ["rbind"])
    for name in ("data", "plain"):  # the rootfs is host root's: the mapped root cannot mkdir there
        (b.rootfs / name).mkdir()
    res = runtime.run_container(b)
    assert res.returncode == 0, describe(res)
    assert res.stdout.split() == ["0:0", "65534:65534"], describe(res)
    assert (os.stat(d / "g").st_uid, os.stat(d / "g").st_gid) == (0, 0)


@pytest.mark.railcar_only
@pytest.mark.parametrize("mount,err", [
    ({"type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}, "only supported for bind mounts"),
    ({"type": "bind", "options": ["rbind"], "uidMappings": IDMAP_1000}, "both uidMappings and gidMappings"),
    ({"type": "bind", "options": ["rbind", "idmap"]}, "container's user namespace, and it has none"),
])
def test_idmapped_mount_errors(runtime: Runtime, make_bundle: BundleFactory, mount: dict, err: str) -> None:
    b = make_bundle(["true"])
    m = {"destination": "/data", "source": str(runtime.workdir), **mount}
    b.config["mounts"].append(m)
    res = runtime.run_container(b)
    assert res.returncode == 1 and err in res.stderr and "mounts[" in res.stderr, describe(res)


@pytest.mark.railcar_only
def test_features_reports_idmapped_mounts(runtime: Runtime) -> None:
    import json

    res = runtime.run("features", pipes=True)
    assert res.returncode == 0, describe(res)
    doc = json.loads(res.stdout)
    assert doc["linux"]["mountExtensions"]["idmap"]["enabled"] is True
    assert {"idmap", "ridmap", "rbind", "tmpcopyup"} <= set(doc["mountOptions"])
