"""Builders for the hash-chain and verifier tests: a county's event log, its header and lines.

Used by test_chain_verify.py, test_chain_verify_encoding.py and
test_chain_verify_cli.py, which import it by name as the meeting tests import
meeting_given.py. Lines are written compactly but not canonically (dumps).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from events.chain import GENESIS_HASH, event_hash, format_recorded_at
from events.verify import Problem, VerifyReport

REPO_ROOT = Path(__file__).resolve().parents[2]

COUNTY = "lanshan"
STREAM = "3f9d2c1e-7b4a-4e0c-9a51-6d2e8f0b7c44"
HASHED_FIELDS = (
    "stream",
    "version",
    "type",
    "schema_version",
    "data",
    "metadata",
    "recorded_at",
    "prev_hash",
)
BASE_TIME = datetime(2025, 3, 14, 1, 30, tzinfo=UTC)

Event = dict[str, Any]


# --------------------------------------------------------------------------
# Log builder
# --------------------------------------------------------------------------


def dumps(obj: Any) -> str:
    # Lines are written compactly but NOT in canonical key order, to make sure
    # the verifier hashes the meaning of a line rather than its spelling.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def compute_hash(event: Event, county: str = COUNTY) -> str:
    return event_hash(county=county, **{name: event[name] for name in HASHED_FIELDS})


def sample_data(version: int, rng: random.Random) -> dict[str, Any]:
    kind = version % 3
    if kind == 1:
        return {
            "title": f"第{version}项 述职报告：加强基层治理",
            "speaker": {"name": "王小明", "unit": "城关镇"},
            "duration_s": rng.randint(60, 900),
        }
    if kind == 2:
        return {
            "voter": f"delegate-{rng.randint(1, 80):03d}",
            "score": rng.randint(0, 100),
            "grade": rng.choice(["满意", "基本满意", "不满意"]),
            "rate": "87.5",
        }
    return {
        "note": "现场提问：\n“村道维修进度如何？”\t(追问)",
        "marks": [{"grade": "A", "weight": [3, 4]}, {"grade": "B", "weight": [1, 4]}],
        "public": True,
        "attachment": None,
    }


def make_events(
    n: int, *, county: str = COUNTY, stream: str = STREAM, seed: int = 1, start: int = 100
) -> list[Event]:
    """A valid chain of ``n`` events; positions have gaps like a shared county log."""
    rng = random.Random(seed)
    events: list[Event] = []
    prev = GENESIS_HASH
    position = start
    for version in range(1, n + 1):
        position += rng.randint(2, 9)  # other meetings' events interleave
        event: Event = {
            "position": position,
            "stream": stream,
            "version": version,
            "type": ("speech.recorded", "mark.cast", "question.asked")[version % 3],
            "schema_version": 1,
            "data": sample_data(version, rng),
            "metadata": {"actor": f"user-{rng.randint(1, 9)}", "ip_zone": "县政府会议室"},
            "recorded_at": format_recorded_at(BASE_TIME + timedelta(seconds=version * 7)),
            "prev_hash": prev,
        }
        event["hash"] = compute_hash(event, county)
        prev = event["hash"]
        events.append(event)
    return events


def rechain(events: list[Event], county: str = COUNTY) -> list[Event]:
    """What someone with database write access can do: renumber and re-hash everything."""
    result: list[Event] = []
    prev = GENESIS_HASH
    for version, event in enumerate(events, start=1):
        event = copy.deepcopy(event)
        event["version"] = version
        event["prev_hash"] = prev
        event["hash"] = compute_hash(event, county)
        prev = event["hash"]
        result.append(event)
    return result


def make_header(events: list[Event], *, county: str = COUNTY, stream: str = STREAM) -> dict[str, Any]:
    return {
        "format": "shuping-log",
        "format_version": 1,
        "county": county,
        "stream": stream,
        "exported_at": "2025-03-14T09:00:00.000000Z",
        "event_count": len(events),
        "head_hash": events[-1]["hash"] if events else None,
    }


def log_lines(events: list[Event], header: dict[str, Any] | None = None) -> list[str]:
    header = make_header(events) if header is None else header
    return [dumps(header)] + [dumps(event) for event in events]


def write_log(path: Path, lines: Iterable[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def line_of(version: int) -> int:
    """File line number of the event with this version in an untampered log."""
    return version + 1


def assert_first(
    report: VerifyReport,
    code: str,
    *,
    line_no: int | None,
    position: int | None = None,
    version: int | None = None,
) -> Problem:
    assert not report.ok
    problem = report.first_problem
    assert problem is not None
    assert (problem.code, problem.line_no) == (code, line_no), problem
    if position is not None:
        assert problem.position == position, problem
    if version is not None:
        assert problem.version == version, problem
    assert problem.message and problem.message_zh
    return problem
