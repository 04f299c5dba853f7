"""Signal names and numbers (Linux x86-64) without importing `signal` (which
imports enum)."""

from __future__ import annotations

from railcar.errors import RailcarError

SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
    "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
    "POLL": 29, "PWR": 30, "SYS": 31,
}
SIGRTMIN, SIGRTMAX = 34, 64


def parse(sig: str | None) -> int:
    """'9', 'KILL', 'SIGKILL', 'sigkill', 'RTMIN+3' → number."""
    if not sig:
        return SIGNALS["TERM"]
    if sig.isdigit():
        n = int(sig)
        if 0 <= n <= SIGRTMAX:  # 0: only whether the container's init is there, as kill(2)
            return n
        raise RailcarError(f"invalid signal: {sig}")
    name = sig.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name in SIGNALS:
        return SIGNALS[name]
    for base, n0 in (("RTMIN", SIGRTMIN), ("RTMAX", SIGRTMAX)):
        if name == base:
            return n0
        if name.startswith(base) and name[len(base):][:1] in "+-" and name[len(base) + 1:].isdigit():
            n = n0 + int(name[len(base):])
            if SIGRTMIN <= n <= SIGRTMAX:
                return n
    raise RailcarError(f"invalid signal: {sig}")
