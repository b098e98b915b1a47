"""The county a hostile run is aimed at: an account for every role, a closed meeting and one with its ballot open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.hostile.fuzz import ROLES, Identity
from tests.live.server import SUBJECTS, HttpApi, LiveServer, demo_meeting, marks_for, user_with_role


@dataclass
class Hall:
    """The county, its accounts and its two meetings, as the fuzz found them."""

    server: LiveServer
    county: Any
    identities: list[Identity]
    admin: HttpApi
    host: HttpApi
    closed: str
    open: str
    codes: dict[str, list[str]]
    questions: list[str]


def set_up_hall(server: LiveServer, county: Any) -> Hall:
    """Accounts for every role; one meeting closed (every write refuses), one with its ballot open."""
    identities = [Identity("anonymous", "anonymous", None)]
    for role in ROLES:
        name, _password, token = user_with_role(county, role)
        identities.append(Identity(role, f"{role}:{name}", token))
    admin, host = HttpApi(server, county, "county_admin"), HttpApi(server, county, "host")

    def ballot_open(title: str, subject_id: str) -> tuple[str, dict[str, list[str]], str]:
        meeting = demo_meeting(admin, host, title=title)
        mid = meeting["meeting_id"]
        for member in meeting["roster"]:
            host.post(f"meetings/{mid}/check-in/", {"member_id": member["member_id"]}, expect=200)
        host.post(f"meetings/{mid}/open/", expect=200)
        question = host.post(f"meetings/{mid}/questions/", {"subject_id": subject_id, "text": "账目何时公开？"},
                             expect=200)["question_id"]
        for sid, _name in SUBJECTS:
            host.post(f"meetings/{mid}/reports/start/", {"subject_id": sid}, expect=200)
            host.post(f"meetings/{mid}/reports/end/", {"subject_id": sid}, expect=200)
        codes = {category: host.post(f"meetings/{mid}/codes/", {"category": category, "count": 3},
                                     expect=200)["codes"] for category in ("party_member", "representative")}
        host.post(f"meetings/{mid}/ballot/open/", expect=200)
        return mid, codes, question

    closed, closed_codes, asked = ballot_open("已闭幕的大会", SUBJECTS[0][0])
    voter = HttpApi(server, county, None)
    voter.post(f"v/{closed}/ballot/", {"code": closed_codes["party_member"][0], "marks": marks_for()}, expect=201)
    for step in ("ballot/close/", "results/announce/", "close/"):
        host.post(f"meetings/{closed}/{step}", expect=200)
    opened, open_codes, asked_open = ballot_open("正在投票的大会", SUBJECTS[1][0])
    return Hall(server, county, identities, admin, host, closed, opened, open_codes, [asked, asked_open])
