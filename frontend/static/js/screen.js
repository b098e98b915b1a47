// The hall screen (会场大屏): read-only, 1920x1080, legible from the back of the hall.
import { t, esc } from "./i18n.js";
import { connectLive, reportClock, mmss } from "./live.js";
import { category, fingerprint, phase, rateNames, renderResults, scaleOf, sizeBars, tick } from "./results.js";
import { participationRuleHtml, scoreFormulaHtml, splitHtml } from "./groups.js";

const root = document.getElementById("screen");
const meetingId = root.dataset.meeting;
const $ = (id) => document.getElementById(id);

function subjectName(state, id) {
  const subject = (state.subjects || []).find((s) => s.subject_id === id);
  return subject ? subject.name : id;
}

function nextSubject(state) {
  const done = new Set((state.reports_done || []).map((r) => r.subject_id));
  return (state.subjects || []).find((s) => !done.has(s.subject_id) && (!state.current_report || state.current_report.subject_id !== s.subject_id));
}

// The meeting's time as the county reads it (China Standard Time), e.g. 2026年12月6日 09:00.
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(date).map((p) => [p.type, p.value]));
  return t(`${parts.year}年${Number(parts.month)}月${Number(parts.day)}日 ${parts.hour}:${parts.minute}`,
    `${parts.year}-${parts.month.padStart(2, "0")}-${parts.day.padStart(2, "0")} ${parts.hour}:${parts.minute}`);
}

const BEFORE_VOTING = ["scheduled", "announced", "opened"];
// From this many subjects on, the screen shows each subject's rates without
// its grade bars (the split tables below carry the groups): legible, not tiny.
const COMPACT_FROM = 4;

// Time, place and the next speaker, before and during the meeting's reports.
function infoHtml(state) {
  if (!BEFORE_VOTING.includes(state.phase)) return "";
  const next = nextSubject(state);
  return `<dl class="info">
      <dt>${t("时间", "Time")}</dt><dd data-info="time">${when(state.starts_at)}</dd>
      <dt>${t("地点", "Place")}</dt><dd data-info="place">${esc(state.place || "")}</dd>
      <dt>${t("下一位述职", "Next to report")}</dt><dd data-info="next">${next ? esc(next.name) : t("（无）", "(none)")}</dd>
    </dl>`;
}

// After the close, when ballots exceed attendance (counts only, never which ballot).
function countCheckHtml(state) {
  const check = state.count_check;
  if (!check || !check.over.length) return "";
  const over = check.over.map((c) => `${category(c.category)}${t(`收回${c.ballots}票，到会${c.present}人`, `: ${c.ballots} ballots, ${c.present} present`)}`).join(t("；", "; "));
  return `<div class="count-over ${check.accepted ? "accepted" : ""}" id="count-over">${t("收回票数多于到会人数", "More ballots than people checked in")}${t("：", ": ")}${over}。
    ${check.accepted ? t("主持人已登记处理决定。", "The host recorded a decision.") : t("待主持人登记处理决定后公布结果。", "Results wait for the host's recorded decision.")}</div>`;
}

// Ballots so far (phone and reconciled paper) over the eligible voters: the
// same denominator as the announced 参评率 (selectors.turnout).
export function turnoutHtml(turnout) {
  const cast = Number(turnout.cast) || 0;
  const paper = Number(turnout.paper) || 0;
  const eligible = Number(turnout.eligible) || 0;
  return `<span class="zh">已投 </span><span class="en">Cast </span><b data-cast>${cast + paper}</b>/<b data-eligible>${eligible}</b>` +
    (paper ? ` <small>${t(`（含纸质 ${paper}）`, `(paper ${paper})`)}</small>` : "");
}

