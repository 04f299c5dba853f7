"""linux.sysctl: written under /proc/sys by the C child, only where the kernel keeps the value per
namespace and the container has that namespace of its own (anything else would change the host)."""

from __future__ import annotations

from railcar.errors import SpecError
from railcar.plan import enc
from railcar.spec.namespaces import is_host_ns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.plan import LaunchPlan

SCHEMA = {"sysctl": "map"}
# sysctls the kernel keeps per namespace (runc's list): (name prefix, namespace)
_PER_NAMESPACE = (("kernel.msg", "ipc"), ("kernel.sem", "ipc"), ("kernel.shm", "ipc"),
                  ("fs.mqueue.", "ipc"), ("net.", "network"), ("kernel.domainname", "uts"))


def plan(cfg: dict[str, Any], lp: LaunchPlan, ns: dict[str, str | None]) -> None:
    for key, value in (cfg.get("linux", {}).get("sysctl") or {}).items():
        field = f'linux.sysctl["{key}"]'
        if "/" in key or ".." in key or not key:
            raise SpecError(field, f"invalid sysctl name {key!r}")
        if key == "kernel.hostname":
            raise SpecError(field, 'sysctl "kernel.hostname" is not allowed: it conflicts with the "hostname" field')
        need = next((n for prefix, n in _PER_NAMESPACE if key.startswith(prefix)), None)
        if need is None:
            raise SpecError(field, f"sysctl {key!r} is not in a separate kernel namespace (it would change the host)")
        if need not in ns or (ns[need] and is_host_ns(ns[need], need)):  # type: ignore[arg-type]
            raise SpecError(field, f"sysctl {key!r} is not allowed without a {need} namespace of the container's own")
        lp.sysctl.append((enc("/proc/sys/" + key.replace(".", "/")), enc(value), enc(field)))
