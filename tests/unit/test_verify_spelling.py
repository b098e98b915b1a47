"""The verifier's quick reading of the export's spelling says exactly what the strict reading says.

`read_event` (events.shuping_verify.spelling) accepts a line only when it can
prove the strict path would read the same event; everything else goes the
strict way. These tests mutate lines written in the export's spelling in every
way we could think of (duplicate keys, floats, huge integers, NUL, lone
surrogates, bad UTF-8, escapes, whitespace, key order, types, random bytes) and
require, line by line, that a line the quick path accepts is read strictly as
the very same event, and, log by log, that the whole report (every problem,
every line number, every word) is the same with and without the quick path.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events.chain import GENESIS_HASH, event_hash, format_recorded_at
from events.shuping_verify import report as report_module
from events.shuping_verify.canonical import BadLine, LogEvent, parse_event, parse_json_line
from events.shuping_verify.report import verify_lines
from events.shuping_verify.spelling import canonical_string, event_line, read_event

COUNTY = "lanshan"
STREAM = "meeting-7c1e"
HASHED = ("stream", "version", "type", "schema_version", "data", "metadata", "recorded_at", "prev_hash")


def _data(rng: random.Random, version: int) -> dict[str, Any]:
    """Values of every kind the canonical form allows, the awkward ones included."""
    kind = version % 4
    if kind == 0:
        return {"text": "汇报\n完毕\t“引号” \"quoted\" back\\slash \x01\x1f \u2028 /slash 😀", "n": rng.randint(-9, 9)}
    if kind == 1:
        return {"marks": {f"s{i}": {f"c{j}": rng.choice(["you", "liang", "cha"]) for j in range(3)} for i in range(3)},
                "code_hash": f"{rng.getrandbits(256):064x}", "source": "phone"}
    if kind == 2:
        return {"big": 2**53 - 1, "small": -(2**53 - 1), "zero": 0, "flags": [True, False, None],
                "nested": [[], {}, [[1, [2]], {"Z_9": "x"}]], "empty": ""}
    return {}


def honest_events(n: int, *, seed: int, public: bool = False) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events, prev, position = [], GENESIS_HASH, 10
    for version in range(1, n + 1):
        position += rng.randint(1, 5)
        event: dict[str, Any] = {
            "position": position, "stream": STREAM, "version": version, "type": rng.choice(["QuestionAsked", "BallotCast"]),
            "schema_version": rng.randint(0, 3), "data": _data(rng, version),
            "metadata": {"actor": "host:李建国", "command_id": f"{rng.getrandbits(64):x}"} if version % 3 else {},
            "recorded_at": format_recorded_at(datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=version)),
            "prev_hash": prev,
        }
        event["hash"] = prev = event_hash(county=COUNTY, **{k: event[k] for k in HASHED})
        if public:
            event["redacted"] = version % 2 == 0
        events.append(event)
    return events


# -- mutations of one line's text -----------------------------------------------------------------

def _sub(old: str, new: str) -> Callable[[str, random.Random], str]:
    return lambda text, _rng: text.replace(old, new, 1)


def _insert(fragment: str) -> Callable[[str, random.Random], str]:
    """Put a member into the data object (or make data that member)."""
    def mutate(text: str, _rng: random.Random) -> str:
        if '"data":{}' in text:
            return text.replace('"data":{}', '"data":{' + fragment + "}", 1)
        return text.replace('"data":{', '"data":{' + fragment + ",", 1)
    return mutate


def _flip_byte(text: str, rng: random.Random) -> str:
    raw = bytearray(text.encode("utf-8"))
    raw[rng.randrange(len(raw))] = rng.randrange(256)
    return raw.decode("utf-8", errors="surrogateescape")


def _drop_char(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text))
    return text[:i] + text[i + 1:]


def _insert_char(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + rng.choice(' \t\r\n{}[]:,"\\0123456789-.eE+aZ_述\x00\ud800') + text[i:]


def _escape_one(text: str, rng: random.Random) -> str:
    """Write one character of a string as its \\uXXXX escape (same value, other spelling)."""
    spots = [i for i, ch in enumerate(text) if ch.isalpha() and ord(ch) < 0x10000 and text[i - 1] != "\\"]
    i = rng.choice(spots)
    return text[:i] + f"\\u{ord(text[i]):04x}" + text[i + 1:]


def _swap_data_keys(text: str, _rng: random.Random) -> str:
    obj = json.loads(text)
    if len(obj["data"]) < 2:
        return text
    obj["data"] = dict(reversed(list(obj["data"].items())))
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


MUTATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "none": lambda text, _rng: text,
    "dup_top": _sub('{"position":', '{"position":1,"position":'),
    "dup_top_same": lambda text, _rng: text.replace('"type":', '"type":"X","type":', 1),
    "dup_data": _insert('"dd":1,"dd":1'),
    "dup_metadata": _sub('"metadata":{', '"metadata":{"m":1,"m":2,'),
    "float": _insert('"f":1.5'),
    "float_whole": _insert('"f":1.0'),
    "exponent": _insert('"f":1e2'),
    "version_float": lambda text, _rng: text.replace(',"version":', ',"version":1.0,"v_":', 1),
    "minus_zero": _insert('"z":-0'),
    "nan": _insert('"f":NaN'),
    "infinity": _insert('"f":Infinity'),
    "minus_infinity": _insert('"f":-Infinity'),
    "huge": _insert('"h":9007199254740992'),
    "huge_negative": _insert('"h":-9007199254740992'),
    "huge_position": lambda text, _rng: text.replace('{"position":', '{"position":90071992547409920', 1),
    "digits_4301": _insert('"h":' + "1" * 4301),
    "nul": _insert('"s":"a\\u0000b"'),
    "nul_lookalike": _insert('"s":"a\\\\u0000b"'),
    "lone_surrogate": _insert('"s":"\\ud800"'),
    "surrogate_pair": _insert('"s":"\\ud83d\\ude00"'),
    "raw_surrogate": _insert('"s":"\ud800"'),
    "escaped_slash": _insert('"s":"a\\/b"'),
    "upper_hex_escape": _insert('"s":"\\u001F"'),
    "escape_one": _escape_one,
    "bad_key": _insert('"a-b":1'),
    "empty_key": _insert('"":1'),
    "chinese_key": _insert('"键":1'),
    "digit_key": _insert('"1a":1'),
    "space": _sub(',"version":', ', "version":'),
    "space_in_data": _sub('"data":{', '"data": {'),
    "leading_space": lambda text, _rng: " " + text,
    "crlf": lambda text, _rng: text + "\r",
    "two_lines": lambda text, _rng: text + "\n" + text,
    "bom": lambda text, _rng: "\ufeff" + text,
    "data_keys_swapped": _swap_data_keys,
    "true_for_1": lambda text, _rng: re.sub(r'"version":[0-9]+,', '"version":true,', text, count=1),
    "position_list": lambda text, _rng: text.replace('{"position":', '{"position":[],"p_":', 1),
    "position_string": lambda text, _rng: text.replace('{"position":', '{"position":"1","p_":', 1),
    "data_list": lambda text, _rng: text.replace('"data":{', '"data":[{', 1).replace(',"metadata":', '],"metadata":', 1),
    "metadata_null": lambda text, _rng: text.replace('"metadata":{', '"metadata":null,"m_":{', 1),
    "version_zero": lambda text, _rng: text.replace(',"version":', ',"version":0,"v_":', 1),
    "schema_negative": _sub('"schema_version":', '"schema_version":-1,"s_":'),
    "upper_hash": lambda text, _rng: re.sub(r'"hash":"[0-9a-f]{64}"', lambda m: m[0].upper(), text, count=1),
    "missing_key": lambda text, _rng: text.replace(',"type":', ',"t_":', 1),
    "extra_key": lambda text, _rng: text[:-1] + ',"extra":1}',
    "redacted_string": lambda text, _rng: text.replace('"redacted":false', '"redacted":"no"').replace('"redacted":true', '"redacted":1'),
    "deep": _insert('"deep":' + "[" * 5000 + "]" * 5000),
    "flip_byte": _flip_byte,
    "drop_char": _drop_char,
    "insert_char": _insert_char,
    "empty": lambda _text, _rng: "",
    "not_object": lambda _text, _rng: "[1,2]",
}


def strict(raw: str | bytes, *, public: bool) -> Any:
    """The strict path's reading: the event, or the BadLine's words."""
    try:
        return parse_event(parse_json_line(raw), COUNTY, public=public)
    except BadLine as exc:
        return ("bad", exc.message, exc.message_zh)


def _raw(text: str) -> bytes:
    try:
        return text.encode("utf-8", errors="surrogateescape")  # flipped bytes stay bytes, as in a file
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="surrogatepass")  # a lone surrogate as CESU-8 bytes


def test_the_export_spelling_is_read_quickly_and_as_strictly() -> None:
    for public in (False, True):
        for event in honest_events(40, seed=3, public=public):
            raw = _raw(event_line(event) + "\n")
            quick = read_event(raw, canonical_string(COUNTY), public)
            assert quick is not None, event_line(event)
            assert repr(LogEvent(*quick)) == repr(strict(raw, public=public))
            assert LogEvent(*quick).computed_hash == event["hash"]


def test_the_export_writes_the_line_it_would_verify() -> None:
    event = honest_events(1, seed=1)[0]
    line = event_line(event)
    assert json.loads(line) == event and list(json.loads(line)) == list(event)
    assert '"data":{"n":' not in line or line.index('"n":') < line.index('"text":')  # data's keys sorted


@pytest.mark.parametrize("public", [False, True])
def test_quick_reading_equals_strict_reading_on_mutated_lines(public: bool) -> None:
    rng = random.Random(18 + public)
    county_json = canonical_string(COUNTY)
    taken: dict[str, int] = dict.fromkeys(MUTATIONS, 0)
    refused = fallback = 0
    for round_no in range(6):
        for event in honest_events(60, seed=100 * round_no + public, public=public):
            for name, mutate in MUTATIONS.items():
                text = mutate(event_line(event), rng)
                for raw in (_raw(text + "\n"), _raw(text), text + "\n"):
                    quick = read_event(raw, county_json, public)
                    slow = strict(raw, public=public)
                    if quick is None:
                        refused += isinstance(slow, tuple)
                        fallback += not isinstance(slow, tuple)
                        continue
                    taken[name] += 1
                    # repr tells True from 1 and names every field: the same event, the same hash.
                    assert repr(LogEvent(*quick)) == repr(slow), (name, text[:300])
    # The test must be able to fail: both paths were exercised, and the mutations that change a
    # line's meaning or spelling never reached the quick path.
    assert taken["none"] == 6 * 60 * 3 and refused > 5_000 and fallback > 1_000
    for name in ("dup_top", "dup_top_same", "dup_data", "dup_metadata", "float", "float_whole", "exponent",
                 "minus_zero", "nan", "infinity", "huge", "huge_position", "digits_4301", "nul", "lone_surrogate",
                 "surrogate_pair", "raw_surrogate", "escaped_slash", "upper_hex_escape", "bad_key", "empty_key",
                 "chinese_key", "space", "leading_space", "crlf", "two_lines", "bom", "true_for_1",
                 "position_list", "position_string", "data_list", "metadata_null", "version_zero",
                 "schema_negative", "missing_key", "extra_key", "deep", "empty", "not_object", "escape_one",
                 "upper_hash", "redacted_string" if public else "none_"):
        assert taken.get(name, 0) == 0, name


def _lines(events: list[dict[str, Any]], *, public: bool, head: str | None = None) -> list[str]:
    header = {"format": "shuping-public-log" if public else "shuping-log", "format_version": 1, "county": COUNTY,
              "stream": STREAM, "exported_at": "2026-12-01T05:00:00.000000Z", "event_count": len(events),
              "head_hash": head if head is not None else (events[-1]["hash"] if events else None)}
    return [json.dumps(header)] + [event_line(event) for event in events]


def _rechained(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    prev = GENESIS_HASH
    for version, event in enumerate(events, start=1):
        event.update(version=version, prev_hash=prev)
        event["hash"] = prev = event_hash(county=COUNTY, **{k: event[k] for k in HASHED})
    return events


@pytest.mark.parametrize("public", [False, True])
def test_every_report_is_the_same_with_and_without_the_quick_path(public: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5 + public)
    names = list(MUTATIONS)
    logs: list[tuple[list[bytes], list[str], dict[str, Any]]] = []
    for n in range(400):
        events = honest_events(rng.randint(0, 25), seed=n, public=public)
        how = rng.random()
        if events and how < 0.3:  # a changed value, the chain recomputed (only the hash rule can tell)
            events[rng.randrange(len(events))]["data"]["x"] = rng.choice([1, "改", True, None, [2**53 - 1]])
            _rechained(events)
        elif len(events) > 1 and how < 0.4:
            del events[rng.randrange(len(events))]
        lines = [line.encode("utf-8") for line in _lines(events, public=public)]
        if len(lines) > 1 and how >= 0.4:  # one line's text mutated
            i = rng.randrange(1, len(lines))
            lines[i] = _raw(MUTATIONS[rng.choice(names)](lines[i].decode("utf-8"), rng))
        heads = [events[rng.randrange(len(events))]["hash"]] if events and rng.random() < 0.3 else []
        logs.append((lines, heads, verify_lines([line + b"\n" for line in lines], trusted_heads=heads).to_dict()))
    monkeypatch.setattr(report_module, "read_event", lambda *_args: None)  # every line the strict way
    outcomes = {"ok": 0, "failed": 0}
    for lines, heads, expected in logs:
        again = verify_lines([line + b"\n" for line in lines], trusted_heads=heads)
        assert again.to_dict() == expected, [line[:200] for line in lines]
        outcomes["ok" if again.ok else "failed"] += 1
    assert outcomes["ok"] > 40 and outcomes["failed"] > 100, outcomes
