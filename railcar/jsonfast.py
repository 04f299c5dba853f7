"""JSON without importing `json` (which pulls in `re`) or `_json`: railcar's own C (csrc/json.c).

`railcar._core` is built into the launcher, so parsing and encoding cost no import at all, where
`_json` is a shared library on Debian (a sys.path search and a dlopen at each start) and
`import json` costs ~8 ms. Only bad input reaches the stdlib `json`, for its error wording.
orjson is used where volume matters (events, list, bench), not on the per-invocation path.
"""

from __future__ import annotations

from railcar import _core


def loads(s: str | bytes) -> object:
    """Parse one JSON document; raises ValueError with a position on bad input."""
    if isinstance(s, (bytes, bytearray)):
        try:
            s = s.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"not UTF-8: {e}") from None
    elif not isinstance(s, str):
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {type(s).__name__}")
    try:
        return _core.json_loads(s)
    except Exception:
        # Only bad input gets here: let the stdlib parser word the error (line, column).
        return _slow_loads(s)


def _slow_loads(s: str) -> object:
    import json

    def constant(name: str) -> object:
        # NaN and Infinity are Python's extension, not JSON: Go's decoder (runc) refuses them
        raise ValueError(f"{name} is not JSON")

    def finite(text: str) -> float:
        # 1e400 would be inf, which no JSON can write back (the state keeps the config)
        x = float(text)
        if x in (float("inf"), float("-inf")):
            raise ValueError(f"{text} is out of range")
        return x

    try:
        return json.loads(s, parse_constant=constant, parse_float=finite)
    except json.JSONDecodeError as e:
        raise ValueError(str(e)) from None


def dumps(obj: object, indent: int | None = None) -> str:
    """Serialize like json.dumps(obj, separators=(',', ':')) or with an indent."""
    if indent is None:
        return _core.json_dumps(obj, _default)
    return _core.json_dumps(obj, _default, max(indent, 0))


def _default(o: object) -> object:
    raise TypeError(f"not JSON serializable: {type(o).__name__}")
