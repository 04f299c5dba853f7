"""railcar.jsonfast on csrc/json.c, checked against the stdlib json and against jsonfast as it was
on `_json` (kept below as the reference): the same values, the same texts, the same errors."""

from __future__ import annotations

import json
import math
import random
import sys
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pytest

from railcar import _core, jsonfast
from railcar.spec.default import default_spec

DATA = Path(__file__).resolve().parent.parent / "data"


# ---------------------------------------------------------------- jsonfast as it was, on _json


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


def old_loads(s: str | bytes) -> object:
    import _json

    if isinstance(s, (bytes, bytearray)):
        try:
            s = s.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"not UTF-8: {e}") from None
    scanner = _json.make_scanner(_Ctx)
    n = len(s)
    i = 0
    while i < n and s[i] in " \t\n\r":
        i += 1
    try:
        obj, end = scanner(s, i)
    except Exception:
        return jsonfast._slow_loads(s)
    finally:
        _Ctx.memo.clear()
    while end < n and s[end] in " \t\n\r":
        end += 1
    if end != n:
        return jsonfast._slow_loads(s)
    return obj


def old_dumps(obj: object, indent: int | None = None) -> str:
    import _json

    if indent is not None:
        return _old_pretty(obj, indent, 0)
    enc = _json.make_encoder(None, jsonfast._default, _json.encode_basestring_ascii, None, ":", ",", False, False, True)
    return "".join(enc(obj, 0))


