// The auditor's replay (会议重放): step through a meeting's log and see the hall
// screen, the console and the tallies as they were at each position. Every
// state comes from /audit/<meeting>/at/?i=N (the Nth step; ?at= for a time),
// folded from the log on the server; the screen is drawn by the hall screen's
// own code (screen.js). The page holds one window of the timeline; other
// windows come from /audit/<meeting>/steps/?from=N, so a long log stays light.
import { t, esc } from "./i18n.js";
import { mmss, parseTime } from "./live.js";
import { category, gradeTotals, scaleOf, tick } from "./results.js";
import { showReplayed } from "./screen.js";

const root = document.getElementById("replay");
const meetingId = root.dataset.meeting;
const slider = document.getElementById("replay-slider");
const total = Number(root.dataset.steps);
const list = document.getElementById("timeline");
const $ = (id) => document.getElementById(id);
const BATCH_STATUS = { pending: ["待第二人录入", "pending"], reconciled: ["核对一致", "reconciled"], mismatch: ["录入不一致", "mismatch"] };
let asked = 0; // the latest request: older answers arriving late are dropped
let windowAsked = 0;
const WINDOW = Number(list.dataset.size); // steps in one window (the page holds one)

function clamp(index) {
  return Math.max(0, Math.min(total - 1, index));
}

function positionHtml(index, state) {
  const label = t(state.step.name_zh, state.step.name_en);
  return `${t(`第 ${index + 1} / ${total} 步`, `Step ${index + 1} of ${total}`)} · ` +
    `${t("版本", "version")} <b data-version>${state.version}</b> · <time>${esc(state.at.replace("T", " "))}</time> · ${label}` +
    `<br><small>${t("此位置的链哈希", "Chain hash at this position")}: <code data-position-hash>${esc(state.head_hash)}</code></small>`;
}

// The console as the host saw it then: attendance, quorum, reports, questions, codes and paper batches.
function consoleHtml(c) {
  const present = {};
  const roster = {};
  for (const entry of c.roster || []) {
    roster[entry.category] = (roster[entry.category] || 0) + 1;
    if (entry.checked_in) present[entry.category] = (present[entry.category] || 0) + 1;
  }
  const attendance = Object.keys(roster).map((cat) =>
    `<li data-category="${esc(cat)}">${category(cat)} <b data-present>${present[cat] || 0}</b>/${roster[cat]}</li>`).join("");
  const guests = (c.guests || []).length;
  const quorum = (c.quorum || []).map((q) =>
    `<li data-quorum="${esc(q.category)}">${category(q.category)} <b>${q.present}</b>/${q.required} ${tick(q.met)}</li>`).join("");
  const names = Object.fromEntries((c.subjects || []).map((s) => [s.subject_id, s.name]));
  const reports = (c.reports || []).map((r) => `<li data-report="${esc(r.subject_id)}">${esc(names[r.subject_id] || r.subject_id)} · ${
    r.ended_at ? `${mmss(r.duration_seconds)}${r.overtime_seconds ? ` <span class="no">${t("超时", "over")} +${mmss(r.overtime_seconds)}</span>` : ""}` : t("述职中", "reporting")}</li>`).join("");
  const answered = (c.questions || []).filter((q) => q.answer !== null).length;
  const codes = (c.code_batches || []).map((b) =>
    `<li>${category(b.category)} ${b.count}${b.printed ? t("（已打印）", " (printed)") : ""}</li>`).join("");
  const batches = Object.entries(c.paper_batches || {}).map(([n, status]) =>
    `<li data-batch="${esc(n)}" data-status="${esc(status)}">${t(`第 ${n} 批：`, `batch ${n}: `)}${t(...(BATCH_STATUS[status] || [status, status]))}</li>`).join("");
  const verdict = c.quorum_met ? t("已达法定人数", "quorum met")
    : c.quorum_override ? t("经主持人批准继续", "quorum overridden") : t("未达法定人数", "quorum not met");
  return `<dl class="replay-facts">
      <dt>${t("阶段", "Phase")}</dt><dd data-console-phase="${esc(c.phase)}">${t(c.phase_zh, c.phase_en)}</dd>
      <dt>${t("签到", "Checked in")}</dt><dd><ul class="plain" id="console-attendance">${attendance}</ul>${guests ? t(`列席 ${guests} 人`, `${guests} guests`) : ""}</dd>
      <dt>${t("法定人数", "Quorum")}</dt><dd><ul class="plain" id="console-quorum">${quorum}</ul>${quorum ? verdict : "—"}</dd>
      <dt>${t("述职", "Reports")}</dt><dd><ol class="plain" id="console-reports">${reports}</ol>${reports ? "" : "—"}</dd>
      <dt>${t("提问", "Questions")}</dt><dd>${t(`${(c.questions || []).length} 个，已答复 ${answered} 个`, `${(c.questions || []).length}, ${answered} answered`)}</dd>
      <dt>${t("点评", "Comments")}</dt><dd>${(c.comments || []).length}</dd>
      <dt>${t("测评码", "Ballot codes")}</dt><dd><ul class="plain">${codes}</ul>${codes ? "" : "—"}</dd>
      <dt>${t("纸质选票", "Paper batches")}</dt><dd><ul class="plain">${batches}</ul>${batches ? "" : "—"}</dd>
    </dl>`;
}

