"""railcar update: change a running container's resources; absent or 0 = unchanged."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals

# flag -> (section, field)
FLAGS = {
    "--blkio-weight": ("blockIO", "weight"), "--cpu-period": ("cpu", "period"),
    "--cpu-quota": ("cpu", "quota"), "--cpu-share": ("cpu", "shares"),
    "--cpu-rt-period": ("cpu", "realtimePeriod"), "--cpu-rt-runtime": ("cpu", "realtimeRuntime"),
    "--cpuset-cpus": ("cpu", "cpus"), "--cpuset-mems": ("cpu", "mems"),
    "--memory": ("memory", "limit"), "--memory-reservation": ("memory", "reservation"),
    "--memory-swap": ("memory", "swap"), "--pids-limit": ("pids", "limit"),
}
_STRING_FIELDS = ("cpus", "mems")
_SIZE_FLAGS = ("--memory", "--memory-reservation", "--memory-swap")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def _size(v: str) -> int:
    """runc's memory sizes (go-units RAMInBytes): 100M, 1g, 512k, 1.5GiB, 1024, -1."""
    t = v.strip().lower()
    t = t[:-1] if t.endswith("b") else t
    t = t[:-1] if t.endswith("i") else t
    unit = t[-1:] if t[-1:] and t[-1:] in "kmgtp" else ""
    num = t[: len(t) - len(unit)].strip()
    try:
        n = float(num) if "." in num else int(num)
    except ValueError:
        raise ValueError(v) from None
    return -1 if n == -1 else int(n * _UNITS[unit])


def main(args: dict, g: Globals) -> int:
    import sys

    from railcar.commands.resume import running_cgroup
    from railcar.errors import RailcarError
    from railcar.jsonfast import loads

    res: dict = {}
    src = args["--resources"]
    if src:
        try:
            if src == "-":
                raw = sys.stdin.buffer.read()
            else:
                with open(src, "rb") as f:
                    raw = f.read()
            res = loads(raw)  # type: ignore[assignment]
        except OSError as e:
            from railcar.errors import strerror

            raise RailcarError(f"--resources: open {src}: {strerror(e.errno)}") from None
        except ValueError as e:
            raise RailcarError(f"--resources {src}: invalid JSON: {e}") from None
        if not isinstance(res, dict):
            raise RailcarError(f"--resources {src}: must be a JSON object")
    for flag, (section, field) in FLAGS.items():
        v = args.get(flag)
        if v is None:
            continue
        if field not in _STRING_FIELDS:
            try:
                v = _size(v) if flag in _SIZE_FLAGS else int(v)
            except ValueError:
                raise RailcarError(f"{flag}: not a number: {v!r}") from None
        res.setdefault(section, {})[field] = v
    running_cgroup(g, args["<id>"]).update(res)
    return 0
