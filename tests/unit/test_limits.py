"""common.limits: JSON of bounded depth, keys and text without NUL or lone surrogates (no database)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common import limits
from common.refusal import Refusal


def refused_code(raw: bytes) -> str:
    with pytest.raises(Refusal) as caught:
        limits.loads(raw)
    return caught.value.code


@pytest.mark.parametrize("levels", [33, 1_000, 100_000])
def test_depth_past_the_bound_is_refused_before_parsing(levels: int) -> None:
    assert refused_code(b"[" * levels + b"]" * levels) == "json_too_deep"
    assert refused_code(b'{"a":' * levels + b"1" + b"}" * levels) == "json_too_deep"
    # Unbalanced, and never closed: still refused for depth, not left to the parser's recursion.
    assert refused_code(b"[" * levels) == "json_too_deep"


def test_depth_at_the_bound_parses() -> None:
    depth = limits.MAX_DEPTH
    assert limits.loads(b"[" * depth + b"]" * depth) == json.loads("[" * depth + "]" * depth)


def test_brackets_inside_strings_are_not_depth() -> None:
    text = json.dumps({"text": "[" * 10_000 + '\\"{' * 100, "list": [[["ok"]]]}).encode()
    assert limits.depth_within(text)
    assert limits.loads(text)["list"] == [[["ok"]]]
    # An escaped quote does not end the string: the brackets after it are still inside.
    assert limits.depth_within(b'["\\"' + b"[" * 100 + b'"]')


@pytest.mark.parametrize("raw", [
    b'{"a": "\\u0000"}', b'{"\\u0000": 1}', b'{"a": "\\ud800"}', b'{"\\udfff": 1}', b'["x\\udc00y"]',
    b'{"marks": {"s": {"\\ud83d": "g"}}}',
])
def test_nul_and_lone_surrogates_are_refused_anywhere(raw: bytes) -> None:
    assert refused_code(raw) == "invalid_characters"


def test_a_surrogate_pair_is_a_character_not_a_refusal() -> None:
    assert limits.loads(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}
    assert limits.loads('{"名": "王秀英"}'.encode()) == {"名": "王秀英"}


@pytest.mark.parametrize(("raw", "code"), [
    (b"\xff\xfe{}", "malformed_request"),  # not UTF-8
    ('{"a": "é"}'.encode("latin-1"), "malformed_request"),
    (b'{"a": NaN}', "malformed_request"),
    (b'{"a": -Infinity}', "malformed_request"),
    (b'{"a": 1e400}', "number_out_of_range"),
    (b"1" * 5000, "malformed_request"),  # past Python's digit limit for int()
    (b'{"a": 1', "malformed_request"),
    (b"", "malformed_request"),
    (json.dumps({"k" * 129: 1}).encode(), "key_too_long"),
])
def test_other_refusals(raw: bytes, code: str) -> None:
    assert refused_code(raw) == code


def test_refusals_never_echo_the_input() -> None:
    for raw in (b'{"\\ud800secret": 1}', b'{"a\\u0000secret": 1}', json.dumps({"secret" * 30: 1}).encode()):
        with pytest.raises(Refusal) as caught:
            limits.loads(raw)
        assert "secret" not in caught.value.message_zh + caught.value.message_en
        assert caught.value.message_zh.encode("utf-8")  # encodable: no surrogate in it


@settings(max_examples=300)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=30))
def test_loads_agrees_with_json_or_refuses(value: Any) -> None:
    """On any JSON document: the same value as json.loads, or a Refusal (never another exception)."""
    raw = json.dumps(value).encode()
    try:
        parsed = limits.loads(raw)
    except Refusal as refusal:
        assert refusal.code in {"json_too_deep", "invalid_characters", "key_too_long"}
        return
    assert parsed == json.loads(raw)
    json.dumps(parsed, ensure_ascii=False).encode("utf-8")  # whatever passed can be answered back


@pytest.mark.parametrize("raw", [
    b"[" * 40 + b'"' + b'\\"' * 120_000,  # an unterminated string of escaped quotes
    b'{"a": "' + b'\\"' * 120_000 + b'"}',
    b'{"' + b'\\"' * 120_000 + b'": 1}',  # a key of escaped quotes (too long, though short between quotes)
    b"]" * 120_000 + b"[" * 120_000,
    b'["' + b'""' * 120_000 + b'"]' + b"[]" * 40,
    b"[" + b",".join([b'"' + b"x" * 128 + b'"'] * 1900) + b"]",
])
def test_pathological_bodies_are_answered_in_linear_time(raw: bytes) -> None:
    """A quadratic scan of any of these 240 KB bodies (e.g. a regex that backtracks over escapes) takes hours."""
    answered = threading.Event()

    def parse() -> None:
        try:
            limits.loads(raw)
        except Refusal:
            pass
        answered.set()

    threading.Thread(target=parse, daemon=True).start()
    assert answered.wait(timeout=120), "limits.loads did not answer within 120 s"


def test_a_key_of_escapes_is_too_long() -> None:
    assert refused_code(b'{"' + b'\\"' * 129 + b'": 1}') == "key_too_long"
    assert limits.loads(b'{"' + b'\\"' * 128 + b'": 1}') == {'"' * 128: 1}


def test_clean_text() -> None:
    assert limits.clean_text("王秀英 ok\t\n")
    assert not limits.clean_text("a\x00b")
    assert not limits.clean_text("a\ud800b")
    with pytest.raises(limits.InvalidCharacters):
        limits.require_clean_text(["ok", "bad\x00"])
