"""process.apparmorProfile, process.selinuxLabel, linux.mountLabel: the Linux security module's
label for the container's program, written to the exec attribute by the helper right before exec.
A label the host cannot apply is an error, never silently dropped. (mountLabel is validated, not
applied: railcar mounts nothing with an SELinux context.)"""

from __future__ import annotations

from railcar import posixos as os
from railcar.errors import SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.helperplan import HelperPlan

SCHEMA = {"apparmorProfile": "str", "selinuxLabel": "str", "mountLabel": "str"}


def exec_attr(proc: dict[str, Any]) -> tuple[str, str] | None:
    """(attr file, value) that labels the process at exec, or None for no label."""
    profile = proc.get("apparmorProfile")
    label = proc.get("selinuxLabel")
    if profile and label:
        raise SpecError("process", "apparmorProfile and selinuxLabel are both set; a host has one of them")
    if profile:
        try:
            with open("/sys/module/apparmor/parameters/enabled", "rb") as f:
                on = f.read().strip() == b"Y"
        except OSError:
            on = False
        if not on:
            raise SpecError("process.apparmorProfile", f"profile {profile!r} asked for, but AppArmor is not "
                            "enabled on this host")
        attr = "/proc/self/attr/apparmor/exec"
        return (attr if os.path.exists(attr) else "/proc/self/attr/exec", f"exec {profile}")
    if label:
        if not os.path.exists("/sys/fs/selinux/enforce"):
            raise SpecError("process.selinuxLabel", f"label {label!r} asked for, but SELinux is not enabled "
                            "on this host")
        return ("/proc/self/attr/exec", label)
    return None


def helper(proc: dict[str, Any], hp: HelperPlan) -> None:
    """HP_LSM_EXEC: "attr file\\0value\\0"."""
    from railcar.helperplan import HP_LSM_EXEC

    lsm = exec_attr(proc)
    if lsm:
        hp.add(HP_LSM_EXEC, f"{lsm[0]}\0{lsm[1]}\0".encode())
