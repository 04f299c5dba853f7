"""railcar.spec: loading and validating config.json, the default spec (against runc's), the tables."""

from __future__ import annotations

import copy
import json
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from railcar import spec
from railcar.errors import RailcarError, SpecError
from railcar.spec import process
from railcar.spec.default import default_spec
from railcar.spec.hooks import HOOKS
from railcar.spec.process import CAPS, RLIMITS

REPO = Path(__file__).resolve().parent.parent.parent
DOCKER_SECCOMP = REPO / "tests" / "data" / "docker-default-seccomp.json"
RUNC = shutil.which("runc") or ("/usr/sbin/runc" if os.path.exists("/usr/sbin/runc") else None)

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
               "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def docker_config() -> dict[str, Any]:
    """Shaped like what docker 20.10 hands runc (trimmed seccomp profile)."""
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "user": {"uid": 0, "gid": 0, "additionalGids": [10]},
            "args": ["/bin/sh", "-c", "true"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=abc",
                    "EMPTY="],
            "cwd": "/",
            "capabilities": {k: list(DOCKER_CAPS) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1024},
                        {"type": "RLIMIT_CORE", "hard": 2**64 - 1, "soft": 2**64 - 1}],
            "apparmorProfile": "docker-default",
            "oomScoreAdj": 0,
        },
        "root": {"path": "rootfs"},
        "hostname": "abc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "bind", "source": "/var/lib/docker/containers/abc/mounts/shm",
             "options": ["rbind", "nosuid", "noexec", "nodev"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["ro", "nosuid", "noexec", "nodev"]},
            {"destination": "/etc/resolv.conf", "type": "bind",
             "source": "/var/lib/docker/containers/abc/resolv.conf", "options": ["rbind", "rprivate"]},
        ],
        "hooks": {"prestart": [{"path": "/proc/4242/exe",
                                "args": ["libnetwork-setkey", "-exec-root=/var/run/docker", "abc", "def"]}]},
        "annotations": {"org.example.key": "value"},
        "linux": {
            "sysctl": {"net.ipv4.ip_unprivileged_port_start": "0"},
            "resources": {
                "devices": [{"allow": False, "access": "rwm"},
                            {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                            {"allow": True, "type": "c", "major": 136, "access": "rwm"}],
                "memory": {"limit": 536870912, "swap": -1, "disableOOMKiller": False},
                "cpu": {"shares": 0, "quota": 150000, "period": 100000, "cpus": "0-1"},
                "pids": {"limit": 100},
                "blockIO": {"weight": 0,
                            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
                "unified": {"memory.high": "max"},
            },
            "cgroupsPath": "/docker/abc",
            "namespaces": [{"type": "mount"}, {"type": "network"}, {"type": "uts"}, {"type": "pid"},
                           {"type": "ipc"}],
            "seccomp": {
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [
                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                    {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                ],
            },
            "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438,
                         "uid": 0, "gid": 0}],
            "maskedPaths": ["/proc/asound", "/proc/acpi", "/proc/kcore", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def write_bundle(tmp_path: Path, cfg: Any, rootfs: bool = True) -> str:
    if rootfs:
        (tmp_path / "rootfs").mkdir(exist_ok=True)
    text = cfg if isinstance(cfg, (str, bytes)) else json.dumps(cfg)
    (tmp_path / "config.json").write_bytes(text.encode() if isinstance(text, str) else text)
    return str(tmp_path)


# --- a tiny path language for the corpus: "linux.namespaces[2].type" --------------------------------
DROP = object()


def _steps(path: str) -> list[str | int]:
    return [int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", path)]


def put(cfg: dict, path: str, value: Any) -> None:
    *parents, last = _steps(path)
    obj: Any = cfg
    for s in parents:
        obj = obj[s]
    if value is DROP:
        del obj[last]
    elif isinstance(obj, list) and last == len(obj):
        obj.append(value)
    else:
        obj[last] = value


# (edits, exact message); the field the error names is the message up to the first ": "
BAD: list[tuple[dict[str, Any], str]] = [
    ({"ociVersion": 1}, "ociVersion: must be a string, got 1"),
    ({"ociVersion": DROP}, "ociVersion: is required"),
    ({"process": DROP}, "process: is required"),
    ({"process": ["sh"]}, 'process: must be an object, got ["sh"]'),
    ({"process.args": []}, "process.args: must be a non-empty list"),
    ({"process.args": "sh"}, "process.args: must be a non-empty list"),
    ({"process.args": DROP}, "process.args: must be a non-empty list"),
    ({"process.args": ["sh", 1]}, "process.args[1]: must be a string, got 1"),
    ({"process.cwd": "tmp"}, 'process.cwd: must be an absolute path, got "tmp"'),
    ({"process.cwd": DROP}, "process.cwd: is required"),
    ({"process.env": ["A=1", "FOO"]}, 'process.env[1]: must be a "NAME=value" string, got "FOO"'),
    ({"process.env": ["=x"]}, 'process.env[0]: must be a "NAME=value" string, got "=x"'),
    ({"process.env": "A=1"}, 'process.env: must be a list, got "A=1"'),
    ({"process.terminal": "yes"}, 'process.terminal: must be a boolean, got "yes"'),
    ({"process.consoleSize": {"height": 10}}, "process.consoleSize.width: is required"),
    ({"process.user.uid": True}, "process.user.uid: must be an integer, got true"),
    ({"process.user.gid": 1.0}, "process.user.gid: must be an integer, got 1.0"),
    ({"process.user.uid": -1}, "process.user.uid: must be between 0 and 4294967295, got -1"),
    ({"process.user.umask": "022"}, 'process.user.umask: must be an integer, got "022"'),
    ({"process.user.additionalGids": [10, "wheel"]},
     'process.user.additionalGids[1]: must be an integer, got "wheel"'),
    ({"process.capabilities.bounding": ["CAP_KILL", "CAP_TEST"]},
     'process.capabilities.bounding: unknown capability "CAP_TEST"'),
    ({"process.capabilities.ambient": ["kill"]}, 'process.capabilities.ambient: unknown capability "kill"'),
    ({"process.capabilities.effective": "CAP_KILL"},
     'process.capabilities.effective: must be a list of strings, got "CAP_KILL"'),
    ({"process.rlimits[0].type": "RLIMIT_FOO"}, 'process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"'),
    ({"process.rlimits[0].soft": 2**21}, "process.rlimits[0].soft: 2097152 is greater than hard (1048576)"),
    ({"process.rlimits[1].hard": DROP}, "process.rlimits[1].hard: is required"),
    ({"process.rlimits[1].hard": 2**64},
     "process.rlimits[1].hard: must be between 0 and 18446744073709551615, got 18446744073709551616"),
    ({"process.rlimits[1].type": "RLIMIT_NOFILE"},
     'process.rlimits[1].type: duplicate rlimit "RLIMIT_NOFILE"'),
    ({"process.rlimits": {"type": "RLIMIT_NOFILE"}},
     'process.rlimits: must be a list, got {"type":"RLIMIT_NOFILE"}'),
    ({"process.oomScoreAdj": 1001}, "process.oomScoreAdj: must be between -1000 and 1000, got 1001"),
    ({"process.oomScoreAdj": "0"}, 'process.oomScoreAdj: must be an integer, got "0"'),
    ({"process.noNewPrivileges": 1}, "process.noNewPrivileges: must be a boolean, got 1"),
    ({"process.apparmorProfile": False}, "process.apparmorProfile: must be a string, got false"),
    ({"process.ioPriority": {"class": "IOPRIO_CLASS_X"}},
     'process.ioPriority.class: unknown I/O priority class "IOPRIO_CLASS_X"'),
    ({"root": DROP}, "root: is required"),
    ({"root.path": 5}, "root.path: must be a string, got 5"),
    ({"root.path": ""}, "root.path: must not be empty"),
    ({"root.readonly": "true"}, 'root.readonly: must be a boolean, got "true"'),
    ({"mounts[3].destination": "dev/shm"}, 'mounts[3].destination: must be an absolute path, got "dev/shm"'),
    ({"mounts[0].destination": DROP}, "mounts[0].destination: is required"),
    ({"mounts[1].options": "ro"}, 'mounts[1].options: must be a list of strings, got "ro"'),
    ({"mounts[1].options": ["ro", None]}, "mounts[1].options[1]: must be a string, got null"),
    ({"mounts[2].source": 0}, "mounts[2].source: must be a string, got 0"),
    ({"mounts[3].uidMappings": [{"containerID": 0, "hostID": 0}]},
     "mounts[3].uidMappings[0].size: is required"),
    ({"mounts": {}}, "mounts: must be a list, got {}"),
    ({"hostname": 7}, "hostname: must be a string, got 7"),
    ({"hooks.prestart[0].path": "setkey"}, 'hooks.prestart[0].path: must be an absolute path, got "setkey"'),
    ({"hooks.poststop": [{"path": "/bin/true", "timeout": 0}]},
     "hooks.poststop[0].timeout: must be greater than zero, got 0"),
    ({"hooks.poststart": [{"path": "/bin/true", "timeout": 1.5}]},
     "hooks.poststart[0].timeout: must be an integer, got 1.5"),
    ({"hooks.createRuntime": [{"path": "/bin/true", "args": "x"}]},
     'hooks.createRuntime[0].args: must be a list of strings, got "x"'),
    ({"hooks.startContainer": [{"args": ["x"]}]}, "hooks.startContainer[0].path: is required"),
    ({"annotations": {"a": 1}}, 'annotations["a"]: must be a string, got 1'),
    ({"annotations": {"": "x"}}, "annotations: keys must not be empty"),
    ({"linux": []}, "linux: must be an object, got []"),
    ({"linux.namespaces[2].type": "foo"}, 'linux.namespaces[2].type: unknown namespace type "foo"'),
    ({"linux.namespaces[2].type": DROP}, "linux.namespaces[2].type: is required"),
    ({"linux.namespaces[4].type": "pid"}, 'linux.namespaces[4].type: duplicate namespace type "pid"'),
    ({"linux.namespaces[1].path": "proc/1/ns/net"},
     'linux.namespaces[1].path: must be an absolute path, got "proc/1/ns/net"'),
    ({"linux.namespaces[5]": {"type": "user"}},
     "linux.uidMappings: required when the config creates a user namespace"),
    ({"linux.namespaces[5]": {"type": "user"},
      "linux.uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]},
     "linux.gidMappings: required when the config creates a user namespace"),
    ({"linux.gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]},
     "linux.gidMappings: set, but linux.namespaces has no user namespace"),
    ({"linux.uidMappings": [{"containerID": 0, "hostID": 1000, "size": 0}]},
     "linux.uidMappings[0].size: must be between 1 and 4294967295, got 0"),
    ({"linux.uidMappings": [{"containerID": 0, "hostID": "1000", "size": 1}]},
     'linux.uidMappings[0].hostID: must be an integer, got "1000"'),
    ({"linux.timeOffsets": {"monotonic": {"secs": 10}}},
     "linux.timeOffsets: set, but linux.namespaces has no time namespace"),
    ({"linux.timeOffsets": {"realtime": {"secs": 10}}, "linux.namespaces[5]": {"type": "time"}},
     'linux.timeOffsets: unknown clock "realtime"'),
    ({"linux.timeOffsets": {"boottime": {"nanosecs": -1}}, "linux.namespaces[5]": {"type": "time"}},
     'linux.timeOffsets["boottime"].nanosecs: must be between 0 and 4294967295, got -1'),
    ({"linux.timeOffsets": {"boottime": {"secs": 1}},
      "linux.namespaces[5]": {"type": "time", "path": "/proc/1/ns/time"}},
     "linux.timeOffsets: cannot be set when joining an existing time namespace"),
    ({"linux.devices[0].type": "x"}, 'linux.devices[0].type: unknown device type "x"'),
    ({"linux.devices[0].path": "dev/fuse"},
     'linux.devices[0].path: must be an absolute path, got "dev/fuse"'),
    ({"linux.devices[0].minor": DROP}, 'linux.devices[0].minor: is required for type "c"'),
    ({"linux.devices[0].fileMode": "0666"}, 'linux.devices[0].fileMode: must be an integer, got "0666"'),
    ({"linux.cgroupsPath": 5}, "linux.cgroupsPath: must be a string, got 5"),
    ({"linux.resources.memory.limit": "512m"},
     'linux.resources.memory.limit: must be an integer, got "512m"'),
    ({"linux.resources.devices[0].allow": "no"},
     'linux.resources.devices[0].allow: must be a boolean, got "no"'),
    ({"linux.resources.devices[1].allow": DROP}, "linux.resources.devices[1].allow: is required"),
    ({"linux.resources.pids": {"limit": 1.5}}, "linux.resources.pids.limit: must be an integer, got 1.5"),
    ({"linux.resources.cpu.shares": -2},
     "linux.resources.cpu.shares: must be between 0 and 18446744073709551615, got -2"),
    ({"linux.resources.cpu.cpus": 2}, "linux.resources.cpu.cpus: must be a string, got 2"),
    ({"linux.resources.blockIO.throttleReadBpsDevice[0].rate": DROP},
     "linux.resources.blockIO.throttleReadBpsDevice[0].rate: is required"),
    ({"linux.resources.unified": {"memory.max": 1}},
     'linux.resources.unified["memory.max"]: must be a string, got 1'),
    ({"linux.resources.rdma": {"mlx4_0": {"hcaHandles": "2"}}},
     'linux.resources.rdma["mlx4_0"].hcaHandles: must be an integer, got "2"'),
    ({"linux.rootfsPropagation": "weird"}, 'linux.rootfsPropagation: unknown rootfs propagation "weird"'),
    ({"linux.maskedPaths": ["/proc/kcore", "proc/keys"]},
     'linux.maskedPaths[1]: must be an absolute path, got "proc/keys"'),
    ({"linux.readonlyPaths": "/proc/sys"}, 'linux.readonlyPaths: must be a list, got "/proc/sys"'),
    ({"linux.sysctl": {"net.ipv4.ip_forward": 1}},
     'linux.sysctl["net.ipv4.ip_forward"]: must be a string, got 1'),
    ({"linux.mountLabel": []}, "linux.mountLabel: must be a string, got []"),
    ({"linux.seccomp.defaultAction": "SCMP_ACT_NOPE"},
     'linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"'),
    ({"linux.seccomp.defaultAction": DROP}, "linux.seccomp.defaultAction: is required"),
    ({"linux.seccomp.defaultErrnoRet": -1},
     "linux.seccomp.defaultErrnoRet: must be between 0 and 4294967295, got -1"),
    ({"linux.seccomp.architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_FOO"]},
     'linux.seccomp.architectures: unknown architecture "SCMP_ARCH_FOO"'),
    ({"linux.seccomp.flags": ["SECCOMP_FILTER_FLAG_NOPE"]},
     'linux.seccomp.flags: unknown flag "SECCOMP_FILTER_FLAG_NOPE"'),
    ({"linux.seccomp.syscalls[1].names": []}, "linux.seccomp.syscalls[1].names: must not be empty"),
    ({"linux.seccomp.syscalls[1].action": DROP}, "linux.seccomp.syscalls[1].action: is required"),
    ({"linux.seccomp.syscalls[0].args[0].op": "SCMP_CMP_XX"},
     'linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_XX"'),
    ({"linux.seccomp.syscalls[0].args[0].index": 6},
     "linux.seccomp.syscalls[0].args[0].index: must be between 0 and 5, got 6"),
    ({"linux.seccomp.syscalls[2].args[0].value": True},
     "linux.seccomp.syscalls[2].args[0].value: must be an integer, got true"),
    ({"linux.seccomp.syscalls[3].errnoRet": "EPERM"},
     'linux.seccomp.syscalls[3].errnoRet: must be an integer, got "EPERM"'),
    ({"linux.personality": {"domain": "LINUX64"}},
     'linux.personality.domain: unknown personality domain "LINUX64"'),
]


@pytest.mark.parametrize(("edits", "message"), BAD, ids=[b[1][:60] for b in BAD])
def test_bad_config(tmp_path: Path, edits: dict[str, Any], message: str) -> None:
    cfg = docker_config()
    for path, value in edits.items():
        put(cfg, path, value)
    with pytest.raises(SpecError) as exc:
        spec.load(write_bundle(tmp_path, cfg))
    assert str(exc.value) == message
    assert exc.value.field == message.partition(": ")[0]


def test_docker_config_is_valid(tmp_path: Path) -> None:
    cfg = docker_config()
    cfg["org.example.unknown"] = {"kept": True}
    cfg["linux"]["intelRdt"] = {"closID": "x"}
    got = spec.load(write_bundle(tmp_path, cfg))
    assert got == cfg  # unknown fields kept, nothing added


def test_docker_seccomp_profile_is_valid(tmp_path: Path) -> None:
    if not DOCKER_SECCOMP.exists():
        pytest.skip(f"{DOCKER_SECCOMP} missing")
    cfg = docker_config()
    cfg["linux"]["seccomp"] = json.loads(DOCKER_SECCOMP.read_text())
    spec.load(write_bundle(tmp_path, cfg))


def test_full_featured_config_is_valid(tmp_path: Path) -> None:
    """Every optional field in its valid form, at once."""
    cfg = docker_config()
    p = cfg["process"]
    p.update(terminal=True, consoleSize={"height": 24, "width": 80}, noNewPrivileges=True, selinuxLabel="",
             ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 4}, oomScoreAdj=-1000)
    p["user"]["umask"] = 0o22
    p["capabilities"].update(inheritable=[], ambient=list(CAPS))
    cfg["domainname"] = "example.org"
    cfg["root"]["readonly"] = True
    hook = {"path": "/bin/true", "args": ["true"], "env": ["A=b"], "timeout": 5}
    cfg["hooks"] = {k: [dict(hook)] for k in HOOKS}
    cfg["mounts"].append({"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind"],
                          "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                          "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]})
    lx = cfg["linux"]
    lx["namespaces"] += [{"type": "user"}, {"type": "cgroup"}, {"type": "time"}]
    lx["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    lx["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    lx["timeOffsets"] = {"monotonic": {"secs": -5, "nanosecs": 0}, "boottime": {"secs": 86400}}
    lx["rootfsPropagation"] = "rslave"
    lx["mountLabel"] = ""
    lx["personality"] = {"domain": "LINUX32", "flags": []}
    lx["devices"].append({"path": "/dev/fifo", "type": "p"})
    lx["resources"]["network"] = {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]}
    lx["resources"]["rdma"] = {"mlx4_0": {"hcaHandles": 2, "hcaObjects": 2000}}
    lx["resources"]["blockIO"]["weightDevice"] = [{"major": 8, "minor": 0, "weight": 500}]
    lx["seccomp"].update(flags=["SECCOMP_FILTER_FLAG_LOG"], listenerPath="/run/seccomp.sock",
                         listenerMetadata="meta")
    spec.load(write_bundle(tmp_path, cfg))


def test_nulls_are_absent(tmp_path: Path) -> None:
    """Go's decoder reads null as "not set"; null optional fields are dropped."""
    cfg = docker_config()
    cfg["annotations"] = None
    cfg["process"]["capabilities"]["inheritable"] = None
    cfg["process"]["user"]["additionalGids"] = None
    cfg["linux"]["seccomp"]["architectures"] = None
    cfg["linux"]["resources"] = None
    got = spec.load(write_bundle(tmp_path, cfg))
    assert "annotations" not in got and "resources" not in got["linux"]
    assert "inheritable" not in got["process"]["capabilities"]
    assert got["process"]["user"] == {"uid": 0, "gid": 0}


def test_empty_strings_mean_unset(tmp_path: Path) -> None:
    cfg = docker_config()
    cfg["linux"]["rootfsPropagation"] = ""
    cfg["linux"]["namespaces"][1]["path"] = ""
    spec.load(write_bundle(tmp_path, cfg))


def test_joined_user_namespace_needs_no_mappings(tmp_path: Path) -> None:
    cfg = docker_config()
    cfg["linux"]["namespaces"].append({"type": "user", "path": "/proc/1/ns/user"})
    spec.load(write_bundle(tmp_path, cfg))


# --- load(): files, JSON, root.path --------------------------------------------------------------
def test_missing_bundle(tmp_path: Path) -> None:
    b = tmp_path / "nope"
    with pytest.raises(RailcarError) as exc:
        spec.load(str(b))
    assert str(exc.value) == f"open {b}/config.json: no such file or directory"


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(RailcarError) as exc:
        spec.load(str(tmp_path))
    assert str(exc.value) == f"open {tmp_path}/config.json: no such file or directory"


def test_bundle_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(RailcarError) as exc:
        spec.load(str(tmp_path / "f"))
    assert str(exc.value) == f"open {tmp_path}/f/config.json: not a directory"


@pytest.mark.parametrize("text", ['{"ociVersion": "1.0.2",', "", "{'a': 1}", '{"a": 1} x', b"\xff\xfe"])
def test_bad_json(tmp_path: Path, text: str | bytes) -> None:
    with pytest.raises(RailcarError) as exc:
        spec.load(write_bundle(tmp_path, text))
    assert str(exc.value).startswith("config.json: invalid JSON: ")
    assert len(str(exc.value)) > len("config.json: invalid JSON: ")


def test_json_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(RailcarError) as exc:
        spec.load(write_bundle(tmp_path, "[1, 2]"))
    assert str(exc.value) == "config.json: must be a JSON object, got [1,2]"


def test_missing_rootfs(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as exc:
        spec.load(write_bundle(tmp_path, docker_config(), rootfs=False))
    assert str(exc.value) == f"root.path: {tmp_path}/rootfs: no such file or directory"
    assert exc.value.field == "root.path"


def test_rootfs_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "rootfs").write_text("")
    with pytest.raises(SpecError) as exc:
        spec.load(write_bundle(tmp_path, docker_config(), rootfs=False))
    assert str(exc.value) == f"root.path: {tmp_path}/rootfs: not a directory"


def test_rootfs_absolute_and_through_symlink(tmp_path: Path) -> None:
    """A symlinked rootfs is refused up front, as runc does ("invalid rootfs: not an absolute path,
    or a symlink"): a link to "/" would otherwise give the container the host's root."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "rootfs").symlink_to(real)
    with pytest.raises(SpecError) as exc:
        spec.load(write_bundle(tmp_path / "b", docker_config(), rootfs=False))
    assert str(exc.value).startswith(f"root.path: {tmp_path}/b/rootfs is a symlink (to {real}): ")
    cfg = docker_config()
    cfg["root"]["path"] = str(real)
    spec.load(write_bundle(tmp_path / "b", cfg, rootfs=False))
    (tmp_path / "link").symlink_to(tmp_path)
    cfg["root"]["path"] = f"{tmp_path}/link/real"
    with pytest.raises(SpecError) as exc:
        spec.load(write_bundle(tmp_path / "b", cfg, rootfs=False))
    assert f"goes through the symlink {tmp_path}/link (to {tmp_path})" in str(exc.value)
    cfg["root"]["path"] = "../real"  # ".." is fine where no symlink is on the way
    spec.load(write_bundle(tmp_path / "b", cfg, rootfs=False))


@pytest.mark.parametrize("where, field, value, limit", [
    ("devices", "major", 4096, 4095), ("devices", "minor", 1 << 20, 1048575), ("devices", "major", 1 << 40, 4095),
    ("devices", "minor", -1, 1048575), ("rule", "major", 1 << 40, 4095), ("rule", "minor", -2, 1048575),
    ("weightDevice", "major", 1 << 40, 4095), ("throttleReadBpsDevice", "minor", 1 << 40, 1048575),
])  # fmt: skip
def test_device_numbers_within_the_kernels_dev_t(tmp_path: Path, where: str, field: str, value: int,
                                                 limit: int) -> None:
    cfg = docker_config()
    res = cfg["linux"].setdefault("resources", {})
    if where == "devices":
        cfg["linux"]["devices"] = [{"path": "/dev/x", "type": "c", "major": 1, "minor": 3, field: value}]
        name = f"linux.devices[0].{field}"
    elif where == "rule":
        res["devices"] = [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm", field: value}]
        name = f"linux.resources.devices[0].{field}"
    else:
        res["blockIO"] = {where: [{"major": 8, "minor": 0, "weight": 10, "rate": 1, field: value}]}
        name = f"linux.resources.blockIO.{where}[0].{field}"
    with pytest.raises(SpecError) as exc:
        spec.load(write_bundle(tmp_path, cfg))
    bits = 12 if field == "major" else 20
    assert str(exc.value).startswith(f"{name}: must be ")
    assert f"between 0 and {limit} (the kernel's device numbers have a {bits}-bit {field}), got {value}" \
        in str(exc.value)


def test_device_rule_wildcards_allowed(tmp_path: Path) -> None:
    cfg = docker_config()
    cfg["linux"].setdefault("resources", {})["devices"] = [
        {"allow": True, "type": "c", "major": -1, "minor": -1, "access": "rwm"},
        {"allow": True, "type": "c", "major": 4095, "minor": 1048575, "access": "rwm"}]
    spec.load(write_bundle(tmp_path, cfg))


# --- validate_process / resources alone ---------------------------------------------------------
def test_validate_process_field_prefix() -> None:
    proc = copy.deepcopy(docker_config()["process"])
    process.validate(proc)
    proc["cwd"] = "relative"
    with pytest.raises(SpecError) as exc:
        process.validate(proc, "process.json")
    assert str(exc.value) == 'process.json.cwd: must be an absolute path, got "relative"'
    with pytest.raises(SpecError) as exc:
        process.validate({"cwd": "/"}, "process.json")
    assert str(exc.value) == "process.json.args: must be a non-empty list"
    with pytest.raises(SpecError) as exc:
        process.validate([], "process.json")  # type: ignore[arg-type]
    assert str(exc.value) == "process.json: must be an object, got []"


def test_resources_validated_by_the_cgroup_controllers() -> None:
    """linux.resources is checked by railcar.cgroups (the same code `update` runs): its errors
    are SpecErrors naming the field, like every other section's (more in test_cgroups.py)."""
    from railcar import cgroups

    cgroups.validate_resources({"memory": {"limit": 0}, "cpu": {"quota": -1}, "pids": {"limit": -1}})
    with pytest.raises(SpecError) as exc:
        cgroups.validate_resources({"memory": {"limit": "1g"}}, "resources")
    assert str(exc.value) == 'resources.memory.limit: must be an integer, got "1g"'


# --- tables ----------------------------------------------------------------------------------------
def test_every_key_routed_to_a_section_is_in_its_schema() -> None:
    """railcar.spec names the module that owns each key, and imports it only when a config has
    the key: a wrong name would surface only then. Resolve every ("of", module, key) node."""
    import importlib

    found = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            walk(node[0])
        elif isinstance(node, tuple) and node and node[0] == "of":
            mod = importlib.import_module(f"railcar.spec.{node[1]}")
            assert node[2] in mod.SCHEMA, node
            found.append(node[2])
            walk(mod.SCHEMA[node[2]])
        elif isinstance(node, tuple) and node and node[0] in ("and", "map"):
            walk(node[1])

    walk(spec._CONFIG)
    walk(process.PROCESS)
    assert {"root", "mounts", "namespaces", "devices", "sysctl", "hostname", "hooks", "apparmorProfile",
            "maskedPaths", "personality", "mountLabel"} <= set(found)


def test_caps_table() -> None:
    assert len(CAPS) == 41
    assert sorted(CAPS.values()) == list(range(41))
    assert CAPS["CAP_CHOWN"] == 0 and CAPS["CAP_SYS_ADMIN"] == 21
    assert CAPS["CAP_CHECKPOINT_RESTORE"] == 40
    with open("/proc/sys/kernel/cap_last_cap") as f:
        assert int(f.read()) <= max(CAPS.values())


def test_rlimits_table() -> None:
    assert len(RLIMITS) == 16
    for name, num in RLIMITS.items():
        if hasattr(resource, name):
            assert getattr(resource, name) == num, name


# --- default_spec ----------------------------------------------------------------------------------
@pytest.mark.parametrize("rootless", [False, True])
def test_default_spec_is_valid(tmp_path: Path, rootless: bool) -> None:
    write_bundle(tmp_path, default_spec(rootless=rootless))
    spec.load(str(tmp_path))


def test_default_spec_fresh_each_call() -> None:
    a = default_spec()
    a["mounts"][0]["options"] = ["x"]
    a["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    assert default_spec() == json.loads(json.dumps(default_spec()))
    assert "options" not in default_spec()["mounts"][0]


@pytest.mark.parametrize("rootless", [False, True])
def test_default_spec_matches_runc(tmp_path: Path, rootless: bool) -> None:
    if RUNC is None:
        print("runc not installed: cannot compare with `runc spec`")
        pytest.skip("runc not installed: cannot compare with `runc spec`")
    subprocess.run([RUNC, "spec", *(["--rootless"] if rootless else [])], cwd=tmp_path, check=True)
    theirs = json.loads((tmp_path / "config.json").read_text())
    ours = default_spec(rootless=rootless)
    assert ours == theirs
    assert json.dumps(ours) == json.dumps(theirs)  # key order too


# --- hot-path hygiene -------------------------------------------------------------------------------
def test_load_imports_nothing_heavy(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path, docker_config())
    code = (
        "import sys; before = set(sys.modules)\n"
        "import railcar.spec as s; s.load(sys.argv[1])\n"
        "banned = {'re', 'json', 'enum', 'typing', 'argparse', 'subprocess', 'ctypes', 'logging',\n"
        "          'dataclasses', 'datetime', 'uuid', 'shutil', 'tempfile', 'pathlib'}\n"
        "print(sorted(banned & (set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, bundle], cwd=REPO, check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "[]"
