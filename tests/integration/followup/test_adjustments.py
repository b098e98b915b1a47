"""组织调整 across two annual rounds driven through the API: flagged exactly for 不称职 two years running.

Five officials of one village are graded by ten Party members in the 2025
and the 2026 round (the preset's threshold: 3/10 不称职):
- 甲: 40% then 50%          -> flagged in 2026;
- 乙: exactly 30% both years -> flagged in 2026 (rate >= threshold, as the interview rule);
- 丙: 50% in 2025 only       -> not flagged;
- 丁: 40% in 2026 only       -> not flagged;
- 戊: 20% both years         -> not flagged.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context
from openpyxl import load_workbook

from accounts.models import User
from events import reading
from followup import comments_selectors
from followup.adjustments import RULE, adjustment_stream
from followup.sweeps import SWEEPERS
from meetings.models import Township, Village
from projections.runtime import get, rebuild, state_of
from tests.conftest import host_of
from tests.integration.meetings.api_client import Api

pytestmark = pytest.mark.django_db

VOTERS = 10
# official -> (不称职 ballots of 10 in 2025, in 2026)
POOR = {"甲": (4, 5), "乙": (3, 3), "丙": (5, 1), "丁": (2, 4), "戊": (2, 2)}


def _officials(admin: Api, county: Any) -> tuple[dict[str, str], str]:
    suffix = uuid.uuid4().hex[:4]
    with schema_context(county.schema_name):
        township = Township.objects.create(name=f"双河镇{suffix}")
        village = Village.objects.create(township=township, name=f"柳树村{suffix}")
    body_id = admin.post("registry/bodies/", {"name": f"{village.name}村委会", "kind": "village_committee",
                                              "village_id": village.pk}, expect=201)["body_id"]
    ids = {}
    for name in POOR:
        ids[name] = admin.post("registry/officials/", {
            "name": f"{name}{suffix}", "gender": "male", "body_id": body_id, "post": "村委委员", "from_date": "2020-01-06",
        }, expect=201)["official_id"]
    return ids, village.name


def _annual_meeting(admin: Api, host: Api, *, year: int, village: str, ids: dict[str, str]) -> str:
    """The year's round and its village meeting, driven to announced results; the meeting's id."""
    round_id = admin.post("rounds/", {"name": f"{year}年度直评村官", "year": year, "variant": "zhi_ping_cun_guan"},
                          expect=201)["round_id"]
    roster = [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(VOTERS)]
    meeting_id = admin.post("meetings/", {
        "round_id": round_id, "title": f"{village}{year}年度直评村官大会", "township": f"双河镇{village[-4:]}", "village": village,
        "starts_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(), "place": "村党群服务中心",
        "subjects": [{"official_id": ids[name]} for name in POOR], "roster": roster,
    }, expect=201)["meeting_id"]
    m = f"meetings/{meeting_id}/"
    host.post(m + "announce/", {"starts_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(),
                                "place": "村党群服务中心", "agenda": ["述职", "测评"], "channels": ["公示栏"]}, expect=200)
    for member in roster:
        host.post(m + "check-in/", {"member_id": member["member_id"]}, expect=200)
    host.post(m + "quorum-override/", {"reason": "测试：村民代表未到"}, expect=200)
    host.post(m + "open/", expect=200)
    for official_id in ids.values():
        host.post(m + "reports/start/", {"subject_id": official_id}, expect=200)
        host.post(m + "reports/end/", {"subject_id": official_id}, expect=200)
    codes = host.post(m + "codes/", {"category": "party_member", "count": VOTERS}, expect=200)["codes"]
    host.post(m + "ballot/open/", expect=200)
    column = 0 if year == 2025 else 1
    for n, code in enumerate(codes):
        marks = {ids[name]: {"zongti": "bu_chenzhi" if n < poor[column] else "chenzhi"} for name, poor in POOR.items()}
        Api(host.county).post(f"v/{meeting_id}/ballot/", {"code": code, "marks": marks}, expect=201)
    host.post(m + "ballot/close/", expect=200)
    host.post(m + "results/announce/", expect=200)
    return str(meeting_id)


def _sweep(county: Any) -> int:
    with schema_context(county.schema_name):
        return SWEEPERS["adjustments"](datetime.now(UTC))


@pytest.fixture(scope="module")
def county_a(make_county: Callable[..., Any]) -> Any:
    return make_county("adjust")  # its own county: no other test's officials are swept here


def test_adjustment_exactly_for_two_years_running_with_its_facts(county_a: Any) -> None:
    admin, host = Api(county_a, "county_admin"), Api(county_a, "host")
    ids, village = _officials(admin, county_a)
    first = _annual_meeting(admin, host, year=2025, village=village, ids=ids)
    assert _sweep(county_a) == 0  # one year alone flags no one
    assert _flagged(county_a, ids) == set()

    second = _annual_meeting(admin, host, year=2026, village=village, ids=ids)
    assert _sweep(county_a) == 2
    assert _flagged(county_a, ids) == {"甲", "乙"}
    with schema_context(county_a.schema_name):
        found = {a["official_id"]: a for a in comments_selectors.adjustments_list()}
        versions = {name: reading.stream_version(adjustment_stream(ids[name], 2026)) for name in ("甲", "乙")}
    jia, yi = found[ids["甲"]], found[ids["乙"]]
    assert jia["year"] == 2026 and jia["rule"] == RULE
    assert [(f["year"], f["meeting_id"], f["unfavourable_percent"], f["threshold"]) for f in jia["facts"]] == [
        (2025, first, "40.0%", "3/10"), (2026, second, "50.0%", "3/10")]
    assert [(f["year"], f["unfavourable_percent"]) for f in yi["facts"]] == [(2025, "30.0%"), (2026, "30.0%")]

    # Recorded once: a second sweep appends nothing.
    assert _sweep(county_a) == 0
    with schema_context(county_a.schema_name):
        assert {name: reading.stream_version(adjustment_stream(ids[name], 2026)) for name in ("甲", "乙")} == versions
        projection = get("followup_adjustments")
        live = state_of(projection)
        assert rebuild(projection).identical and state_of(projection) == live

    # The county sees who and why on the comment ledger's page.
    with schema_context(county_a.schema_name):
        User.objects.create_user(username="adj_admin", password="pw-adj-admin-1", role="county_admin")
    client = Client()
    login = client.post("/login/", {"username": "adj_admin", "password": "pw-adj-admin-1"}, HTTP_HOST=host_of(county_a))
    assert login.status_code == 302
    page = client.get("/comments/", HTTP_HOST=host_of(county_a)).content.decode()
    section = page[page.index('id="adjustments"'):]
    assert f'data-official="{ids["甲"]}" data-year="2026"' in section
    assert "不称职率 50.0%，阈值 30%" in section and f'data-official="{ids["丙"]}"' not in section

    # 甲's record: both meetings with their rates, the chart's two points over the dashed threshold, the flag.
    record = client.get(f"/records/officials/{ids['甲']}/", HTTP_HOST=host_of(county_a)).content.decode()
    table = record[record.index('data-testid="record-meetings"'):record.index('id="adjustments"')]
    assert f'data-meeting="{first}"' in table and f'data-meeting="{second}"' in table
    rows = {m: table[table.index(f'data-meeting="{m}"'):].split("</tr>")[0] for m in (first, second)}
    assert '<td class="num">60.0%</td>\n      <td class="num">40.0%</td>' in rows[first]  # 好评率, 不称职率
    assert '<td class="num">50.0%</td>\n      <td class="num">50.0%</td>' in rows[second]
    chart = record[record.index('data-testid="rate-chart"'):record.index("</svg>")]
    assert chart.count("<circle") == 2 and "阈值 30%" in chart and "2025：40.0%" in chart and "2026：50.0%" in chart
    assert "2026年" in record[record.index('id="adjustments"'):]
    # The village's record draws one line per official.
    with schema_context(county_a.schema_name):
        village_id = Village.objects.get(name=village).pk
    page = client.get(f"/records/villages/{village_id}/", HTTP_HOST=host_of(county_a)).content.decode()
    assert page.count('<g class="series') == len(POOR) and page.count("<circle") == 2 * len(POOR)
    assert f'href="/records/officials/{ids["丙"]}/"' in page
    assert Client().get(f"/records/villages/{village_id}/", HTTP_HOST=host_of(county_a)).status_code == 302

    # The export for pay and appraisal: one row per official and year, in the default bands, with both flags.
    assert _export(client, county_a, 2026) == {
        "甲": ("50.0%", "不称职", "是", "是"), "乙": ("30.0%", "基本称职", "是", "是"), "丙": ("10.0%", "优秀", "否", "否"),
        "丁": ("40.0%", "不称职", "是", "否"), "戊": ("20.0%", "称职", "否", "否")}
    # The county sets its own bands (a rate at a bound is in that band); the next export uses them.
    saved = client.post("/records/export/", {"bands": "好 20\n中 35", "over": "差", "command_id": str(uuid.uuid4())},
                        HTTP_HOST=host_of(county_a))
    assert saved.status_code == 302
    assert {name: row[1] for name, row in _export(client, county_a, 2025).items()} == {
        "甲": "差", "乙": "中", "丙": "差", "丁": "好", "戊": "好"}
    refused = client.post("/records/export/", {"bands": "好 40\n中 35", "over": "差"}, HTTP_HOST=host_of(county_a))
    assert refused.status_code == 400 and "逐档增大" in refused.content.decode()
    assert _export(client, county_a, 2025)["乙"][1] == "中"  # the refused bands changed nothing
    with schema_context(county_a.schema_name):
        projection = get("followup_results_export")
        live = state_of(projection)
        assert rebuild(projection).identical and state_of(projection) == live


def _export(client: Client, county: Any, year: int) -> dict[str, tuple[str, str, str, str]]:
    """The export's rows of this test's officials: name -> (不称职率, band, interview flag, adjustment)."""
    response = client.get(f"/records/export.xlsx?year={year}", HTTP_HOST=host_of(county))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content))["测评结果"]
    header = [c.value for c in sheet[1]]
    col = {name: header.index(name) for name in ("干部 / Official", "年度 / Year", "不称职率 / Unfavourable",
                                                 "档次 / Band", "诫勉谈话 / Interview flag", "组织调整 / Adjustment")}
    found = {}
    for row in sheet.iter_rows(min_row=2, values_only=True):
        assert row[col["年度 / Year"]] == year
        found[str(row[col["干部 / Official"]])[:1]] = (row[col["不称职率 / Unfavourable"]], row[col["档次 / Band"]],
                                                     row[col["诫勉谈话 / Interview flag"]], row[col["组织调整 / Adjustment"]])
    return found


def _flagged(county: Any, ids: dict[str, str]) -> set[str]:
    names = {official_id: name for name, official_id in ids.items()}
    with schema_context(county.schema_name):
        return {names[a["official_id"]] for a in comments_selectors.adjustments_list() if a["official_id"] in names}
