"""The --log file: created on every call (containerd expects it), one line per
error: JSON `{"level","msg","time"}` or logrus-style text."""

from __future__ import annotations

import time

from railcar import posixos as os

_path: str | None = None
_json = False
_debug = False


def raw(text: str) -> bytes:
    """Text for a terminal or file: bytes that came in as arguments (surrogate-escaped)
    go out as they came, as runc prints them; anything else unencodable is escaped."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


def now_rfc3339() -> str:
    """RFC 3339 UTC with nanoseconds, as Go prints time.Time (state, log lines)."""
    t = time.time_ns()
    s, ns = divmod(t, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{ns:09d}Z"


def setup(path: str | None, fmt: str, debug: bool) -> None:
    """As runc: an unknown format or a log that cannot be opened is an error, before any work."""
    global _path, _json, _debug
    from railcar.errors import RailcarError

    if fmt not in ("text", "json"):
        raise RailcarError(f"invalid log-format: {fmt}")
    _json, _debug = fmt == "json", debug
    if path:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644))
        except OSError as e:
            from railcar.errors import strerror

            raise RailcarError(f"open {path}: {strerror(e.errno)}") from None
    _path = path


def write(level: str, msg: str) -> None:
    if not _path or (level == "debug" and not _debug):
        return
    if _json:
        from railcar.jsonfast import dumps

        line = dumps({"level": level, "msg": msg, "time": now_rfc3339()})
    else:
        line = f'time="{now_rfc3339()}" level={level} msg="{msg}"'
    try:
        fd = os.open(_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, raw(line + "\n"))
        finally:
            os.close(fd)
    except OSError:
        pass


def error(msg: str) -> None:
    write("error", msg)


def warning(msg: str) -> None:
    write("warning", msg)
    if _debug or not _path:
        os.write(2, raw(f"railcar: warning: {msg}\n"))


def debug(msg: str) -> None:
    write("debug", msg)
