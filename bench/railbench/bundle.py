"""The busybox bundle: a rootfs from the host's busybox-static and runc's default config.json; and
the config.json docker wrote for a plain `docker run` (tests/data), adapted to that rootfs."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

from railbench import proc

BUSYBOX = Path("/bin/busybox")
APPLETS = ("true", "sh")
REPO = Path(__file__).resolve().parents[2]
SECCOMP_PROFILES = (
    REPO / "tests" / "data" / "docker-default-seccomp.json",  # shared with the test suite
    REPO / "bench" / "data" / "docker-seccomp.json",
)
# recorded with bench/record_docker_config.py (see tests/data/README.md)
DOCKER_CONFIG = REPO / "tests" / "data" / "docker-config.json"
# the files docker bind-mounts from /var/lib/docker/containers/<id>/; the bench makes its own
DOCKER_FILES = {
    "resolv.conf": "nameserver 127.0.0.1\n",
    "hostname": "railcar-bench\n",
    "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
}
# what replaces a hook whose program is not on this host (docker's prestart hook re-executes
# dockerd, /proc/<dockerd's pid>/exe libnetwork-setkey ...): a hook that does nothing, so each
# runtime still pays for running one
STAND_IN_HOOK = {"path": str(BUSYBOX), "args": ["true"]}


def make_rootfs(path: Path) -> None:
    if not BUSYBOX.is_file():
        raise SystemExit(f"{BUSYBOX} missing: apt-get install busybox-static")
    (path / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, path / "bin" / "busybox")
    for applet in APPLETS:
        (path / "bin" / applet).symlink_to("busybox")
    for name in ("proc", "sys", "dev", "tmp", "etc"):
        (path / name).mkdir()
    for name in DOCKER_FILES:  # mount points of docker's bind mounts, as its init layer makes them
        (path / "etc" / name).touch()


def default_spec(generators: list[tuple[str, str]], scratch: Path) -> tuple[dict[str, Any], str]:
    """The `spec` output of the first generator (name, path) that has one; runc comes first."""
    generators = sorted(generators, key=lambda g: g[0] != "runc")
    errors = []
    for name, path in generators:
        target = scratch / f"spec-{name}"
        target.mkdir()
        outcome = proc.run([path, "spec", "--bundle", str(target)], 20.0)
        config = target / "config.json"
        if outcome.ok and config.is_file():
            return json.loads(config.read_text()), f"{name} spec"
        errors.append(outcome.describe())
    raise SystemExit("no runtime could write a default config.json: " + "; ".join(errors))


def seccomp_profile() -> tuple[dict[str, Any] | None, str | None]:
    """Docker's default profile in the OCI form (what docker puts in config.json), and its path."""
    for path in SECCOMP_PROFILES:
        if path.is_file():
            return json.loads(path.read_text()), str(path)
    return None, None


def docker_config() -> tuple[dict[str, Any] | None, str | None]:
    """The recorded docker config.json as docker wrote it, and its path."""
    if DOCKER_CONFIG.is_file():
        return json.loads(DOCKER_CONFIG.read_text()), str(DOCKER_CONFIG)
    return None, None


def make_docker_files(path: Path) -> Path:
    """The bench's own resolv.conf, hostname and hosts, for docker's bind mounts."""
    path.mkdir()
    for name, text in DOCKER_FILES.items():
        (path / name).write_text(text)
    return path


def _host_program(path: str) -> bool:
    return not path.startswith("/proc/") and os.access(path, os.X_OK)


def make_docker_config(
    recorded: dict[str, Any], rootfs: Path, files: Path, *, hostname: str, cgroups_path: str
) -> dict[str, Any]:
    """The recorded docker config for one container of the bench, as an engine writes a new config
    per container: its rootfs and /bin/true, a hostname and cgroupsPath of its own; bind mounts whose
    source this host lacks (docker's resolv.conf, hostname, hosts) from `files`; namespaces without
    a path (docker's netns is long gone: a new one); hooks whose program this host lacks replaced
    by a stand-in. Everything else (seccomp, capabilities, devices, mounts, sysctls) as recorded."""
    config = copy.deepcopy(recorded)
    config["root"]["path"] = str(rootfs)
    process = config["process"]
    process["terminal"] = False
    process["args"] = ["/bin/true"]
    process["env"] = [f"HOSTNAME={hostname}" if e.startswith("HOSTNAME=") else e for e in process.get("env", [])]
    config["hostname"] = hostname
    for mount in config.get("mounts", []):
        source = mount.get("source", "")
        if "bind" in (mount.get("type"), *mount.get("options", [])) and not os.path.exists(source):
            stand_in = files / os.path.basename(source)
            if not stand_in.exists():
                stand_in.touch()
            mount["source"] = str(stand_in)
    for kind, hooks in (config.get("hooks") or {}).items():
        config["hooks"][kind] = [h if _host_program(h["path"]) else dict(STAND_IN_HOOK) for h in hooks]
    linux = config.setdefault("linux", {})
    for ns in linux.get("namespaces", []):
        ns.pop("path", None)
    linux["cgroupsPath"] = cgroups_path
    return config


def make_config(
    base: dict[str, Any],
    rootfs: Path,
    *,
    seccomp: dict[str, Any] | None = None,
    memory_limit: int | None = None,
    cgroups_path: str | None = None,
) -> dict[str, Any]:
    """`base` running /bin/true without a terminal, plus the requested variations."""
    config = copy.deepcopy(base)
    config["root"]["path"] = str(rootfs)  # absolute: one rootfs serves every bundle
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    linux = config.setdefault("linux", {})
    if seccomp is not None:
        linux["seccomp"] = copy.deepcopy(seccomp)
    if memory_limit is not None:
        linux.setdefault("resources", {})["memory"] = {"limit": memory_limit, "swap": memory_limit}
    if cgroups_path is not None:
        linux["cgroupsPath"] = cgroups_path
    return config


def write_bundle(path: Path, config: dict[str, Any]) -> Path:
    path.mkdir(exist_ok=True)
    (path / "config.json").write_text(json.dumps(config, indent=1))
    return path
