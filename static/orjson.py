"""A pure-Python stand-in for orjson, shipped only inside the static railcar.

orjson is a Rust extension that cannot be linked into the static executable; railcar uses it only
for `list --format json` and `events`.  This covers that use: dumps() returns compact UTF-8 bytes
(orjson's format: no spaces, non-ASCII kept), loads() takes bytes or str.  Options honoured:
OPT_INDENT_2, OPT_SORT_KEYS, OPT_APPEND_NEWLINE; others are accepted and ignored.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

__all__ = [
    "JSONDecodeError",
    "JSONEncodeError",
    "OPT_APPEND_NEWLINE",
    "OPT_INDENT_2",
    "OPT_SORT_KEYS",
    "dumps",
    "loads",
]

__version__ = "0+railcar-static"

OPT_APPEND_NEWLINE = 1 << 10
OPT_INDENT_2 = 1
OPT_SORT_KEYS = 1 << 5

JSONDecodeError = json.JSONDecodeError


class JSONEncodeError(TypeError):
    pass


def dumps(obj: Any, default: Callable[[Any], Any] | None = None, option: int | None = None) -> bytes:
    opt = option or 0
    try:
        text = json.dumps(
            obj,
            default=default,
            ensure_ascii=False,
            separators=(",", ": ") if opt & OPT_INDENT_2 else (",", ":"),
            indent=2 if opt & OPT_INDENT_2 else None,
            sort_keys=bool(opt & OPT_SORT_KEYS),
        )
    except (TypeError, ValueError) as e:
        raise JSONEncodeError(str(e)) from None
    if opt & OPT_APPEND_NEWLINE:
        text += "\n"
    return text.encode("utf-8")


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    if isinstance(data, memoryview):
        data = data.tobytes()
    return json.loads(data)
