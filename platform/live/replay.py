"""The auditor's replay: a meeting's log folded to any version, shown as the pages showed it then.

At a position (a stream version) the replay folds the meeting's events up to
that version with the aggregate (meetings.domain.aggregate.Meeting), never
reading a projection, and hands the folded state to the very functions that
build the live snapshots (live.snapshots.screen_of, console_of). So what the
replay shows at the last position is what the hall screen was sent, except
for the fields that are live by nature (REPLAY_CLOCK_FIELDS): the server's
clock, which a replay sets to the time the event was recorded, so that a
report's timer reads as it did then.

Ballot secrecy: phone ballots reach the log only at the close, as one run of
`BallotCast` events sorted by code hash (meetings.domain.voting). The
timeline shows that run as one step, and while voting was open the replay
shows no phone ballot count: the log has none, and the sealed box of today
is never read (meetings.selectors.from_log_only). Nothing shown says which
ballot came when.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from events.reading import read_stream, read_stream_data, read_stream_marks
from events.records import RecordedEvent
from events.repository import Loaded
from events.types import load as load_event
from live import snapshots
from meetings.domain.aggregate import Meeting
from meetings.domain.errors import UnknownMeeting
from meetings.domain.rules import category_name_zh
from meetings.selectors import from_log_only
from meetings.streams import meeting_stream

# More ballots than any meeting's close writes (the largest meetings have a few hundred voters).
MAX_BALLOTS_RUN = 100_000

# Snapshot fields a replay cannot equal, and why: the rest equals the live snapshot.
REPLAY_CLOCK_FIELDS: dict[str, tuple[str, str]] = {
    "server_now": ("服务器时钟：重放取该位置最后一条事件的记录时间",
                   "the server's clock: a replay reads the recorded time of its last event"),
}

EVENT_NAMES: dict[str, tuple[str, str]] = {
    "MeetingScheduled": ("安排会议", "meeting scheduled"),
    "MeetingConfigured": ("配置规则、对象和名册", "rules, subjects and roster set"),
    "MeetingAnnounced": ("发布会议公告", "meeting announced"),
    "AttendeeCheckedIn": ("签到", "checked in"),
    "QuorumOverrideApproved": ("批准不足法定人数开会", "quorum overridden"),
    "MeetingOpened": ("会议开始", "meeting opened"),
    "ReportStarted": ("开始述职", "report started"),
    "ReportEnded": ("结束述职", "report ended"),
    "CommentRecorded": ("点评", "comment"),
    "QuestionAsked": ("提问", "question asked"),
    "QuestionAnswered": ("答复", "question answered"),
    "BallotCodesIssued": ("发放测评码", "ballot codes issued"),
    "BallotCodesPrinted": ("测评码已打印", "ballot codes printed"),
    "BallotOpened": ("开始测评", "voting opened"),
    "BallotCast": ("手机选票", "phone ballots"),
    "PaperBatchEntered": ("录入纸质选票", "paper batch entered"),
    "PaperBatchReconciled": ("纸质选票核对一致", "paper batch reconciled"),
    "PaperBatchMismatchDetected": ("纸质选票录入不一致", "paper batch mismatch"),
    "BallotClosed": ("结束测评", "voting closed"),
    "CountDiscrepancyAccepted": ("登记票数差异处理决定", "count discrepancy accepted"),
    "ResultsAnnounced": ("公布结果", "results announced"),
    "MeetingClosed": ("会议结束", "meeting closed"),
    "ScreenLinksRevoked": ("撤销大屏链接", "screen links revoked"),
}


@dataclass(frozen=True)
class Step:
    """One position of the timeline: the events first..version (more than one only for the close's ballots)."""

    first: int
    version: int
    type: str
    name_zh: str
    name_en: str
    detail_zh: str
    detail_en: str
    at: str  # the county's local time, ISO 8601 to the second (what the time input compares with)
    actor: str | None


def _local(event: RecordedEvent) -> str:
    return _local_time(event.recorded_at)


def _local_time(recorded_at: datetime) -> str:
    return timezone.localtime(recorded_at).replace(microsecond=0, tzinfo=None).isoformat()


def _detail(event: RecordedEvent, names: dict[str, str]) -> tuple[str, str]:
    """A short description of the event in Chinese and English (names and figures from its data)."""
    data, kind = event.data, event.type
    subject = names.get(str(data.get("subject_id") or data.get("subject") or ""), "")
    if kind == "MeetingScheduled":
        return data.get("title", ""), data.get("title", "")
    if kind == "MeetingConfigured":
        subjects, roster = len(data.get("subjects", [])), len(data.get("roster", []))
        return f"述评对象 {subjects} 名，名册 {roster} 人", f"{subjects} subjects, roster of {roster}"
    if kind == "AttendeeCheckedIn":
        category = str(data.get("category", ""))
        return f"{data.get('name', '')}（{category_name_zh(category)}）", f"{data.get('name', '')} ({category})"
    if kind in ("ReportStarted", "ReportEnded", "CommentRecorded", "QuestionAsked"):
        return subject, subject
    if kind == "BallotCodesIssued":
        category = str(data.get("category", ""))
        return f"{category_name_zh(category)} {data.get('count', 0)} 个", f"{data.get('count', 0)} for {category}"
    if kind in ("PaperBatchEntered", "PaperBatchReconciled", "PaperBatchMismatchDetected", "BallotCodesPrinted"):
        return f"第 {data.get('batch_no')} 批", f"batch {data.get('batch_no')}"
    if kind == "BallotClosed":
        return f"手机选票 {data.get('phone_ballots', 0)} 张", f"{data.get('phone_ballots', 0)} phone ballots"
    if kind == "ResultsAnnounced":
        return f"计入选票 {data.get('ballots_counted', 0)} 张", f"{data.get('ballots_counted', 0)} ballots counted"
    if kind in ("QuorumOverrideApproved", "CountDiscrepancyAccepted"):
        return str(data.get("reason", "")), str(data.get("reason", ""))
    return "", ""


def timeline(meeting_id: str) -> list[Step]:
    """The meeting's log as steps, in version order; UnknownMeeting if it has no event.

    The phone ballots written at the close are one step (their order in the
    log is by code hash, meaningless as time, and a part of them is no state
    any page ever showed).
    """
    events = read_stream(meeting_stream(meeting_id))
    if not events:
        raise UnknownMeeting(meeting_id)
    return _steps(events, {})


@dataclass(frozen=True)
class Mark:
    """A step's place on the timeline without its words: what the page needs of every step."""

    first: int
    version: int
    type: str
    at: str  # as Step.at


def marks(meeting_id: str) -> list[Mark]:
    """The places of the timeline's steps (the same steps as `timeline`), read without the events' data.

    UnknownMeeting if the meeting has no event.
    """
    out: list[Mark] = []
    for version, kind, recorded_at in read_stream_marks(meeting_stream(meeting_id)):
        if kind == "BallotCast" and out and out[-1].type == "BallotCast":
            out[-1] = Mark(out[-1].first, version, kind, out[-1].at)
        else:
            out.append(Mark(version, version, kind, _local_time(recorded_at)))
    if not out:
        raise UnknownMeeting(meeting_id)
    return out


def steps_between(meeting_id: str, places: list[Mark], start: int, stop: int) -> list[Step]:
    """The steps places[start:stop] in full (names and details), reading only their events and one more.

    The one more is the meeting's configuration before them, whose subject
    names the steps' details use.
    """
    window = places[start:stop]
    if not window:
        return []
    stream = meeting_stream(meeting_id)
    names: dict[str, str] = {}
    configured = [m.version for m in places[:start] if m.type == "MeetingConfigured"]
    if configured:
        names = _subject_names(read_stream(stream, from_version=configured[-1], limit=1)[0])
    first = window[0].first
    return _steps(read_stream(stream, from_version=first, limit=window[-1].version - first + 1), names)


def index_of_version(places: list[Mark], version: int) -> int:
    """The step holding `version` (the last step for a version past the end)."""
    return min(bisect.bisect_left(places, version, key=lambda m: m.version), len(places) - 1)


def index_at(places: list[Mark], local: str) -> int | None:
    """The last step at or before a local time (ISO 8601 to the second, as Mark.at); None before the first.

    A scan, not a bisection: recorded times need not rise strictly with versions.
    """
    found = None
    for index, mark in enumerate(places):
        if mark.at <= local:
            found = index
    return found


def _subject_names(configured: RecordedEvent) -> dict[str, str]:
    return {s["subject_id"]: s["name"] for s in configured.data.get("subjects", [])}


def _steps(events: list[RecordedEvent], names: dict[str, str]) -> list[Step]:
    """Events as steps; `names` are the subject names configured before the first of them."""
    steps: list[Step] = []
    for event in events:
        if event.type == "MeetingConfigured":
            names = _subject_names(event)
        if event.type == "BallotCast" and steps and steps[-1].type == "BallotCast":
            last = steps[-1]
            count = event.stream_version - last.first + 1
            steps[-1] = Step(last.first, event.stream_version, last.type, last.name_zh, last.name_en,
                             f"{count} 张（关闭投票时一并写入，按码哈希排序）",
                             f"{count} (written together at the close, sorted by code hash)", last.at, None)
            continue
        zh, en = EVENT_NAMES.get(event.type, (event.type, event.type))
        if event.type == "BallotCast":
            detail_zh, detail_en = "1 张（关闭投票时写入）", "1 (written at the close)"
        else:
            detail_zh, detail_en = _detail(event, names)
        actor = event.metadata.get("actor")
        steps.append(Step(event.stream_version, event.stream_version, event.type, zh, en, detail_zh, detail_en,
                          _local(event), None if actor is None else str(actor)))
    return steps


def fold_to(meeting_id: str, version: int) -> tuple[Loaded[Meeting], RecordedEvent]:
    """The meeting folded from its log's first `version` events, and the last of them.

    UnknownMeeting if it has no event. A version past the end folds the whole
    log; one inside the close's run of phone ballots folds the whole run (no
    page ever showed a part of it, and a part in code-hash order means nothing).

    The fold reads only each event's type, version and data (read_stream_data);
    the last event, whose hash and time the page shows, is read whole.
    """
    stream = meeting_stream(meeting_id)
    rows = read_stream_data(stream, limit=max(1, version))
    if not rows:
        raise UnknownMeeting(meeting_id)
    if rows[-1][0] == "BallotCast":  # inside or at the end of the close's run: read the rest of the run
        more = read_stream_data(stream, from_version=len(rows) + 1, limit=MAX_BALLOTS_RUN)
        rows += itertools.takewhile(lambda row: row[0] == "BallotCast", more)
    meeting = Meeting()
    for kind, schema_version, data in rows:
        meeting.apply(load_event(kind, schema_version, data, stored=True))
    last = read_stream(stream, from_version=len(rows), limit=1)[0]
    return Loaded(last.stream_id, meeting, meeting.version, last.hash), last


def replay_at(meeting_id: str, version: int) -> dict[str, Any]:
    """What the hall screen and the console showed once the log reached `version`."""
    loaded, last = fold_to(meeting_id, version)
    with from_log_only():
        screen, console = snapshots.screen_and_console_of(meeting_id, loaded)
    clock = last.recorded_at.isoformat()
    for body in (screen, console):
        body["server_now"] = clock
    meeting = loaded.state
    return {
        "meeting_id": meeting_id,
        "version": loaded.version,
        "head_hash": loaded.head,  # the chain's hash at this position (the screen shows it only from the close)
        "at": _local(last),
        "recorded_at": clock,
        # While voting, phone ballots are sealed outside the log: the log knows their number only at the close.
        "phone_ballots_sealed": meeting.phase == "ballot_open",
        "screen": screen,
        "console": console,
    }
