"""A meeting driven through the doors up to announced results, with one subject flagged for an interview."""

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
    {"subject_id": "shuji", "name": "村党支部书记 王建国", "level": "village"},
    {"subject_id": "zhuren", "name": "村委会主任 李秀英", "level": "village"},
]
REPS = [{"member_id": f"r{i}", "name": f"代表{i}", "category": "representative"} for i in range(1, 31)]


def cid() -> str:
    return str(uuid.uuid4())


def announced_meeting(*, township: str = "城关镇", village: str = "东关村", poor: int = 8, ballots_cast: int = 20) -> str:
    """A meeting whose results are announced: `poor` of the ballots grade the secretary 不称职 (flagged at >= 30%)."""
    round_id = check_open_round(actor=ADMIN, name="2026年度直评村官", year=2026, variant="zhi_ping_cun_guan",
                                rules=None, command_id=cid())
    mid = setup.check_schedule_meeting(
        actor=ADMIN, round_id=round_id, title=f"{village}直评村官大会", township=township, village=village,
        starts_at=now() + timedelta(days=5), place="村委会", subjects=SUBJECTS, roster=REPS, command_id=cid(),
    ).meeting_id
    setup.check_announce_meeting(actor=HOST, meeting_id=mid, starts_at=now() + timedelta(days=5), place="村委会",
                                 agenda=["述职", "测评"], channels=["村务公开栏"], command_id=cid())
    for member in REPS:
        conduct.check_check_in(actor=HOST, meeting_id=mid, member_id=member["member_id"], command_id=cid())
    conduct.check_open_meeting(actor=HOST, meeting_id=mid, command_id=cid())
    for subject in SUBJECTS:
        conduct.check_start_report(actor=HOST, meeting_id=mid, subject_id=subject["subject_id"], command_id=cid())
        conduct.check_end_report(actor=HOST, meeting_id=mid, subject_id=subject["subject_id"], command_id=cid())
    codes = check_issue_ballot_codes(actor=HOST, meeting_id=mid, category="representative", count=len(REPS),
                                     command_id=cid()).plain
    ballots.check_open_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    for n, code in enumerate(codes[:ballots_cast]):
        grade = "bu_chenzhi" if n < poor else "chenzhi"
        ballots.check_cast_ballot(actor=A_VOTER, meeting_id=mid, code=code,
                                  marks={"shuji": {"zongti": grade}, "zhuren": {"zongti": "chenzhi"}})
    ballots.check_close_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    ballots.check_announce_results(actor=HOST, meeting_id=mid, command_id=cid())
    return mid