// What the turnout divides by, who is present, and, when more ballots came
// in than people checked in, that state said plainly (meetings/domain/counts.py).
function turnoutNoteHtml(state) {
  const turnout = state.turnout || {};
  const received = (Number(turnout.cast) || 0) + (Number(turnout.paper) || 0);
  const present = Number(turnout.present) || 0;
  // After the close the count check says it per category (countCheckHtml); while voting, in total.
  const over = !state.count_check && received > present;
  const rule = t("已投＝收回票数，分母＝应参评人数（参评率＝收回票数÷应参评人数）",
    "Cast = ballots received over eligible voters (participation = ballots counted ÷ eligible voters)");
  const flag = over
    ? `<div class="turnout-over" id="turnout-over" data-count-over>${t(`收回票数（${received}）多于到会人数（${present}）`, `More ballots (${received}) than people checked in (${present})`)}${
      t("：投票结束后须由主持人登记处理决定才能公布结果", ": after the close, results wait for the host's recorded decision")}</div>`
    : "";
  return `<div class="turnout-note"><span data-present>${t(`到会 ${present} 人`, `${present} present`)}</span> · ${rule}</div>${flag}`;
}

function stageHtml(state) {
  if (state.results) {
    return `<h2 class="stage-title">${t("测评结果", "Results")}</h2>
      <div class="results big${(state.results.subjects || []).length > COMPACT_FROM ? " compact" : ""}">${renderResults(state.results, state)}
        ${participationRuleHtml(state.results.participation)}
        ${splitHtml(state.results, (subject) => rateNames(scaleOf(subject, state)))}
        ${scoreFormulaHtml(state.results.score_formula, { open: true })}</div>`;
  }
  const report = state.current_report;
  if (report) {
    return `<div class="speaker">
        <div class="speaker-label">${t("正在述职", "Reporting")}</div>
        <div class="speaker-name" id="speaker">${esc(report.name)}</div>
        <div class="timer" id="timer" data-testid="timer">--:--</div>
        <div class="timer-note" id="timer-note">${t("时限", "Limit")} ${mmss(report.limit_seconds)}</div>
      </div>`;
  }
  const turnout = state.turnout || {};
  if (state.phase === "ballot_open") {
    return `<div class="ballot-stage">
        <div class="speaker-label">${t("测评进行中，请用手机扫描测评码投票", "Voting is open: scan your ballot code with your phone")}</div>
        <div class="turnout-huge" id="turnout-big">${turnoutHtml(turnout)}</div>
        ${turnoutNoteHtml(state)}
      </div>`;
  }
  if (state.phase === "ballot_closed") {
    return `<div class="ballot-stage">
        <div class="speaker-label">${t("投票已结束，正在核对计票", "Voting has closed; counting")}</div>
        <div class="turnout-huge" id="turnout-big">${turnoutHtml(turnout)}</div>
        ${turnoutNoteHtml(state)}
        ${countCheckHtml(state)}
      </div>`;
  }
  if (state.phase === "opened") {
    const next = nextSubject(state);
    const done = (state.reports_done || []).map((r) =>
      `<li>${esc(subjectName(state, r.subject_id))} · ${mmss(r.duration_seconds)}${r.overtime_seconds ? ` <span class="over">${t("超时", "over")} +${mmss(r.overtime_seconds)}</span>` : ""}</li>`).join("");
    return `<div class="waiting">
        <div class="speaker-label">${next ? t("下一位述职", "Next to report") : t("述职已全部结束，即将开始测评", "All reports done; voting opens soon")}</div>
        ${next ? `<div class="speaker-name">${esc(next.name)}</div>` : ""}
        ${done ? `<ol class="done-list">${done}</ol>` : ""}
      </div>`;
  }
  return `<div class="waiting">
      <div class="speaker-label">${t("会议即将开始", "The meeting will begin shortly")}</div>
      <div class="speaker-name small">${esc(state.title)}</div>
      <div class="meeting-when">${when(state.starts_at)} · ${esc(state.place || "")}</div>
    </div>`;
}

