"""The helper plan: the records csrc/helper.c reads (see csrc/helper_plan.h)."""

from __future__ import annotations

# the numbers of csrc/helper_plan.h (tests/unit/test_plan.py compares the two)
HP_INIT, HP_ARGV, HP_UID, HP_GID, HP_GROUPS, HP_CAPS, HP_NNP = 1, 2, 4, 5, 6, 7, 8
HP_SECCOMP, HP_SECCOMP_FLAGS, HP_SECCOMP_LISTENER = 9, 10, 11
HP_FIFO_FD, HP_PRESERVE_FDS, HP_LAST_CAP, HP_START_HOOKS, HP_LSM_EXEC = 13, 14, 17, 18, 19
HP_TRACE = 20


class HelperPlan:
    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def add(self, tag: int, data: bytes) -> None:
        n = len(data)
        self.parts.append(tag.to_bytes(4, "little") + n.to_bytes(4, "little") + data + b"\0" * (-n % 8))

    def u32(self, tag: int, v: int) -> None:
        self.add(tag, (v & 0xFFFFFFFF).to_bytes(4, "little"))

    def strings(self, tag: int, items: list[str]) -> None:
        self.add(tag, b"".join(s.encode("utf-8", "surrogateescape") + b"\0" for s in items))

    def u32s(self, tag: int, items: list[int]) -> None:
        self.add(tag, b"".join(int(v).to_bytes(4, "little") for v in items))

    def u64s(self, tag: int, items: list[int]) -> None:
        self.add(tag, b"".join(int(v).to_bytes(8, "little") for v in items))

    def bytes(self) -> bytes:
        return b"".join(self.parts)
