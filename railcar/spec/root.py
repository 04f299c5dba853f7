"""root.path, root.readonly, linux.rootfsPropagation, linux.maskedPaths, linux.readonlyPaths: the
container's root filesystem, and what a container without a mount namespace may not ask for."""

from __future__ import annotations

from railcar import mountopts as mo
from railcar import posixos as os
from railcar.errors import SpecError, strerror
from railcar.plan import enc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.plan import LaunchPlan

SCHEMA = {
    "root": {"!": ("path",), "path": "str", "readonly": "bool"},
    "rootfsPropagation": ("enum", "rootfs propagation", ("", *mo.PROPAGATION)),
    "maskedPaths": "abss",
    "readonlyPaths": "abss",
}


def check(cfg: dict[str, Any], bundle: str) -> None:
    """root.path, resolved against `bundle`: set, reached without symlinks, a directory."""
    if not cfg["root"]["path"]:
        raise SpecError("root.path", "must not be empty")
    root = os.path.join(bundle, cfg["root"]["path"])
    _root_without_symlinks(bundle, cfg["root"]["path"], root)
    try:
        st = os.stat(root)
    except OSError as e:
        raise SpecError("root.path", f"{root}: {strerror(e.errno)}") from None
    if st.st_mode & 0o170000 != 0o040000:  # S_ISDIR without importing stat
        raise SpecError("root.path", f"{root}: not a directory")


def _root_without_symlinks(bundle: str, rp: str, root: str) -> None:
    """runc's rule: no symlink on the way to the rootfs, from the bundle on (the whole path when
    root.path is absolute). A link to "/" would make the host's root the container's."""
    parts = rp.split("/")
    if rp.startswith("/"):
        at = "/"
    else:
        # past a checked (real) directory ".." is its parent: exact, once the start is real
        at = os.path.realpath(bundle) if ".." in parts else bundle
    for c in parts:
        if c in ("", "."):
            continue
        at = os.path.dirname(at) if c == ".." else os.path.join(at, c)
        try:
            st = os.lstat(at)
        except OSError:
            return  # missing: the stat that follows says so
        if st.st_mode & 0o170000 == 0o120000:  # S_ISLNK
            try:
                to = f" (to {os.readlink(at)})"
            except OSError:
                to = ""
            what = "is a symlink" if at == os.path.normpath(root) else f"goes through the symlink {at}"
            raise SpecError("root.path", f"{root} {what}{to}: the rootfs must be a directory reached "
                                         "without symlinks")


def plan(cfg: dict[str, Any], bundle: str, lp: LaunchPlan) -> str:
    """The rootfs (its real path, returned), read-only or not, its propagation, the masked and
    read-only paths; after railcar.spec.namespaces.plan (it needs lp.host_mounts)."""
    root = cfg["root"]["path"]
    path = os.path.realpath(os.path.join(bundle, root))
    lp.rootfs = enc(path)
    lp.readonly_root = 1 if cfg["root"].get("readonly") else 0
    prop = cfg.get("linux", {}).get("rootfsPropagation")
    if prop:
        lp.root_propagation = mo.PROPAGATION[prop]
    linux = cfg.get("linux", {})
    lp.masked = [enc(p) for p in linux.get("maskedPaths") or []]
    lp.readonly = [enc(p) for p in linux.get("readonlyPaths") or []]
    if lp.host_mounts:
        _without_mount_namespace(cfg, path)
    return path


def _without_mount_namespace(cfg: dict[str, Any], rootfs: str) -> None:
    """Without a mount namespace of its own the container's mounts are the host's: what would
    change the host's own mounts is refused (runc refuses masked and read-only paths too)."""
    linux = cfg.get("linux", {})
    why = 'needs a mount namespace of the container\'s own (linux.namespaces has no "mount")'
    for field in ("maskedPaths", "readonlyPaths", "rootfsPropagation"):
        if linux.get(field):
            raise SpecError(f"linux.{field}", why)
    if cfg["root"].get("readonly"):
        raise SpecError("root.readonly", why)
    if rootfs == "/" and cfg.get("mounts"):
        raise SpecError("mounts", f"{why}: they would be made over the host's own /")
