"""The auditor's replay page of one meeting, and what its script asks for: states and windows of steps.

`/audit/<meeting>/` shows the verifier's fresh verdict on the meeting's log, a
frame of the hall screen and one window of its timeline (live.replay): the
page's size does not grow with the log, so a 10,000-event meeting opens as
fast as a small one. `/audit/<meeting>/at/?i=N` (the Nth step), `?v=N` (the
step holding version N) or `?at=…` (the last step at or before a local time)
answers what the screen and the console showed then, folded from the log;
`/audit/<meeting>/steps/?from=N` is another window of the timeline.
All only read. Who may open them: accounts.roles "page:replay".
"""

from __future__ import annotations

import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache

from common.http_errors import api_error
from common.refusal import Refusal
from events.verdicts import stream_verdict
from live import replay
from live.pages import hall_error, page_for
from meetings.streams import meeting_stream

_NUMBER = re.compile(r"[0-9]{1,9}\Z")
_LOCAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?\Z")
# Steps of the timeline in one window: the page holds one, the script asks for others.
WINDOW = 100


def _number(raw: str | None, *, minimum: int) -> int | None:
    """A non-negative integer given in the query, at least `minimum`; None when absent or not one."""
    if raw is None or not _NUMBER.match(raw) or int(raw) < minimum:
        return None
    return int(raw)


def _window_from(index: int, count: int) -> int:
    """The first step of the window that has `index` near its middle."""
    return max(0, min(index - WINDOW // 2, count - WINDOW))


def _window(meeting_id: str, places: list[replay.Mark], start: int) -> dict[str, Any]:
    steps = replay.steps_between(meeting_id, places, start, start + WINDOW)
    return {"from": start, "to": start + len(steps), "steps": steps}


@never_cache
@page_for("replay")
def replay_page(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """The replay: one window of the timeline, slider and steps, time input, the screen, console and tallies."""
    try:
        places = replay.marks(meeting_id)
    except Refusal as error:
        return hall_error(request, status=error.http_status, code=error.code, zh=error.message_zh,
                          en=error.message_en)
    # This one meeting's log is verified afresh on each view (the list's verdicts are cached per head).
    verdict = stream_verdict(meeting_stream(meeting_id), fresh=True)
    asked = _number(request.GET.get("v"), minimum=1)
    start = len(places) - 1 if asked is None else replay.index_of_version(places, asked)
    window = _window(meeting_id, places, _window_from(start, len(places)))
    return render(request, "hall/replay.html", {
        "county": request.tenant,  # type: ignore[attr-defined]
        "meeting_id": meeting_id,
        "title": replay.steps_between(meeting_id, places, 0, 1)[0].detail_zh,  # MeetingScheduled: the title
        "count": len(places),
        "window": window,
        "window_size": WINDOW,
        "start": start,
        "verdict": verdict.to_data(),
        "clock_fields": replay.REPLAY_CLOCK_FIELDS,
    })


@never_cache
@page_for("replay")
def replay_state(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """JSON: the screen's and the console's snapshots at a step (?i=), a version (?v=) or a local time (?at=)."""
    index, version = _number(request.GET.get("i"), minimum=0), _number(request.GET.get("v"), minimum=1)
    at = request.GET.get("at")
    if index is None and version is None and (at is None or not _LOCAL_TIME.match(at)):
        return api_error(400, "bad_version", "位置须为步序号（?i=）、正整数版本号（?v=）或当地时刻（?at=2026-12-06T10:42:00）",
                         "give a step number (?i=), a positive event version (?v=) or a local time (?at=2026-12-06T10:42:00)")
    try:
        places = replay.marks(meeting_id)
        if index is not None:
            index = min(index, len(places) - 1)
        elif version is not None:
            index = replay.index_of_version(places, version)
        else:
            index = replay.index_at(places, f"{at}:00" if at is not None and len(at) == 16 else str(at))
            if index is None:
                return api_error(404, "no_event_before", "该时刻之前会议日志中还没有事件。",
                                 "The log has no event at or before that time.")
        mark = places[index]
        body: dict[str, Any] = replay.replay_at(meeting_id, version if version is not None else mark.version)
    except Refusal as error:
        return api_error(error.http_status, error.code, error.message_zh, error.message_en)
    name_zh, name_en = replay.EVENT_NAMES.get(mark.type, (mark.type, mark.type))
    body.update(index=index, steps=len(places), step={"first": mark.first, "version": mark.version, "type": mark.type,
                                                       "name_zh": name_zh, "name_en": name_en})
    return JsonResponse(body, encoder=DjangoJSONEncoder, json_dumps_params={"ensure_ascii": False})


@never_cache
@page_for("replay")
def replay_steps(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """JSON: the window of the timeline that starts at step ?from=N, as the page's list items (HTML)."""
    start = _number(request.GET.get("from"), minimum=0)
    if start is None:
        return api_error(400, "bad_step", "须给出起始步序号（?from=）", "give the first step's number (?from=)")
    try:
        places = replay.marks(meeting_id)
    except Refusal as error:
        return api_error(error.http_status, error.code, error.message_zh, error.message_en)
    window = _window(meeting_id, places, max(0, min(start, len(places) - 1)))
    html = render_to_string("hall/_replay_steps.html", {"window": window}, request=request)
    return JsonResponse({"from": window["from"], "to": window["to"], "steps": len(places),
                         "html": html})