// Ballots as the log knew them then, and the tally once it was announced.
function talliesHtml(state) {
  const screen = state.screen;
  const turnout = screen.turnout || {};
  const phone = state.phone_ballots_sealed
    ? `<span data-phone-sealed>${t("密封中（投票期间不入日志，关闭投票时一并写入）", "sealed (not in the log while voting; written at the close)")}</span>`
    : `<b data-phone>${Number(turnout.cast) || 0}</b>`;
  const head = `<dl class="replay-facts">
      <dt>${t("手机选票", "Phone ballots")}</dt><dd>${phone}</dd>
      <dt>${t("纸质选票", "Paper ballots")}</dt><dd><b data-paper>${Number(turnout.paper) || 0}</b></dd>
      <dt>${t("应参评", "Eligible")}</dt><dd><b data-eligible>${Number(turnout.eligible) || 0}</b></dd>
    </dl>`;
  const results = screen.results;
  if (!results || !screen.scales) return `${head}<p class="muted" data-no-results>${t("结果尚未公布。", "Results not announced yet.")}</p>`;
  // Each subject on its own scale (persons and bodies may differ): the marks per grade in one cell.
  const rows = results.subjects.map((s) => {
    const scale = scaleOf(s, screen);
    const totals = scale ? gradeTotals(s, scale) : {};
    const grades = scale ? scale.grades.map((g) => `${t(g.name_zh, g.name_en)} <b data-grade="${esc(g.id)}">${totals[g.id] || 0}</b>`).join(" · ") : "";
    return `<tr data-subject="${esc(s.subject_id)}"><td>${esc(s.name)}</td><td>${grades}</td>
      <td class="num">${esc(s.favourable_percent)}</td><td class="num">${s.ballots}</td></tr>`;
  }).join("");
  return `${head}<table class="grid" id="tally-table"><thead><tr><th>${t("对象", "Subject")}</th><th>${t("各等次票数", "Marks per grade")}</th>
    <th class="num">${t("好评率（称职率、满意率）", "favourable rate")}</th><th class="num">${t("有效票", "ballots")}</th></tr></thead>
    <tbody>${rows}</tbody></table>
    <p>${t("收回选票", "Ballots counted")} <b data-counted>${results.ballots_counted}</b> · ${t("参评率", "participation")} ${esc(results.participation_percent)}</p>`;
}

