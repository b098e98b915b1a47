"""The auditor's replay page of one meeting, and the state at a position that its script asks for.

`/audit/<meeting>/` shows the meeting's timeline (live.replay.timeline), the
verifier's fresh verdict on its log and a frame of the hall screen;
`/audit/<meeting>/at/?v=N` answers what the screen and the console showed
once the log reached version N (live.replay.replay_at), folded from the log.
Both only read. Who may open them: accounts.roles "page:replay".
"""

from __future__ import annotations

import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from common.http_errors import api_error
from common.refusal import Refusal
from events.verdicts import stream_verdict
from live import replay
from live.pages import hall_error, page_for
from meetings.streams import meeting_stream

_VERSION = re.compile(r"[0-9]{1,9}\Z")


def _version(raw: str | None) -> int | None:
    """A position given in the query (?v=): a positive integer, or None when absent or not one."""
    if raw is None or not _VERSION.match(raw) or int(raw) < 1:
        return None
    return int(raw)


@never_cache
@page_for("replay")
def replay_page(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """The replay: timeline, slider and steps, time input, the screen, the console and the tallies."""
    try:
        steps = replay.timeline(meeting_id)
    except Refusal as error:
        return hall_error(request, status=error.http_status, code=error.code, zh=error.message_zh,
                          en=error.message_en)
    # This one meeting's log is verified afresh on each view (the list's verdicts are cached per head).
    verdict = stream_verdict(meeting_stream(meeting_id), fresh=True)
    asked = _version(request.GET.get("v"))
    start = len(steps) - 1
    if asked is not None:
        start = next((i for i, step in enumerate(steps) if step.version >= asked), start)
    return render(request, "hall/replay.html", {
        "county": request.tenant,  # type: ignore[attr-defined]
        "meeting_id": meeting_id,
        "title": steps[0].detail_zh,  # MeetingScheduled: the title
        "steps": steps,
        "start": start,
        "verdict": verdict.to_data(),
        "clock_fields": replay.REPLAY_CLOCK_FIELDS,
    })


@never_cache
@page_for("replay")
def replay_state(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """JSON: the screen's and the console's snapshots once the log reached version ?v=N."""
    version = _version(request.GET.get("v"))
    if version is None:
        return api_error(400, "bad_version", "位置须为正整数（?v=事件版本号）",
                         "the position must be a positive integer (?v=event version)")
    try:
        body: dict[str, Any] = replay.replay_at(meeting_id, version)
    except Refusal as error:
        return api_error(error.http_status, error.code, error.message_zh, error.message_en)
    return JsonResponse(body, encoder=DjangoJSONEncoder, json_dumps_params={"ensure_ascii": False})
