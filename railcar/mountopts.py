"""mount(8)-style option strings → mount(2) flags, propagation, recursive
attributes and the data string (what is left), as runc parses them."""

from __future__ import annotations

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_SYNCHRONOUS, MS_REMOUNT, MS_MANDLOCK, MS_DIRSYNC = 0x10, 0x20, 0x40, 0x80
MS_NOSYMFOLLOW, MS_NOATIME, MS_NODIRATIME, MS_BIND = 0x100, 0x400, 0x800, 0x1000
MS_MOVE, MS_REC, MS_SILENT = 0x2000, 0x4000, 0x8000
MS_UNBINDABLE, MS_PRIVATE, MS_SLAVE, MS_SHARED = 1 << 17, 1 << 18, 1 << 19, 1 << 20
MS_RELATIME, MS_I_VERSION, MS_STRICTATIME, MS_LAZYTIME = 1 << 21, 1 << 23, 1 << 24, 1 << 25

# option -> (clear?, flag)
FLAGS: dict[str, tuple[bool, int]] = {
    "async": (True, MS_SYNCHRONOUS), "atime": (True, MS_NOATIME), "bind": (False, MS_BIND),
    "defaults": (False, 0), "dev": (True, MS_NODEV), "diratime": (True, MS_NODIRATIME),
    "dirsync": (False, MS_DIRSYNC), "exec": (True, MS_NOEXEC), "iversion": (False, MS_I_VERSION),
    "lazytime": (False, MS_LAZYTIME), "loud": (True, MS_SILENT), "mand": (False, MS_MANDLOCK),
    "noatime": (False, MS_NOATIME), "nodev": (False, MS_NODEV), "nodiratime": (False, MS_NODIRATIME),
    "noexec": (False, MS_NOEXEC), "noiversion": (True, MS_I_VERSION), "nolazytime": (True, MS_LAZYTIME),
    "nomand": (True, MS_MANDLOCK), "norelatime": (True, MS_RELATIME),
    "nostrictatime": (True, MS_STRICTATIME), "nosuid": (False, MS_NOSUID),
    "nosymfollow": (False, MS_NOSYMFOLLOW), "symfollow": (True, MS_NOSYMFOLLOW),
    "rbind": (False, MS_BIND | MS_REC), "relatime": (False, MS_RELATIME), "remount": (False, MS_REMOUNT),
    "ro": (False, MS_RDONLY), "rw": (True, MS_RDONLY), "silent": (False, MS_SILENT),
    "strictatime": (False, MS_STRICTATIME), "suid": (True, MS_NOSUID), "sync": (False, MS_SYNCHRONOUS),
}
PROPAGATION: dict[str, int] = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC, "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC, "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}
# mount_setattr(2) attributes for the recursive forms (rro, rnosuid, ...)
_A_RDONLY, _A_NOSUID, _A_NODEV, _A_NOEXEC = 0x1, 0x2, 0x4, 0x8
_A_NOATIME, _A_STRICTATIME, _A_NODIRATIME, _A_NOSYMFOLLOW = 0x10, 0x20, 0x80, 0x200000
# option -> (clear?, attr)
RECURSIVE: dict[str, tuple[bool, int]] = {
    "rro": (False, _A_RDONLY), "rrw": (True, _A_RDONLY), "rnosuid": (False, _A_NOSUID),
    "rsuid": (True, _A_NOSUID), "rnodev": (False, _A_NODEV), "rdev": (True, _A_NODEV),
    "rnoexec": (False, _A_NOEXEC), "rexec": (True, _A_NOEXEC), "rnodiratime": (False, _A_NODIRATIME),
    "rdiratime": (True, _A_NODIRATIME), "rnoatime": (False, _A_NOATIME),
    "rstrictatime": (False, _A_STRICTATIME), "rnosymfollow": (False, _A_NOSYMFOLLOW),
    "rsymfollow": (True, _A_NOSYMFOLLOW),
}
# id-mapped binds (runc 1.2's options): the mount's own uidMappings/gidMappings, else the
# container's user namespace's
IDMAP = {"idmap": 1, "ridmap": 2}
# flags a bind mount only takes through a remount
BIND_REMOUNT = (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME
                | MS_RELATIME | MS_STRICTATIME | MS_NOSYMFOLLOW)


class MountOptions:
    __slots__ = ("flags", "propagation", "attr_set", "attr_clr", "data", "copyup", "idmap")

    def __init__(self) -> None:
        self.flags = 0
        self.propagation = 0
        self.attr_set = 0
        self.attr_clr = 0
        self.data: list[str] = []
        self.copyup = False  # tmpcopyup: a runc extension, never passed to the kernel
        self.idmap = 0  # 1: idmap, 2: ridmap (an id-mapped bind, every mount of the tree)


def parse(options: list[str]) -> MountOptions:
    o = MountOptions()
    for opt in options:
        f = FLAGS.get(opt)
        if f is not None:
            if f[0]:
                o.flags &= ~f[1]
            else:
                o.flags |= f[1]
            continue
        p = PROPAGATION.get(opt)
        if p is not None:
            o.propagation = p
            continue
        r = RECURSIVE.get(opt)
        if r is not None:
            if r[0]:
                o.attr_clr |= r[1]
                o.attr_set &= ~r[1]
            else:
                o.attr_set |= r[1]
            continue
        if opt == "tmpcopyup":
            o.copyup = True
            continue
        if opt in IDMAP:
            o.idmap = IDMAP[opt]
            continue
        o.data.append(opt)
    return o
