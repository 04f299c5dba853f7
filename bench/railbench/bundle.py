"""The busybox bundle: a rootfs from the host's busybox-static and runc's default config.json."""

from __future__ import annotations

import copy
import json
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


def make_rootfs(path: Path) -> None:
    if not BUSYBOX.is_file():
        raise SystemExit(f"{BUSYBOX} missing: apt-get install busybox-static")
    (path / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, path / "bin" / "busybox")
    for applet in APPLETS:
        (path / "bin" / applet).symlink_to("busybox")
    for name in ("proc", "sys", "dev", "tmp", "etc"):
        (path / name).mkdir()


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
