"""A closed meeting with announced results, driven through the meetings' doors (for the notice tests)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from accounts.roles import A_VOTER, Actor
from meetings.actions import ballots, conduct, setup
from meetings.actions.codes import check_issue_ballot_codes
from meetings.actions.rounds import check_open_round
from meetings.streams import now

ADMIN = Actor("zuzhibu", "county_admin")
HOST = Actor("host", "host")
SUBJECTS = [
    {"subject_id": "shuji", "name": "村党支部书记 张德明", "level": "village"},
    {"subject_id": "zhuren", "name": "村委会主任 刘桂兰", "level": "village"},
]
PARTY = [{"member_id": f"p{i}", "name": f"党员{i}", "category": "party_member"} for i in range(1, 7)]
REPS = [{"member_id": f"r{i}", "name": f"代表{i}", "category": "representative"} for i in range(1, 31)]


def cid() -> str:
    return str(uuid.uuid4())


def closed_meeting(*, village: str = "桃园村", close: bool = True) -> str:
    """A meeting of 36 voters: the secretary 不称职 on 12 ballots (33%: flagged), the director 称职 on all."""
    round_id = check_open_round(actor=ADMIN, name="2026年度直评村官", year=2026, variant="zhi_ping_cun_guan",
                                rules=None, command_id=cid())
    mid = setup.check_schedule_meeting(
        actor=ADMIN, round_id=round_id, title=f"{village}直评村官大会", township="城关镇", village=village,
        starts_at=now() + timedelta(days=5), place="村委会", subjects=SUBJECTS, roster=PARTY + REPS, command_id=cid(),
    ).meeting_id
    setup.check_announce_meeting(actor=HOST, meeting_id=mid, starts_at=now() + timedelta(days=5), place="村委会",
                                 agenda=["述职", "测评"], channels=["村务公开栏"], command_id=cid())
    for member in PARTY + REPS:
        conduct.check_check_in(actor=HOST, meeting_id=mid, member_id=member["member_id"], command_id=cid())
    conduct.check_open_meeting(actor=HOST, meeting_id=mid, command_id=cid())
    for subject in SUBJECTS:
        conduct.check_start_report(actor=HOST, meeting_id=mid, subject_id=subject["subject_id"], command_id=cid())
        conduct.check_end_report(actor=HOST, meeting_id=mid, subject_id=subject["subject_id"], command_id=cid())
    codes = [
        code
        for category, n in (("party_member", len(PARTY)), ("representative", len(REPS)))
        for code in check_issue_ballot_codes(actor=HOST, meeting_id=mid, category=category, count=n,
                                             command_id=cid()).plain
    ]
    ballots.check_open_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    for index, code in enumerate(codes):
        grade = "bu_chenzhi" if index % 3 == 0 else "chenzhi"
        ballots.check_cast_ballot(actor=A_VOTER, meeting_id=mid, code=code,
                                  marks={"shuji": {"zongti": grade}, "zhuren": {"zongti": "chenzhi"}})
    ballots.check_close_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    ballots.check_announce_results(actor=HOST, meeting_id=mid, command_id=cid())
    if close:
        conduct.check_close_meeting(actor=HOST, meeting_id=mid, command_id=cid())
    return mid