async function show(index, state) {
  slider.value = String(index);
  showReplayed(state.screen, parseTime(state.recorded_at));
  $("console-state").innerHTML = consoleHtml(state.console);
  $("tally-state").innerHTML = talliesHtml(state);
  $("replay-position").innerHTML = positionHtml(index, state);
  $("sealed-note").hidden = !state.phone_ballots_sealed;
  $("replay-at").value = state.at;
  root.dataset.version = String(state.version);
  root.dataset.index = String(index);
  const from = Number(list.dataset.from);
  if (index < from || index >= from + list.children.length) {
    await loadWindow(Math.max(0, index - Math.floor(WINDOW / 2)));
  } else {
    markCurrent();
  }
}

// The list shows one window of steps; the current one is marked when it is in it.
function markCurrent() {
  const index = Number(root.dataset.index);
  for (const item of list.children) item.classList.toggle("current", Number(item.dataset.index) === index);
  const current = list.querySelector("li.current");
  if (current) scrollTimeline(current);
}

async function loadWindow(from) {
  const mine = ++windowAsked;
  const response = await fetch(`/audit/${encodeURIComponent(meetingId)}/steps/?from=${Math.max(0, from)}`,
    { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok || mine !== windowAsked) return;
  const answer = await response.json();
  list.innerHTML = answer.html;
  list.dataset.from = String(answer.from);
  $("timeline-window").innerHTML = t(`第 ${answer.from + 1}–${answer.to} 步，共 ${answer.steps} 步`,
    `steps ${answer.from + 1}–${answer.to} of ${answer.steps}`);
  markCurrent();
}

// Bring the current step into the timeline's own view, without scrolling the page.
function scrollTimeline(item) {
  const top = item.offsetTop; // the list is positioned: offsets are within it
  if (top < list.scrollTop) list.scrollTop = top;
  else if (top + item.offsetHeight > list.scrollTop + list.clientHeight) list.scrollTop = top + item.offsetHeight - list.clientHeight;
}

// Ask the server for the state at a step (?i=N) or at a local time (?at=…), and show it.
async function ask(query) {
  const mine = ++asked;
  root.dataset.loading = "1";
  let answer;
  try {
    const response = await fetch(`/audit/${encodeURIComponent(meetingId)}/at/?${query}`,
      { credentials: "same-origin", headers: { Accept: "application/json" } });
    answer = await response.json();
    if (!response.ok) {
      const error = new Error((answer.error && answer.error.message) || response.statusText);
      error.code = answer.error && answer.error.code;
      throw error;
    }
  } catch (error) {
    if (mine === asked) {
      $("replay-position").innerHTML = error.code === "no_event_before"
        ? `<span class="no">${t("该时刻之前会议日志中还没有事件。", "The log has no event at or before that time.")}</span>`
        : `<span class="no">${t("无法读取这一位置：", "Cannot read this position: ")}${esc(error.message)}</span>`;
      delete root.dataset.loading;
    }
    return;
  }
  if (mine !== asked) return;
  await show(answer.index, answer);
  if (mine === asked) delete root.dataset.loading;
}

function go(index) {
  const target = clamp(index);
  slider.value = String(target);
  return ask(`i=${target}`);
}

slider.addEventListener("input", () => go(Number(slider.value)));
root.addEventListener("click", (event) => {
  const button = event.target.closest("[data-step]");
  if (!button) return;
  const current = Number(slider.value);
  const step = button.dataset.step;
  go(step === "first" ? 0 : step === "last" ? total - 1 : step === "prev" ? current - 1 : current + 1);
});
list.addEventListener("click", (event) => {
  const item = event.target.closest("li[data-index]");
  if (item) go(Number(item.dataset.index));
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-window]");
  if (!button) return;
  const from = Number(list.dataset.from);
  loadWindow(button.dataset.window === "earlier" ? Math.max(0, from - WINDOW) : Math.min(from + WINDOW, total - 1));
});
$("replay-time").addEventListener("submit", (event) => {
  event.preventDefault();
  ask(`at=${encodeURIComponent($("replay-at").value)}`);
});
go(Number(root.dataset.start));
