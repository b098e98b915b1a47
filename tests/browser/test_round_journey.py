"""A 双述双评 round from the first page to the Excel file, played by the county's people in real Chromium (issue 13).

The organization department (县委组织部) logs in on the county's home page,
opens a round from the preset (bodies graded 好…差, persons 称职…不称职) with
its rules adjusted, schedules a
township's villages in one form and announces one meeting from the
workspace. The meeting's host logs in, runs it from the console (check-in,
reports, a question, ballot codes, the ballot) while phones, each a browser
context of its own, type the printed codes and vote; the host closes the
ballot and announces the results. The hall screen, opened from the link the
console mints, shows the results; the workspace's Excel export holds the
numbers of the API's results. Every request of the county users' pages is
recorded: none goes to the Django admin.

Screenshots of each page go to tests/artifacts/journey/ for a person to look at.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.utils import timezone
from django_tenants.utils import schema_context
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from accounts.roles import Actor
from meetings.actions.reference import check_import_roster
from meetings.actions.registry import FirstPost, check_register_body, check_register_official
from meetings.models import Township, Village
from tests.browser.conftest import Hall

ADMIN = Actor("zuzhibu", "county_admin")
VILLAGES = ("东岗村", "西岗村", "南岗村")
SECRETARIES = ("周德明", "吴振华", "郑国强")
PARTY, REPS = 3, 3  # per village; the round's minimum group size is set to 3 so each category is tallied alone
# What each phone means to give, by the labels a voter reads: the first label the ballot offers wins, so one
# choice fits a body's scale (好/较好/一般/差) and a person's (称职/基本称职/不称职), whichever a subject has.
GOOD = ("好", "称职")
POOR = ("差", "不称职")


def _township(suffix: str) -> tuple[Township, list[Village]]:
    """A township of three villages through the doors: each a Party branch, its secretary, a roster file."""
    township = Township.objects.create(name=f"岗头镇{suffix}")
    villages = []
    for i, name in enumerate(VILLAGES):
        village = Village.objects.create(township=township, name=f"{name}{suffix}")
        body = check_register_body(actor=ADMIN, name=f"{village.name}党支部", kind="party_branch", township_id=None,
                                   village_id=village.pk, command_id=uuid.uuid4())
        check_register_official(actor=ADMIN, name=SECRETARIES[i], gender="male", command_id=uuid.uuid4(),
                                first_post=FirstPost(body, "党支部书记", timezone.localdate()))
        lines = ["姓名,身份类别"] + [f"党员{name[0]}{n},党员" for n in range(PARTY)]
        lines += [f"代表{name[0]}{n},村民代表" for n in range(REPS)]
        report = check_import_roster(actor=ADMIN, file=io.BytesIO("\n".join(lines).encode()), filename="花名册.csv",
                                     village_id=village.pk, dry_run=False)
        assert not report.errors, report.errors
        villages.append(village)
    return township, villages


class Journey:
    """Numbered screenshots and every URL the county users' pages asked for."""

    def __init__(self, artifacts: Path) -> None:
        self.dir = artifacts / "journey"
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):  # a person looks at this run's pages only
            old.unlink()
        self.n = 0
        self.requests: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("request", lambda request: self.requests.append(request.url))
        return page

    def shot(self, page: Page, name: str, *, full: bool = True) -> None:
        self.n += 1
        if full:
            # A full-page screenshot resizes the viewport for a moment; with a field focused, Chromium
            # scrolls back to that field at the next mousedown, and the click that follows misses.
            page.evaluate("document.activeElement && document.activeElement.blur()")
        page.screenshot(path=str(self.dir / f"{self.n:02d}-{name}.png"), full_page=full)