function sideHtml(state) {
  $("info-panel").innerHTML = infoHtml(state);
  $("info-panel").hidden = !BEFORE_VOTING.includes(state.phase);
  const turnout = state.turnout || {};
  const voting = ["ballot_open", "ballot_closed", "results_announced", "closed"].includes(state.phase);
  // Present = everyone checked in, guests too (selectors.turnout).
  const present = Number(turnout.present) || 0;
  $("turnout-panel").innerHTML = voting
    ? `<h3>${t("投票进度", "Turnout")}</h3><div class="turnout" id="turnout" data-testid="turnout">${turnoutHtml(turnout)}</div>
      <p class="turnout-rule">${t("已投÷应参评人数（参评率的分母）", "Cast ÷ eligible voters (participation's denominator)")}</p>`
    : `<h3>${t("签到", "Checked in")}</h3><div class="turnout" id="checked-in">${t(`已签到 ${present} 人`, `${present} present`)}</div>`;

  const quorum = (state.quorum || []).map((q) =>
    `<li>${category(q.category)} <b>${q.present}</b>/${q.required} ${tick(q.met)}</li>`).join("");
  const verdict = state.quorum_met ? t("已达法定人数", "Quorum met")
    : state.quorum_override ? t("未达法定人数，经主持人批准继续", "Quorum overridden by the host")
    : t("尚未达到法定人数", "Quorum not yet met");
  $("quorum-panel").innerHTML = quorum ? `<h3>${t("法定人数", "Quorum")}</h3><ul class="quorum">${quorum}</ul><p class="verdict ${state.quorum_met || state.quorum_override ? "ok" : "no"}">${verdict}</p>` : "";

  // Open questions first, then those promised for later, then the answered ones.
  const rank = (q) => (q.answer !== null ? 2 : q.deferred ? 1 : 0);
  const questions = [...(state.questions || [])].sort((a, b) => rank(a) - rank(b));
  const items = questions.slice(0, 8).map((q) => {
    const status = q.answer !== null ? t("已答复", "answered")
      : q.deferred ? t(`会后答复（${q.due_on || ""}前）`, `to be answered by ${q.due_on || ""}`) : t("待答复", "open");
    return `<li class="${rank(q) === 0 ? "open" : "done"}"><span class="q-to">${t("问", "To")} ${esc(q.subject_name)}</span> ${esc(q.text)} <span class="q-status">${status}</span></li>`;
  }).join("");
  $("questions-panel").innerHTML = `<h3>${t("质询提问", "Questions")} <small>${questions.length}</small></h3>` +
    (items ? `<ol class="questions">${items}</ol>` : `<p class="muted">${t("暂无提问", "No questions yet")}</p>`);
}

function render(state) {
  $("title").textContent = state.title || $("title").textContent;
  $("phase").innerHTML = phase(state);
  $("phase").dataset.phase = state.phase;
  root.dataset.phase = state.phase;
  root.classList.toggle("with-results", Boolean(state.results));
  $("stage").innerHTML = stageHtml(state);
  sizeBars($("stage"));
  sideHtml(state);
  $("fingerprint").innerHTML = fingerprint(state.head_hash);
  fitResults();
  tickTimer();
}

// Ten subjects on five criteria do not fit 1080 px at full size: shrink the
// results as a whole rather than cut any off (a hall screen cannot scroll).
function fitResults() {
  const results = document.querySelector(".results.big");
  if (!results) return;
  results.style.zoom = "";
  const stage = $("stage");
  const bottom = stage.getBoundingClientRect().bottom - 16;
  const fits = (zoom) => {
    results.style.zoom = String(zoom);
    return results.getBoundingClientRect().bottom <= bottom;
  };
  if (fits(1)) return;
  // Zoom reflows the grids (more columns fit as it shrinks), so the height is
  // not proportional to it: search for the largest zoom that fits.
  let [low, high] = [0.4, 1];
  for (let step = 0; step < 7; step += 1) {
    const mid = (low + high) / 2;
    if (fits(mid)) low = mid;
    else high = mid;
  }
  fits(low);
}

// Without a token the screen is the auditor's replay (replay.js): no socket; it
// shows the states it is given, its clock stopped at the replayed moment.
const live = root.dataset.token
  ? connectLive({ path: `/ws/m/${meetingId}/screen/`, token: root.dataset.token, onState: render })
  : { state: null, serverNow: () => Date.now() };

// The replay's entry: render `state` as the hall screen did when the server's clock read `atMs`.
export function showReplayed(state, atMs) {
  live.state = state;
  live.serverNow = () => atMs;
  render(state);
}

function tickTimer() {
  const el = document.getElementById("timer");
  const state = live.state;
  if (!el || !state || !state.current_report) return;
  const clock = reportClock(state.current_report, live);
  el.innerHTML = clock.overtime ? `<span class="over-label">${t("超时", "Overtime")}</span> ${clock.text}` : clock.text;
  el.classList.toggle("overtime", clock.overtime);
  el.dataset.overtime = clock.overtime ? "1" : "0";
}
setInterval(tickTimer, 200);
