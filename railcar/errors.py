"""The one error type: a message for the user, an exit code, no traceback."""

from __future__ import annotations


class RailcarError(Exception):
    """An error the user sees as `railcar: <msg>` (or a JSON log line), exit 1."""

    def __init__(self, msg: str, code: int = 1) -> None:
        super().__init__(msg)
        self.msg = msg
        self.code = code

    def __str__(self) -> str:
        return self.msg


class SpecError(RailcarError):
    """config.json is invalid; msg starts with the field: `process.args: must be ...`."""

    def __init__(self, field: str, cause: str) -> None:
        super().__init__(f"{field}: {cause}" if field else cause)
        self.field = field


def strerror(err: int | None) -> str:
    """Go-style (lower-case) errno text: clients match 'no such file or directory'."""
    import errno

    from railcar import posixos as os

    if not err:
        return "unknown error"
    s = os.strerror(err)
    return s[:1].lower() + s[1:] if s else errno.errorcode.get(err, str(err))