def login(page: Page, hall: Hall, username: str, password: str) -> None:
    page.goto(hall.url("/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")


def choose(phone: Page, subject_id: str, labels: tuple[str, ...]) -> None:
    """On every criterion of a subject, tap the first grade whose label (as read in Chinese) is one of `labels`."""
    criteria = phone.locator(f".ballot-subject[data-subject='{subject_id}'] .criterion")
    for i in range(criteria.count()):
        criterion = criteria.nth(i)
        for label in labels:
            choice = criterion.locator(".grades label").get_by_text(label, exact=True)
            if choice.count():
                choice.click()
                break
        else:
            raise AssertionError(f"no grade labelled {labels} for {subject_id}")


def vote(phones: Any, hall: Hall, meeting_id: str, code: str, choices: dict[str, tuple[str, ...]],
         journey: Journey | None = None) -> str:
    """A phone of its own types a printed code and casts its ballot; the receipt (screenshots with `journey`)."""
    phone = phones.phone().new_page()
    phone.goto(hall.url(f"/v/{meeting_id}"))
    phone.fill("#code-input", code)
    phone.locator("#code-form button[type=submit]").click()
    expect(phone.locator("#ballot-form")).to_be_visible()
    for subject_id, labels in choices.items():
        choose(phone, subject_id, labels)
    if journey:
        journey.shot(phone, "phone-ballot")
    phone.click("#to-confirm")
    expect(phone.locator("#confirm")).to_be_visible()
    if journey:
        journey.shot(phone, "phone-confirm")
    phone.click("#cast")
    expect(phone.locator("#receipt")).to_contain_text("投票成功", use_inner_text=True)
    if journey:
        journey.shot(phone, "phone-receipt")
    return phone.locator("#receipt-code").get_attribute("data-receipt") or ""


def screen_split(screen: Page, subject_id: str) -> dict[str, int]:
    """Ballots per voter group of one subject as the hall screen draws them (the 双评 split, #split):
    {group_id: ballots}, read from what a person reads, with each group's heading visible."""
    split = screen.locator("#split")
    expect(split).to_be_visible()
    found = {}
    for group in split.locator(".group-split").all():
        row = group.locator(f"tr[data-subject='{subject_id}']")
        if row.count():
            expect(row).to_be_visible()
            found[group.get_attribute("data-group") or ""] = int(row.locator("[data-ballots]").inner_text())
    return found


def _grade_names(rules: Any) -> dict[str, str]:
    """Chinese grade name -> grade id over every scale the rules carry (one today, one per subject kind later)."""
    names: dict[str, str] = {}
    if isinstance(rules, dict):
        for grade in rules.get("grades") or []:
            if isinstance(grade, dict) and "id" in grade:
                names[grade["name_zh"]] = grade["id"]
        for value in rules.values():
            names.update(_grade_names(value))
    elif isinstance(rules, list):
        for value in rules:
            names.update(_grade_names(value))
    return names


def workbook_rows(data: bytes, rules: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """{(subject id, category cell): {"ballots", "counts": {criterion: {grade: n}}, "favourable", ...}} of the results.

    Columns are found by their headers: the counts are the "criterion·grade" columns after the ballots,
    the rates, score and flag are named (a rate's header starts with 好评率 or 差评率).
    """
    sheet = load_workbook(io.BytesIO(data), read_only=True)["测评结果"]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header_at = next(i for i, row in enumerate(rows) if row and row[0] == "乡镇 / Township")
    header = [str(cell or "") for cell in rows[header_at]]
    criteria = {c["name_zh"]: c["id"] for c in rules["criteria"]}
    grades = _grade_names(rules)
    first = header.index("票数 / Ballots") + 1
    last = next(i for i in range(first, len(header)) if "·" not in header[i])
    columns = []
    for title in header[first:last]:
        criterion, _, grade = title.partition("·")
        columns.append((criteria[criterion], grades[grade]))
    named = {"favourable": next(i for i, h in enumerate(header) if h.startswith("好评率")),
             "unfavourable": next(i for i, h in enumerate(header) if h.startswith("差评率")),
             "score": header.index("得分 / Score"), "flagged": header.index("诫勉谈话 / Flagged")}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows[header_at + 1:]:
        if not row or row[5] is None:
            continue
        counts: dict[str, dict[str, int]] = {}
        for (criterion, grade), value in zip(columns, row[first:last], strict=True):
            if value:  # a subject has no marks in the grades of another subject's scale
                counts.setdefault(criterion, {})[grade] = value
        found[(row[5], row[6])] = {"ballots": row[7], "counts": counts, **{k: row[i] for k, i in named.items()}}
    return found


def _nonzero(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {c: {g: n for g, n in per.items() if n} for c, per in counts.items() if any(per.values())}


def test_the_county_runs_a_shuang_shu_shuang_ping_round_from_the_first_page_to_the_excel_file(
    hall: Hall, contexts: Any, artifacts: Path, tmp_path: Path,
) -> None:
    journey = Journey(artifacts)
    suffix = uuid.uuid4().hex[:4]
    with hall.db(), schema_context(hall.county.schema_name):
        township, villages = _township(suffix)
    admin_name, admin_password = hall.user("county_admin")
    host_name, host_password = hall.user("host")
    round_name = "2026年度双述双评"  # found by its id below; only the villages need names of their own

    # -- the organization department: home page, workspace, a round from the preset --------------------
    desk = journey.watch(contexts.desk().new_page())
    login(desk, hall, admin_name, admin_password)
    expect(desk).to_have_url(re.compile(r"/workspace/$"))
    journey.shot(desk, "workspace")
    desk.click("#new-round")
    expect(desk).to_have_url(re.compile(r"/rounds/new/$"))
    journey.shot(desk, "presets")
    desk.locator("[data-preset=shuang_shu_shuang_ping] a.button").click()
    form = desk.locator("#round-form")
    form.locator("[name=name]").fill(round_name)
    form.locator("[name=qc_representative]").fill(str(REPS))  # a small village: three representatives make quorum
    form.locator("[name=min_group_size]").fill("3")
    journey.shot(desk, "round-form")
    form.locator("#open-round").click()
    expect(desk.locator("#done")).to_be_visible()
    expect(desk.locator("#round-page h1")).to_contain_text(round_name, use_inner_text=True)
    round_id = re.search(r"/rounds/([^/]+)/", desk.url).group(1)  # type: ignore[union-attr]
    scales = desk.locator("[data-rule=scale]")  # the preset grades bodies and persons on scales of their own
    expect(scales.locator("[data-kind=body]")).to_contain_text("好 / 较好 / 一般 / 差", use_inner_text=True)
    expect(scales.locator("[data-kind=person]")).to_contain_text("称职 / 基本称职 / 不称职", use_inner_text=True)
    expect(desk.locator("[data-rule=min_group_size]")).to_contain_text("3 人", use_inner_text=True)
    journey.shot(desk, "round")

    # -- schedule the township's villages in one form ---------------------------------------------------
    desk.goto(hall.url("/workspace/"))
    desk.locator(f"[data-round={round_id}] [data-schedule]").click()
    desk.locator("#township").select_option(str(township.pk))
    desk.click("#pick")
    expect(desk.locator("#schedule-form tr[data-village]")).to_have_count(len(VILLAGES))
    day = timezone.localdate() + timedelta(days=5)  # outside the preset's 3-day lead time
    for i, village in enumerate(villages):
        row = desk.locator(f"tr[data-village='{village.pk}']")
        expect(row).to_contain_text(f"{SECRETARIES[i]}（党支部书记）", use_inner_text=True)
        expect(row).to_contain_text(f"{village.name}党支部", use_inner_text=True)
        row.locator(f"[name=v{village.pk}-date]").fill(day.isoformat())
        row.locator(f"[name=v{village.pk}-time]").fill(f"{9 + i:02d}:00")
    run_village = villages[0]
    desk.locator(f"[name=v{run_village.pk}-host]").select_option(host_name)
    desk.locator(f"[name=v{run_village.pk}-place]").fill(f"{run_village.name}党群服务中心")
    journey.shot(desk, "schedule-form")
    desk.click("#schedule-submit")
    expect(desk.locator("#done")).to_have_text(f"已安排 {len(VILLAGES)} 场会议。", use_inner_text=True)
    journey.shot(desk, "scheduled")

    # -- announce one from the workspace ----------------------------------------------------------------
    desk.goto(hall.url("/workspace/"))
    card = desk.locator(f"[data-round={round_id}]")
    expect(card.locator("[data-stage=scheduled]")).to_have_text(str(len(VILLAGES)))
    run_row = card.locator("tr[data-meeting]").filter(has_text=run_village.name)
    meeting_id = run_row.get_attribute("data-meeting")
    assert meeting_id
    run_row.locator("[data-announce]").click()
    expect(desk.locator("[name=place]")).to_have_value(f"{run_village.name}党群服务中心")
    journey.shot(desk, "announce-form")
    desk.click("#announce-submit")
    expect(desk.locator("#announced")).to_be_visible()
    journey.shot(desk, "announced")
    desk.goto(hall.url("/workspace/"))
    expect(desk.locator(f"[data-round={round_id}] [data-stage=announced]")).to_have_text("1")

    # -- the host: my meetings, the console, the hall screen from the link it mints -----------------------
    console = journey.watch(contexts.desk().new_page())
    console.on("dialog", lambda dialog: dialog.accept())
    login(console, hall, host_name, host_password)
    expect(console).to_have_url(re.compile(r"/my/meetings/$"))
    journey.shot(console, "my-meetings")
    console.locator(f"tr[data-meeting='{meeting_id}'] a[href$='/console/']").first.click()
    expect(console.locator("#phase")).to_have_text("已公告", use_inner_text=True)
    subjects = hall.api("observer").get(f"meetings/{meeting_id}/")["subjects"]
    body_id = next(s["subject_id"] for s in subjects if s.get("body_id"))
    person_id = next(s["subject_id"] for s in subjects if s.get("official_id"))
    screen = contexts.screen().new_page()
    screen.goto(console.input_value("#screen-url"))
    expect(screen.locator("#phase")).to_have_text("已公告", use_inner_text=True)
    expect(screen.locator("#info-panel [data-info=place]")).to_have_text(f"{run_village.name}党群服务中心",
                                                                       use_inner_text=True)
    journey.shot(screen, "screen-before", full=False)

    # check-in of everyone on the roster; quorum met without an override
    for present in range(1, PARTY + REPS + 1):
        console.locator("[data-checkin]").first.click()
        expect(console.locator("#present-count")).to_contain_text(f"已签到 {present} ", use_inner_text=True)
    expect(console.locator("#quorum-verdict")).to_contain_text("已达到法定人数", use_inner_text=True)
    journey.shot(console, "console-checked-in")
    console.click("[data-cmd=open]")
    expect(console.locator("#phase")).to_have_text("会议进行中", use_inner_text=True)

    # reports in order, a question on the spot
    for subject_id in (s["subject_id"] for s in subjects):
        console.click(f"[data-start-report='{subject_id}']")
        expect(screen.locator("#speaker")).to_be_visible()
        if subject_id == person_id:
            console.select_option("#question-form select[name=subject_id]", person_id)
            console.fill("#question-form textarea", "村集体经济收入今年能增加多少？")
            console.click("#question-form button")
            asked = console.locator("[data-question]", has_text="村集体经济收入")
            asked.locator("textarea[name=answer]").fill("预计增加十二万元，年底公开账目。")
            asked.locator("button[type=submit]").click()
            expect(asked).to_contain_text("已答复", use_inner_text=True)
            journey.shot(screen, "screen-report", full=False)
        console.click(f"[data-end-report='{subject_id}']")
        expect(console.locator(f"li[data-subject='{subject_id}']")).to_contain_text("已述职", use_inner_text=True)

    # ballot codes per category, as printed; the batches are marked printed once taken
    codes: dict[str, list[str]] = {}
    for batch_no, (category, count) in enumerate((("party_member", PARTY), ("representative", REPS)), start=1):
        console.select_option("#code-category", category)
        console.fill("#codes-form input[name=count]", str(count))
        console.click("#codes-form button[type=submit]")
        shown = console.locator(f"[data-codes-batch='{batch_no}'] [data-code]")
        expect(shown).to_have_count(count)
        codes[category] = shown.all_inner_texts()
    journey.shot(console, "console-codes")
    for batch_no in (1, 2):
        console.click(f"[data-printed-batch='{batch_no}']")
        expect(console.locator(f"tr[data-batch='{batch_no}']")).to_have_attribute("data-printed", "1")
    console.click("[data-cmd=ballot-open]")
    expect(console.locator("#phase")).to_have_text("测评进行中", use_inner_text=True)
    journey.shot(screen, "screen-voting", full=False)

    # -- phones: the body is graded well by all; the secretary poorly by one member and two representatives
    plans = {"party_member": (GOOD, GOOD, POOR), "representative": (GOOD, POOR, POOR)}
    receipts = set()
    for category, typed in codes.items():
        for code, person in zip(typed, plans[category], strict=True):
            receipts.add(vote(contexts, hall, meeting_id, code, {body_id: GOOD, person_id: person},
                              journey if not receipts else None))
    assert len(receipts) == PARTY + REPS
    expect(screen.locator("#turnout-big [data-cast]")).to_have_text(str(PARTY + REPS), use_inner_text=True)

    console.click("[data-cmd=ballot-close]")
    expect(console.locator("#phase")).to_have_text("测评已结束", use_inner_text=True)
    expect(console.locator("#count-check")).to_contain_text("收回票数未超过到会人数", use_inner_text=True)
    console.click("[data-cmd=announce-results]")
    expect(screen.locator("#phase")).to_have_text("结果已公布", use_inner_text=True)
    expect(screen.locator(".subject-result")).to_have_count(2)
    journey.shot(screen, "screen-results", full=False)
    console.click("[data-cmd=close-meeting]")
    expect(console.locator("#phase")).to_have_text("会议已结束", use_inner_text=True)
    journey.shot(console, "console-closed")

    # -- the API's results, the screen's split and the Excel file agree -----------------------------------
    results = hall.api("observer").get(f"meetings/{meeting_id}/results/")
    assert results["ballots_counted"] == PARTY + REPS
    assert results["flagged_subjects"] == [person_id]  # 3 of 6 ballots 不称职: 50% against the 30% line
    by_subject = {s["subject_id"]: s for s in results["subjects"]}
    for subject_id, subject in by_subject.items():
        card = screen.locator(f".subject-result[data-subject='{subject_id}']")
        expect(card.locator(".ballots")).to_have_text(str(PARTY + REPS), use_inner_text=True)
        expect(card.locator(".unfav")).to_have_text(subject["unfavourable_percent"], use_inner_text=True)
        # Party members and representatives tallied separately, none pooled, as the API says
        assert screen_split(screen, subject_id) == {"party_member": PARTY, "representative": REPS}
        assert {g["group_id"]: g["ballots"] for g in subject["groups"]} == {"party_member": PARTY, "representative": REPS}
    expect(screen.locator("#split")).to_contain_text("党员评议", use_inner_text=True)
    expect(screen.locator("#split")).to_contain_text("村民代表评议", use_inner_text=True)

    desk.goto(hall.url("/workspace/"))
    card = desk.locator(f"[data-round={round_id}]")
    expect(card.locator("[data-stage=results_announced]")).to_have_text("1")
    expect(card.locator("ul.flagged")).to_contain_text(SECRETARIES[0], use_inner_text=True)
    journey.shot(desk, "workspace-results")
    with desk.expect_download() as downloading:
        card.locator("[data-export]").click()
    saved = tmp_path / "results.xlsx"
    downloading.value.save_as(saved)
    [round_data] = [r for r in hall.api("observer").get("rounds/")["rounds"] if r["round_id"] == round_id]
    sheet = workbook_rows(saved.read_bytes(), round_data["rules"])
    for subject_id, subject in by_subject.items():
        total = sheet[(subject_id, "全体 / All")]
        assert total["ballots"] == subject["ballots"]
        assert total["counts"] == _nonzero(subject["counts"])
        assert [total["favourable"], total["unfavourable"]] == [subject["favourable_percent"],
                                                                subject["unfavourable_percent"]]
        assert total["flagged"] == ("是 / yes" if subject["flagged"] else "否 / no")
        # the API gives the exact score (a fraction), the file the announced one rounded to a tenth
        assert abs(Fraction(str(total["score"])) - Fraction(subject["score"])) <= Fraction(1, 20), (
            total["score"], subject["score"])
        for group in subject["groups"]:
            [row] = [v for (sid, label), v in sheet.items() if sid == subject_id and label.startswith(
                {"party_member": "党员", "representative": "村民代表"}[group["group_id"]])]
            assert row["ballots"] == group["ballots"] and row["counts"] == _nonzero(group["counts"])

    # -- no county user's page went to the Django admin -------------------------------------------------
    assert journey.requests, "no requests were recorded"
    admin_visits = [url for url in journey.requests if urlsplit(url).path.startswith("/admin/")]
    assert not admin_visits, admin_visits
    shots = sorted(journey.dir.glob("*.png"))
    assert len(shots) >= 20 and all(p.stat().st_size > 5_000 for p in shots)
