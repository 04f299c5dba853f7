"""JSON without importing `json` (which pulls in `re`): the C scanner/encoder of `_json`.

`_json` is a builtin module, so this costs ~0.1 ms where `import json` costs ~8 ms.
orjson is used where volume matters (events, list, bench), not on the per-invocation path.
"""

from __future__ import annotations

import _json

_WS = " \t\n\r"


class _Ctx:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        raise ValueError(f"invalid constant {name}")


_scanner = None
_encoder = None


def loads(s: str | bytes) -> object:
    """Parse one JSON document; raises ValueError with a position on bad input."""
    global _scanner
    if isinstance(s, (bytes, bytearray)):
        try:
            s = s.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"not UTF-8: {e}") from None
    if _scanner is None:
        _Ctx.memo = {}
        _scanner = _json.make_scanner(_Ctx)
    n = len(s)
    i = 0
    while i < n and s[i] in _WS:
        i += 1
    try:
        obj, end = _scanner(s, i)
    except Exception:
        # Only bad input gets here: let the stdlib parser word the error (line, column).
        return _slow_loads(s)
    finally:
        _Ctx.memo.clear()
    while end < n and s[end] in _WS:
        end += 1
    if end != n:
        return _slow_loads(s)
    return obj


def _slow_loads(s: str) -> object:
    import json

    try:
        return json.loads(s)
    except json.JSONDecodeError as e:
        raise ValueError(str(e)) from None


def dumps(obj: object, indent: int | None = None) -> str:
    """Serialize like json.dumps(obj, separators=(',', ':')) or with an indent."""
    global _encoder
    if indent is not None:
        return _pretty(obj, indent, 0)
    if _encoder is None:
        _encoder = _json.make_encoder(
            None, _default, _json.encode_basestring_ascii, None, ":", ",", False, False, True
        )
    return "".join(_encoder(obj, 0))


def _default(o: object) -> object:
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _pretty(obj: object, indent: int, level: int) -> str:
    if isinstance(obj, dict) and obj:
        pad = " " * (indent * (level + 1))
        items = [
            f"{pad}{_json.encode_basestring_ascii(str(k))}: {_pretty(v, indent, level + 1)}"
            for k, v in obj.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "}"
    if isinstance(obj, list) and obj:
        pad = " " * (indent * (level + 1))
        items = [pad + _pretty(v, indent, level + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "]"
    return dumps(obj)
