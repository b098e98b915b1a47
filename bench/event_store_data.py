"""What every part of bench/event_store.py shares: the counties, the events, the results, the connection.

The events are ballot-sized (~2 kB): a `BallotCast` grading 10 subjects on 5
criteria, and a meeting's log of check-ins, questions, answers and ballots.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any

COUNTY = "bench"
RECORD_COUNTY = "benchrec"  # where the limit's statements are recorded (untimed)
STATEMENTS_COUNTY = "benchstm"  # where they are sent again, timed
LOG_COUNTY = "benchlog"
WARMUP = 10  # untimed appends per writer before the timed ones

# -- ballots -------------------------------------------------------------------------------

# Keys of event data must be ASCII identifiers (the hash chain's canonical form),
# so subjects and criteria are pinyin ids; their Chinese names live in the
# round's rules. The grades are the Chinese words.
SUBJECTS = {
    "yangzhuang_cun_dangzhibu_shuji_wang_jianguo": "村党支部书记 王建国",
    "yangzhuang_cun_weiyuanhui_zhuren_li_xiuying": "村委会主任 李秀英",
    "yangzhuang_cun_jiancha_weiyuan_zhang_weimin": "村务监督委员会主任 张卫民",
    "yangzhuang_cun_dangzhibu_fushuji_liu_guoqiang": "村党支部副书记 刘国强",
    "yangzhuang_cun_weiyuanhui_fuzhuren_chen_meihua": "村委会副主任 陈美华",
    "yangzhuang_cun_wenshu_zhao_lijuan": "村文书 赵丽娟",
    "yangzhuang_cun_funu_zhuren_sun_guilan": "妇女主任 孙桂兰",
    "yangzhuang_cun_minbing_yingzhang_zhou_haitao": "民兵营长 周海涛",
    "yangzhuang_cun_kuaiji_wu_jianhua": "村会计 吴建华",
    "yangzhuang_cun_zhiliwei_zhuren_zheng_dehai": "治保主任 郑德海",
}
CRITERIA = {
    "sixiang_jianshe": "思想建设",
    "zuzhi_jianshe": "组织建设",
    "dangfeng_lianzheng_jianshe": "党风廉政建设",
    "gongzuo_jixiao": "工作绩效",
    "gongzuo_chuangxin": "工作创新",
}
GRADES = ("好", "较好", "一般", "差")

_rng = random.Random(20261201)
MARKS = [
    {subject: {criterion: _rng.choice(GRADES) for criterion in CRITERIA} for subject in SUBJECTS}
    for _ in range(97)
]


def code_hash(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def ballot_data(writer: str, n: int) -> dict[str, Any]:
    return {"code_hash": code_hash("ballot", writer, n), "marks": MARKS[n % len(MARKS)]}


def ballot_json(writer: str, n: int) -> str:
    # Exactly what the store sends for the data column.
    return json.dumps(ballot_data(writer, n), ensure_ascii=False)


def scheduled_data(meeting: str) -> dict[str, Any]:
    return {
        "meeting_id": meeting,
        "title": "2026年度村党组织书记和村委会主任述职评议大会",
        "township": "柳林乡",
        "village": "杨庄村",
        "starts_at": "2026-12-01T09:00:00+08:00",
        "place": "杨庄村党群服务中心二楼会议室",
    }


def meeting_log(stream: str, total: int) -> list[Any]:
    """A meeting's log: scheduled, check-ins, questions and answers, then ballots."""
    from meetings.events import (
        AttendeeCheckedIn,
        BallotCast,
        MeetingScheduled,
        QuestionAnswered,
        QuestionAsked,
    )

    checkins, questions = total * 15 // 100, total * 4 // 100
    events: list[Any] = [MeetingScheduled(**scheduled_data(stream))]
    categories = ("party_member", "representative", "guest")
    names = ("王秀兰", "李建军", "张桂英", "刘志强", "陈玉梅", "杨国华", "赵德胜", "黄春燕")
    for i in range(checkins):
        events.append(AttendeeCheckedIn(attendee_id=f"a{i:05d}", name=names[i % len(names)],
                                        category=categories[i % 3]))
    for i in range(questions):
        events.append(QuestionAsked(question_id=f"q{i:04d}", text="村里的道路硬化工程什么时候完工？资金使用情况能否公开？",
                                    subject=list(SUBJECTS)[i % len(SUBJECTS)],
                                    asked_by=None if i % 3 else f"a{i:05d}"))
        events.append(QuestionAnswered(question_id=f"q{i:04d}", answer="工程预计明年五月完工，资金明细将在村务公开栏张贴。",
                                       deferred=i % 5 == 0))
    n = 0
    while len(events) < total:
        events.append(BallotCast(**ballot_data(stream, n)))
        n += 1
    return events[:total]


# -- measurements ----------------------------------------------------------------------------


@dataclass
class Run:
    """One configuration of one round."""

    impl: str
    writers: int
    appends: int
    seconds: float
    latencies: list[float]
    wal_bytes: int
    client_cpu_ms: float = 0.0  # CPU of this Python process per append (all its threads)
    machine_cpu_ms: float = 0.0  # CPU of the whole machine per append (/proc/stat)

    @property
    def rate(self) -> float:
        return self.appends / self.seconds

    def pct(self, p: float) -> float:
        values = sorted(self.latencies)
        rank = max(0, min(len(values) - 1, int(-(-p * len(values) // 1)) - 1))
        return values[rank] * 1000


@dataclass
class Results:
    started: str = ""
    command: str = ""
    machine: dict[str, str] = field(default_factory=dict)
    rounds: int = 0
    counts: dict[int, int] = field(default_factory=dict)
    ballot_bytes: int = 0
    runs: list[Run] = field(default_factory=list)
    breakdown: list[tuple[str, int, float]] = field(default_factory=list)
    breakdown_total_ms: float = 0.0
    breakdown_appends: int = 0
    rebuild: dict[str, Any] = field(default_factory=dict)
    verify: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    total_seconds: float = 0.0


class Bench:
    """The run's settings, its results and an autocommit connection for the bench's own queries."""

    def __init__(self, args: argparse.Namespace, url: str, results: Results, *, superuser_url: str) -> None:
        import psycopg

        self.args = args
        self.url = url
        self.r = results
        self.admin = psycopg.connect(url, autocommit=True)
        self.superuser_url = superuser_url

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        cur = self.admin.execute(query, params)
        return cur.fetchall() if cur.description else []

    def checkpoint(self) -> None:
        import psycopg

        # The application's role may not CHECKPOINT; the embedded server's superuser may.
        with psycopg.connect(self.superuser_url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")

    def wal(self) -> int:
        return int(self.sql("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")[0][0])