def _old_pretty(obj: object, indent: int, level: int) -> str:
    import _json

    if isinstance(obj, dict) and obj:
        pad = " " * (indent * (level + 1))
        items = [
            f"{pad}{_json.encode_basestring_ascii(str(k))}: {_old_pretty(v, indent, level + 1)}"
            for k, v in obj.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "}"
    if isinstance(obj, list) and obj:
        pad = " " * (indent * (level + 1))
        items = [pad + _old_pretty(v, indent, level + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "]"
    return old_dumps(obj)


# ---------------------------------------------------------------- comparing


def same(a: object, b: object) -> bool:
    """Equal values of the same types, dict keys in the same order, NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        assert isinstance(b, float)
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def outcome(fn: Callable[..., object], *args: object) -> tuple[str, object]:
    try:
        return ("ok", fn(*args))
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        return (type(e).__name__, str(e))


def old_fast(s: str) -> object:
    """The old fast path alone, without the stdlib fallback: the value, or ValueError."""
    import _json

    n = len(s)
    i = 0
    while i < n and s[i] in " \t\n\r":
        i += 1
    try:
        obj, end = _json.make_scanner(_Ctx)(s, i)
    except StopIteration:
        raise ValueError("no value") from None
    finally:
        _Ctx.memo.clear()
    while end < n and s[end] in " \t\n\r":
        end += 1
    if end != n:
        raise ValueError("extra data")
    return obj


def check_loads(text: str | bytes) -> None:
    if isinstance(text, str):  # the C alone takes exactly what the old fast path took
        c, ref = outcome(_core.json_loads, text), outcome(old_fast, text)
        ref = ("ValueError", ref[1]) if ref[0] == "JSONDecodeError" else ref  # _json's own ValueError
        if c[0] == "ValueError" and "number out of range" in c[1] and ref[0] == "ok":
            return  # 1e400, which _json took as inf: refused now (test_floats)
        assert c[0] == ref[0], (text, c, ref)
        if c[0] == "ok":
            assert same(c[1], ref[1]), (text, c, ref)
    new, old = outcome(jsonfast.loads, text), outcome(old_loads, text)
    if old[0] == "ok" and new[0] == "ValueError" and new[1].endswith(("is not JSON", "is out of range")):
        return  # NaN, Infinity or 1e400, which the old path took: refused now (their own tests)
    assert new[0] == old[0], (text, new, old)
    if new[0] == "ok":
        assert same(new[1], old[1]), (text, new, old)
    elif new[0] != "RecursionError":  # its text names the frame the limit was hit in
        assert new[1] == old[1], (text, new, old)


def check_dumps(obj: object) -> None:
    for indent in (None, 0, 1, 2, 4, -1):
        new, old = outcome(jsonfast.dumps, obj, indent), outcome(old_dumps, obj, indent)
        assert new == old, (obj, indent, new, old)
    new = outcome(jsonfast.dumps, obj)
    ref = outcome(lambda o: json.dumps(o, separators=(",", ":")), obj)
    if ref[0] == "ok":
        assert new == ref


# ---------------------------------------------------------------- the cases


def test_configs_in_tests_data_and_the_default_spec() -> None:
    files = sorted(DATA.glob("**/*.json"))
    assert files
    for f in files:
        raw = f.read_bytes()
        check_loads(raw)
        check_loads(raw.decode())
        assert same(jsonfast.loads(raw), json.loads(raw))
        check_dumps(json.loads(raw))
    for rootless in (False, True):
        cfg = default_spec(rootless=rootless)
        check_dumps(cfg)
        assert same(jsonfast.loads(jsonfast.dumps(cfg)), cfg)
        assert same(jsonfast.loads(jsonfast.dumps(cfg, indent=2)), cfg)


VALID = [
    "{}", "[]", " {} ", "\t\n\r [ ] \r\n", '""', "0", "-0", "1", "-1", "123456789", "true", "false", "null",
    '{"a": 1, "a": 2}', '{"b": 1, "a": 2, "b": 3}', '{"a":{"a":{"a":[]}}}', "[1, [2, [3, [4]]], {}]",
    '{ "k" : [ 1 , 2 ] , "l" : { } }',
    # strings and every escape
    r'"\"\\\/\b\f\n\r\t"', r'"\u0000\u001f\u0020\u007f\u0080\u00ff\u0100\uffff"', r'"\u00E9\u00e9"',
    r'"\ud83d\ude00"', r'"\uD83D\uDE00"', r'"\ud800"', r'"\udc00"', r'"\ud800\ud800"', r'"\udc00\ud800"',
    r'"\ud800x"', r'"\ud800\u0041"', r'"\ud800\n"', r'"a\ud83d\ude00b\ud800"', r'"\udbff\udfff"',
    '"é"', '"\U0001f600"', '"\u2028\u2029"', '"\x7f"', '"\ud800"', '"日本語"', '"mixed é \\u00e9 \U0001f600"',
    # numbers
    "0.0", "-0.0", "1.5", "-1.5", "1e5", "1E5", "1e+5", "1e-5", "1.5e3", "-1.5E-3", "0e0", "0.1",
    "1e-400", "123.456e-7", "5e-324", "1.7976931348623157e308", "9007199254740993",
    "999999999999999999", "-999999999999999999", "1000000000000000000", "-1000000000000000000",
    "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1" + "0" * 100, "-" + "9" * 4300,
    "0." + "1" * 100, "1" * 60 + ".5", "[1e5, 2E-3, 0]",
]

# json.loads takes these (Python's extension); JSON, and Go's decoder, do not: refused
CONSTANTS = ["NaN", "Infinity", "-Infinity", "[NaN, 1]", '{"a": -Infinity}']

BAD = [
    "", " ", "\n", "{", "}", "[", "]", "[1,]", "[,1]", "[1 2]", "{,}", '{"a"}', '{"a":}', '{"a" 1}', '{"a":1,}',
    '{"a":1 "b":2}', "{'a': 1}", "{a: 1}", '{1: 2}', "[1] [2]", "{} x", "1 2", "tru", "truex", "nul", "nulll",
    "falsee", "True", "None", "nan", "inf", "-", "+1", "01", "-01", "00", "1.", ".5", "-.5", "1.e5", "1e", "1e+",
    "1E-", "1ee5", "0x10", "1_000", "٣", "１", '"', '"abc', '"\\', '"\\"', '"\\x"', '"\\u"', '"\\u12"', '"\\u12g4"',
    '"\\uD800\\u"', '"\\ud800\\uzzzz"', '"\x00"', '"\x1f"', '"a\nb"', '"\t"', "\ufeff{}", "\x00", "[1,\x00]",
    "\u00a0[]", "[]\u00a0", "\x0b[]", "\x0c[]", "[1]\x0c", "/* c */ {}", "[-]", "[--1]", "-Infinityx",
    "NaNx", "[Infinity,]", '{"a":1}}', "[[]]]", "[[[[" + "]]]", "-" + "1" * 4301, "1" * 4301,
]


@pytest.mark.parametrize("text", VALID)
def test_valid(text: str) -> None:
    check_loads(text)
    check_loads(text.encode("utf-8", "surrogatepass"))
    assert same(jsonfast.loads(text), json.loads(text))
    assert same(_core.json_loads(text), json.loads(text))


@pytest.mark.parametrize("text", CONSTANTS)
def test_nan_and_infinity_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not JSON"):
        jsonfast.loads(text)
    with pytest.raises(ValueError):
        _core.json_loads(text)


@pytest.mark.parametrize("text", BAD)
def test_bad_input_same_error(text: str) -> None:
    check_loads(text)
    with pytest.raises(ValueError):
        jsonfast.loads(text)
    with pytest.raises(ValueError):
        _core.json_loads(text)


@pytest.mark.parametrize("raw", [b"\xff\xfe", b'"\xc3"', b"\xef\xbb\xbf{}", b'{"a": "\xed\xa0\x80"}'])
def test_bytes(raw: bytes) -> None:
    check_loads(raw)


def test_lone_surrogates_are_kept() -> None:
    assert jsonfast.loads(r'["\ud800", "\udfff", "\ud83d\ude00"]') == ["\ud800", "\udfff", "\U0001f600"]
    assert jsonfast.loads(r'"\ud800\udbff"') == "\ud800\udbff"


def test_big_ints() -> None:
    assert jsonfast.loads("1" + "0" * 4000) == 10**4000
    for n in (2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**18 - 1, 10**18, -(10**18)):
        assert jsonfast.loads(str(n)) == n and type(jsonfast.loads(str(n))) is int
        assert jsonfast.dumps(n) == str(n)
    with pytest.raises(ValueError, match="Exceeds the limit"):
        jsonfast.loads("1" * 5000)
    with pytest.raises(ValueError, match="Exceeds the limit"):
        jsonfast.dumps(10**5000)
    check_dumps(10**5000)


def test_floats() -> None:
    for text in ("1e400", "-1e400", "[1.5e309]"):  # beyond a double: Go's decoder refuses them too
        with pytest.raises(ValueError, match="out of range"):
            jsonfast.loads(text)
    assert math.copysign(1, jsonfast.loads("-0.0")) == -1 and jsonfast.loads("-0") == 0
    for x in (0.0, -0.0, 0.1, 1 / 3, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, math.inf, -math.inf, math.nan):
        check_dumps(x)
        check_dumps({x: x})
    assert jsonfast.dumps([math.nan, math.inf, -math.inf]) == "[NaN,Infinity,-Infinity]"


def test_deep_nesting() -> None:
    for depth in (10, 100, 200, 600):
        for o, c in (("[", "]"), ('{"a":', "}")):
            text = o * depth + "1" + c * depth
            if depth <= 200:  # same() takes two frames a level
                check_loads(text)
            assert jsonfast.loads(text) == json.loads(text)
    for text in ("[" * 100000 + "]" * 100000, '{"a":' * 100000 + "1" + "}" * 100000, "[" * 100000):
        assert outcome(old_loads, text)[0] == "RecursionError"
        with pytest.raises(RecursionError):
            jsonfast.loads(text)
    deep: list = []
    for _ in range(100000):
        deep = [deep]
    with pytest.raises(RecursionError):
        jsonfast.dumps(deep)
    with pytest.raises(RecursionError):
        jsonfast.dumps(deep, indent=2)
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(RecursionError):
        jsonfast.dumps(cyclic)


def test_hard_depth_cap_whatever_the_recursion_limit() -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)
    try:
        with pytest.raises(RecursionError, match="nested deeper than 10000"):
            _core.json_loads("[" * 20000 + "]" * 20000)
        assert _core.json_loads("[" * 5000 + "]" * 5000) is not None
    finally:
        sys.setrecursionlimit(limit)


class IntSub(int):
    def __repr__(self) -> str:
        return "nope"


class FloatSub(float):
    def __repr__(self) -> str:
        return "nope"


class StrSub(str):
    def __str__(self) -> str:
        return "nope"


class DictSub(dict):
    pass


class ListSub(list):
    pass


DUMPS = [
    None, True, False, 0, -1, 2**100, "", "plain", 'q"b\\s/\b\f\n\r\t\x00\x1f\x7f\x80\xff\u0100\uffff',
    "\ud800\udfff\U0001f600\U0010ffff", "é" * 100, [], (), {}, [[]], [{}], {"a": []}, (1, (2, (3,))),
    {"a": 1, "b": [1, 2.5, None, True, False, "x"], "c": {"d": {}}}, {7: 1, 2.5: 2, True: 3, None: 4, False: 5},
    {-0.0: 1, math.nan: 2, math.inf: 3}, {"k": (1, 2)}, [(), {}, []], {"\x00": "\ud800"},
    IntSub(7), FloatSub(1.5), StrSub("s\n"), DictSub(a=1), ListSub([1, ListSub()]), OrderedDict([("z", 1), ("a", 2)]),
    {StrSub("k"): 1}, {IntSub(3): FloatSub(2.0)}, [True, 1, 1.0], {"a": {"b": [1, {"c": (2, [3])}]}},
]


@pytest.mark.parametrize("obj", DUMPS, ids=range(len(DUMPS)))
def test_dumps(obj: object) -> None:
    check_dumps(obj)


@pytest.mark.parametrize(
    "obj",
    [{1, 2}, [1, {2}], {"a": b"x"}, object(), {(1, 2): 3}, {"a": {frozenset(): 1}}, [1, 2, {3: complex(1, 2)}]],
    ids=range(7),
)
def test_dumps_refused_the_same(obj: object) -> None:
    check_dumps(obj)
    with pytest.raises(TypeError):
        jsonfast.dumps(obj)


def test_dumps_messages() -> None:
    with pytest.raises(TypeError, match="^not JSON serializable: set$"):
        jsonfast.dumps([{1}])
    with pytest.raises(TypeError, match="^keys must be str, int, float, bool or None, not tuple$"):
        jsonfast.dumps({(1,): 1})
    # the indented form names keys by str(key), as it did
    assert jsonfast.dumps({(1, 2): [3]}, indent=1) == '{\n "(1, 2)": [\n  3\n ]\n}'


def test_default_result_is_encoded() -> None:
    assert _core.json_dumps({"a": {1, 2}}, sorted) == '{"a":[1,2]}'
    assert _core.json_dumps({3}, lambda o: None, 2) == "null"


# ---------------------------------------------------------------- fuzz


def rand_str(r: random.Random) -> str:
    pools = [(0x20, 0x7E), (0, 0x1F), (0x7F, 0xFF), (0x100, 0xD7FF), (0xD800, 0xDFFF), (0xE000, 0xFFFF),
             (0x10000, 0x10FFFF)]
    out = []
    for _ in range(r.randrange(12)):
        lo, hi = pools[r.randrange(len(pools))] if r.random() < 0.5 else pools[0]
        out.append(chr(r.randint(lo, hi)))
    if r.random() < 0.2:
        out.append(r.choice(['"', "\\", "/", "\\u", "\n"]))
    return "".join(out)


def rand_float(r: random.Random) -> float:
    k = r.randrange(6)
    if k == 0:
        return r.choice([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1e308])
    if k == 1:
        import struct

        return struct.unpack("<d", r.getrandbits(64).to_bytes(8, "little"))[0]
    return r.uniform(-1e6, 1e6) * 10 ** r.randint(-30, 30)


def rand_obj(r: random.Random, depth: int = 0) -> object:
    k = r.randrange(10 if depth < 5 else 6)
    if k == 0:
        return r.choice([None, True, False])
    if k == 1:
        return r.randint(-(2**70), 2**70) if r.random() < 0.3 else r.randint(-1000, 1000)
    if k == 2:
        return rand_float(r)
    if k in (3, 4, 5):
        return rand_str(r)
    if k in (6, 7):
        items = [rand_obj(r, depth + 1) for _ in range(r.randrange(5))]
        return tuple(items) if r.random() < 0.2 else items
    keys: list[object] = [rand_str(r) for _ in range(r.randrange(5))]
    if r.random() < 0.2:
        keys += [r.randint(-5, 5), rand_float(r), True, None]
    return {key: rand_obj(r, depth + 1) for key in keys}


def test_fuzz_roundtrip() -> None:
    r = random.Random(1616)
    for _ in range(3000):
        obj = rand_obj(r)
        text = jsonfast.dumps(obj)
        assert text == json.dumps(obj, separators=(",", ":")) == old_dumps(obj)
        assert jsonfast.dumps(obj, indent=2) == old_dumps(obj, indent=2)
        check_loads(text)
        if "NaN" not in text and "Infinity" not in text:
            assert same(jsonfast.loads(text), json.loads(text))
        pretty = json.dumps(obj, indent=r.choice([None, 1, 2, "\t"]), ensure_ascii=r.random() < 0.5)
        check_loads(pretty)


def test_fuzz_mutated_text() -> None:
    """Valid texts with random edits: the C and the old path agree on every one, value or error."""
    r = random.Random(16)
    alphabet = list('{}[]:,"\\/ \t\n\r0123456789.-+eEtrufalsnNIy\x00\x1fé\ud800') + ["\\u", "\\ud800", "\\udc00"]
    seeds = [json.dumps(rand_obj(r), ensure_ascii=r.random() < 0.5) for _ in range(200)]
    seeds += [(DATA / "docker-config.json").read_text()[:2000]]
    for _ in range(20000):
        text = r.choice(seeds)
        for _ in range(r.randint(1, 3)):
            if not text:
                break
            i = r.randrange(len(text))
            op = r.randrange(3)
            if op == 0:
                text = text[:i] + text[i + 1 :]
            elif op == 1:
                text = text[:i] + r.choice(alphabet) + text[i:]
            else:
                text = text[:i] + r.choice(alphabet) + text[i + 1 :]
        check_loads(text)


def test_hot_path_needs_no_json_module() -> None:
    import subprocess

    code = (
        "import sys; from railcar import jsonfast\n"
        "jsonfast.loads(b'{\"a\": [1, 2.5, \"\\\\u00e9\"]}'); jsonfast.dumps({'a': [1, 2.5]}, indent=2)\n"
        "jsonfast.dumps({'a': 1})\n"
        "bad = sorted(m for m in ('json', '_json', 're') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parent.parent.parent
    subprocess.run([sys.executable, "-S", "-c", code], cwd=root, check=True)
