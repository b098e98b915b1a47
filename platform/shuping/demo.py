"""The demo county that `make run` provisions: realistic reference data in Chinese.

Everything here is generated from a fixed seed, so two runs make the same
county, and it is created only once: a second start keeps what is there.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django_tenants.utils import schema_context

from accounts.models import Role, User
from accounts.roles import LANDING
from common.county import use_public_schema
from live import screen_links
from tenants.models import County
from tenants.provisioning import create_county

DEMO_SLUG = "demo"
DEMO_NAME = "演示县"
DEMO_DOMAIN = "demo.localhost"
DEMO_PASSWORD = "shuping-demo"
OPERATOR_USERNAME = "operator"

DEMO_ACCOUNTS = [
    ("zuzhibu", "组织部 王晓东", Role.COUNTY_ADMIN, "县委组织部 / county admin"),
    ("host", "主持人 李建国", Role.HOST, "主持人 / meeting host"),
    ("teller", "计票员 赵敏", Role.TELLER, "计票员 / teller"),
    ("auditor", "纪委 陈立", Role.AUDITOR, "纪委审计 / auditor"),
    ("observer", "观察员 周平", Role.OBSERVER, "观察员 / observer"),
]

TOWNSHIPS = {
    "城关镇": ["东关村", "西关村", "南街社区", "北街社区"],
    "柳林乡": ["柳林村", "杨庄村", "大王庄村", "河湾村", "前进村"],
    "石桥镇": ["石桥村", "马家村", "刘营村", "新华村"],
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "建国 秀英 桂英 志强 海燕 永红 玉兰 春梅 国庆 红霞 德明 文华 淑珍 振华 立新 丽娟 卫东 小平 明辉 金凤 长青 永刚 翠花 宏伟 凤英 学军 爱华 保国 雪梅 进才 思远 佳怡 子涵 浩然 一鸣 晓燕 俊杰 春生 秋菊 冬梅".split()
GUEST_AFFILIATIONS = ["县妇联", "驻村工作队", "结对帮扶单位县农业农村局", "县人大代表", "驻村企业 宏达农业合作社", "共青团县委"]
# The guest kind (列席类别, meetings.models.GuestKind) of each affiliation above.
GUEST_KIND_OF = {
    "县妇联": "mass_organization",
    "驻村工作队": "poverty_team",
    "结对帮扶单位县农业农村局": "paired_department",
    "县人大代表": "deputy",
    "驻村企业 宏达农业合作社": "enterprise",
    "共青团县委": "mass_organization",
}


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def ensure_operator(username: str, password: str) -> User:
    """An operator account in the public schema (creates counties; sees no county data)."""
    use_public_schema()
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"role": Role.OPERATOR, "is_staff": True, "is_superuser": True, "display_name": "平台运营"},
    )
    if created:
        validate_password(password, user)  # Django's validators (settings.AUTH_PASSWORD_VALIDATORS)
        user.set_password(password)
        user.save()
    return user


def populate_reference_data(*, seed: int = 7, members_per_village: int = 36, representatives_per_village: int = 32) -> None:
    """Fill the current county schema with townships, villages and rosters, and register bodies and officials.

    Bodies and officials enter through the registry's doors (meetings.actions.registry),
    as the organization department's page would register them.
    """
    from meetings.models import RosterMember, Township, Village, VoterCategory

    rng = random.Random(seed)
    for township_name, village_names in TOWNSHIPS.items():
        township = Township.objects.create(name=township_name)
        committee = _register_body(f"{township_name}党委", "township_party_committee", township_id=township.pk)
        _register_official(rng, committee, "乡镇党委书记")
        _register_official(rng, committee, "乡镇党委副书记")
        for village_name in village_names:
            kind = Village.Kind.COMMUNITY if village_name.endswith("社区") else Village.Kind.VILLAGE
            village = Village.objects.create(township=township, name=village_name, kind=kind)
            short = village_name
            branch = _register_body(f"{short}党支部", "party_branch", village_id=village.pk)
            committee_body = _register_body(
                f"{short}{'居委会' if kind == Village.Kind.COMMUNITY else '村委会'}", "village_committee",
                village_id=village.pk,
            )
            _register_official(rng, branch, "党支部书记")
            _register_official(rng, branch, "党支部委员")
            _register_official(rng, committee_body, "村委会主任")
            _register_official(rng, committee_body, "村委会委员（妇女主任）")
            _register_official(rng, committee_body, "村务监督委员会主任")
            members = [
                RosterMember(village=village, name=_person(rng), category=VoterCategory.PARTY_MEMBER)
                for _ in range(members_per_village + rng.randint(-6, 6))
            ]
            members += [
                RosterMember(village=village, name=_person(rng), category=VoterCategory.REPRESENTATIVE)
                for _ in range(representatives_per_village + rng.randint(-4, 4))
            ]
            for _ in range(rng.randint(3, 6)):
                guest_name = _person(rng)  # drawn before the affiliation, as before: same demo data
                affiliation = rng.choice(GUEST_AFFILIATIONS)
                members.append(
                    RosterMember(
                        village=village,
                        name=guest_name,
                        category=VoterCategory.GUEST,
                        guest_kind=GUEST_KIND_OF[affiliation],
                        affiliation=affiliation,
                    )
                )
            RosterMember.objects.bulk_create(members)


def create_county_account(*, username: str, password: str, role: str, display_name: str = "", by: str) -> None:
    """An account of the current county whose role the platform grants directly (recorded as platform:<by>).

    For the demo and for a county's first administrator (`shuping county admin`):
    no county account is a superuser or holds Django permissions.
    """
    from accounts.roles import platform_actor
    from staff.actions.grants import check_grant_role

    user = User(username=username, display_name=display_name)
    user.set_password(password)
    user.save()
    check_grant_role(actor=platform_actor(by), username=username, role=role, command_id=None)


def create_demo_accounts() -> None:
    """The demo county's staff, granted by the platform, so the county's staff log shows who granted them."""
    for username, name, role, _label in DEMO_ACCOUNTS:
        validate_password(DEMO_PASSWORD, User(username=username, display_name=name))  # held to the validators too
        create_county_account(username=username, password=DEMO_PASSWORD, role=str(role), display_name=name, by="demo")


# The demo's registry entries get ids from their names (fixed, like the rest of
# the demo), and its commands fixed ids: a second run is a replay of the first.
DEMO_POSTS_FROM = date(2024, 1, 1)


def _demo_uuid(*parts: object) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "shuping-demo:" + ":".join(map(str, parts)))


def _register_body(name: str, kind: str, *, township_id: int | None = None, village_id: int | None = None) -> str:
    from accounts.roles import platform_actor
    from meetings.actions.registry import check_register_body

    return check_register_body(
        actor=platform_actor("demo"), name=name, kind=kind, township_id=township_id, village_id=village_id,
        body_id="bd" + _demo_uuid("body", name).hex[:12], command_id=_demo_uuid("register-body", name),
    )


def _register_official(rng: random.Random, body_id: str, post: str) -> str:
    from accounts.roles import platform_actor
    from meetings.actions.registry import FirstPost, check_register_official

    name = _person(rng)
    return check_register_official(
        actor=platform_actor("demo"), name=name, first_post=FirstPost(body_id, post, DEMO_POSTS_FROM),
        official_id="of" + _demo_uuid("official", body_id, post).hex[:12],
        command_id=_demo_uuid("register-official", body_id, post),
    )


def ensure_demo(*, port: int = 8000) -> list[tuple[str, str, str, str]]:
    """Provision the demo county once; return (url, role, username, password) for each login."""
    ensure_operator(OPERATOR_USERNAME, DEMO_PASSWORD)
    use_public_schema()
    if not County.objects.filter(schema_name=DEMO_SLUG).exists():
        print(f"正在创建演示县区 {DEMO_NAME} / creating the demo county", flush=True)
        create_county(slug=DEMO_SLUG, name=DEMO_NAME, domains=[DEMO_DOMAIN])
        with schema_context(DEMO_SLUG), transaction.atomic():
            populate_reference_data()
            create_demo_accounts()
    with schema_context(DEMO_SLUG):
        ensure_rehearsal_meeting()
    base = f"http://{DEMO_DOMAIN}:{port}"
    logins = [(f"http://localhost:{port}/admin/", "平台运营 / operator", OPERATOR_USERNAME, DEMO_PASSWORD)]
    logins.append((f"{base}/", "演示县首页（在此登录）/ demo county: log in here", "", ""))
    # Each account logs in on the county's home page and lands on its own page (accounts.roles.LANDING).
    logins += [(f"{base}{LANDING[role]}", label, username, DEMO_PASSWORD) for username, _n, role, label in DEMO_ACCOUNTS]
    logins.append((f"{base}/api/docs/", "接口文档 / API docs", "", ""))
    logins.append((f"{base}/dashboard/", "县区总览 / county dashboard", "zuzhibu", DEMO_PASSWORD))
    logins.append((f"{base}/registry/", "干部与组织名录 / officials and bodies", "zuzhibu", DEMO_PASSWORD))
    logins.append((f"{base}/hall/{REHEARSAL_MEETING}/console/", "演练会议·主持人 / rehearsal: host console", "host", DEMO_PASSWORD))
    logins.append((f"{base}/hall/{REHEARSAL_MEETING}/teller/", "演练会议·计票员 / rehearsal: teller", "teller", DEMO_PASSWORD))
    # A fresh screen link on every start (a link ends with the meeting's day, county time).
    with schema_context(DEMO_SLUG):
        screen_token = screen_links.mint(REHEARSAL_MEETING, now=datetime.now(UTC))
    logins.append((f"{base}/hall/{REHEARSAL_MEETING}/screen/?t={screen_token}", "演练会议·会场大屏 / rehearsal: hall screen", "", ""))
    logins.append((f"{base}/v/{REHEARSAL_MEETING}", "演练会议·手机投票（测评码由主持人生成）/ rehearsal: phone (codes from the console)", "", ""))
    return logins


REHEARSAL_MEETING = "demo_rehearsal"


def ensure_rehearsal_meeting() -> None:
    """A 直评村官 round and one village's meeting, announced, for people to rehearse with.

    Goes through the same doors as the API (meetings.actions), so the demo
    county's log is an ordinary one; created once, kept across restarts (the
    fixed command ids make a second start a replay of the first).
    """
    from datetime import timedelta

    from accounts.roles import platform_actor
    from events import reading
    from meetings.actions.rounds import check_open_round
    from meetings.actions.setup import check_announce_meeting, check_schedule_meeting
    from meetings.models import Village
    from meetings.registry.selectors import village_officials
    from meetings.streams import meeting_stream, now

    if reading.stream_version(meeting_stream(REHEARSAL_MEETING)):
        return
    village = Village.objects.select_related("township").order_by("pk").first()
    if village is None:
        return
    demo = platform_actor("demo")
    round_id = check_open_round(
        actor=demo, name="2026年度直评村官（演示）", year=2026, variant="zhi_ping_cun_guan", rules=None,
        command_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "shuping-demo-round")),
    )
    # Subjects refer to the registry: the same ids will name these people in next year's meetings.
    subjects: list[dict[str, object]] = [{"official_id": official_id} for official_id in village_officials(village.pk)[:7]]
    subjects = subjects or [{"subject_id": "cun_shuji", "name": "村党支部书记", "level": "village"}]
    starts = now() + timedelta(days=3, hours=1)
    place = f"{village.name}党群服务中心"
    check_schedule_meeting(
        actor=demo, round_id=round_id, meeting_id=REHEARSAL_MEETING,
        title=f"{village.name}2026年度直评村官大会（演练）", township=village.township.name, village=village.name,
        starts_at=starts, place=place, subjects=subjects, village_id=village.pk,
        command_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "shuping-demo-meeting")),
    )
    check_announce_meeting(
        actor=demo, meeting_id=REHEARSAL_MEETING, starts_at=starts, place=place,
        agenda=["述职述廉", "点评", "质询", "民主测评", "当场公布结果"], channels=["村务公开栏", "微信群", "广播"],
        command_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "shuping-demo-announcement")),
    )
