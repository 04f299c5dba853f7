"""railcar features: the runtime-spec features document, what railcar really supports."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def document() -> dict:
    from railcar import SPEC_VERSION, __version__, mountopts, seccomp
    from railcar.spec.hooks import HOOKS
    from railcar.spec.namespaces import NS_FLAGS
    from railcar.spec.process import CAPS

    caps = sorted(CAPS, key=lambda n: CAPS[n])
    with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
        last = int(f.read())
    options = sorted([*mountopts.FLAGS, *mountopts.PROPAGATION, *mountopts.RECURSIVE, *mountopts.IDMAP,
                      "tmpcopyup"])
    ns = sorted(NS_FLAGS)
    if not __import__("os").path.exists("/proc/self/ns/time"):
        ns.remove("time")
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": list(HOOKS),
        "mountOptions": options,
        "linux": {
            "namespaces": ns,
            "capabilities": [c for c in caps if CAPS[c] <= last],
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": True},
            "seccomp": seccomp.features(),
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": True}},  # mount_setattr(MOUNT_ATTR_IDMAP)
        },
        "annotations": {"org.railcar.version": __version__, "org.opencontainers.runtime-spec.features": "1"},
    }


def main(args: dict, g: Globals) -> int:
    import os

    from railcar.jsonfast import dumps

    os.write(1, (dumps(document(), indent=4) + "\n").encode())
    return 0
