"""What C and Python both know is written once per side and compared here: the helper plan's
tags (csrc/helper_plan.h, railcar/helperplan.py), the fast path's signal table and id rule
(csrc/fastpath.c, railcar/signals.py, railcar/state.py)."""

from __future__ import annotations

import re
from pathlib import Path

from railcar import helperplan, signals, state

CSRC = Path(__file__).resolve().parents[2] / "csrc"


def test_helper_plan_tags_match() -> None:
    text = (CSRC / "helper_plan.h").read_text()
    c_tags = {m[0]: int(m[1]) for m in re.findall(r"^\s*(HP_\w+)\s*=\s*(\d+),", text, re.M)}
    py_tags = {k: v for k, v in vars(helperplan).items() if k.startswith("HP_")}
    assert c_tags and c_tags == py_tags
    assert len(set(c_tags.values())) == len(c_tags), "a tag number is used twice"


def test_fast_path_signal_table_matches() -> None:
    text = (CSRC / "fastpath.c").read_text()
    table = text[text.index("SIGS[] = {"):]
    table = table[: table.index("};")]
    c_sigs = {m[0]: int(m[1]) for m in re.findall(r'\{"(\w+)", (\d+)\}', table)}
    assert c_sigs == signals.SIGNALS


def test_fast_path_id_rule_matches() -> None:
    text = (CSRC / "fastpath.c").read_text()
    body = text[text.index("static int valid_id"):]
    body = body[: body.index("\n}\n")]
    extra = re.search(r'strchr\("([^"]+)", \*p\)', body)
    assert extra, "valid_id's punctuation set not found"
    c_chars = set(extra[1]) | set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    assert c_chars == set(state._ID_CHARS)
    assert 'strstr(id, "..")' in body and '!strcmp(id, ".")' in body
    for cid in ("a", ".hidden", "x.y", "a+b-c_d"):
        assert state.valid_id(cid)
    for cid in ("", ".", "..", "a..b", "a/b", "@railcar", "a b"):
        assert not state.valid_id(cid)
