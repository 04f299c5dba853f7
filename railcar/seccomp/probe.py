"""What this host's kernel and libseccomp can do: the flag probe the compiler needs, and the
`linux.seccomp` object of `railcar features`. Off the start-up path (compiler and features only).
"""

from __future__ import annotations

from railcar.seccomp.cache import library_version, libseccomp_file
from railcar.seccomp.tables import ACTIONS, ARCHS, FLAG_NEW_LISTENER, FLAG_WAIT_KILLABLE_RECV, FLAGS, OPERATORS

__all__ = ["features", "kernel_has_flag"]


def kernel_has_flag(bit: int) -> bool:
    """Does the kernel take this SECCOMP_FILTER_FLAG_* bit? The C core asks seccomp(2) with a NULL
    program: EFAULT means the flags passed the kernel's checks, EINVAL that they did not."""
    from railcar import _core

    # WAIT_KILLABLE_RECV is only valid with a listener.
    return bool(_core.seccomp_flags_accepted(bit | (FLAG_NEW_LISTENER if bit == FLAG_WAIT_KILLABLE_RECV else 0)))


def features() -> dict:
    """The `linux.seccomp` object of the runtime-spec features document (features.md)."""
    lib = libseccomp_file()
    version = library_version()
    enabled = bool(lib or version)
    return {
        "enabled": enabled,
        "actions": sorted(ACTIONS),
        "operators": sorted(OPERATORS),
        "archs": sorted(name for name, (_, since) in ARCHS.items() if version >= since),
        "knownFlags": list(FLAGS),
        "supportedFlags": [name for name, bit in FLAGS.items() if kernel_has_flag(bit)] if enabled else [],
    }
