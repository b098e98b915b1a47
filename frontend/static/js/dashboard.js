// The county dashboard (县区总览): rounds, and every meeting live with its
// phase, turnout and, once announced, the results summary.
import { t, esc } from "./i18n.js";
import { get } from "./api.js";
import { connectLive } from "./live.js";
import { phase } from "./results.js";
import { messages } from "./ui.js";

const root = document.getElementById("dashboard");
const role = root.dataset.role;
const $ = (id) => document.getElementById(id);
const notes = messages($("messages"));

const VARIANTS = {
  shuang_shu_shuang_ping: ["双述双评", "dual report, dual evaluation"],
  si_ge_shuang_xiang: ["四个双向", "four two-way mechanisms"],
  zhi_ping_cun_guan: ["直评村官", "villagers evaluate officials"],
  dianping_qunzhong_pingyi: ["领导点评+群众评议", "leader comments + mass evaluation"],
};
const HOSTS = ["host", "county_admin"];
const REVEALED = ["results_announced", "closed"];
const results = new Map(); // meeting id -> results body (fetched once, when announced)
let meetingCount = -1;

async function loadRounds() {
  try {
    const body = await get("rounds/");
    $("rounds").innerHTML = body.rounds.length
      ? `<table class="grid"><thead><tr><th>${t("名称", "Name")}</th><th>${t("年度", "Year")}</th><th>${t("类型", "Variant")}</th></tr></thead><tbody>${
        body.rounds.map((r) => {
          const [zh, en] = VARIANTS[r.rules && r.rules.variant] || [r.rules ? r.rules.variant : "", ""];
          return `<tr data-round="${esc(r.round_id)}"><td>${esc(r.name)}</td><td>${r.year}</td><td>${t(zh, en)}</td></tr>`;
        }).join("")}</tbody></table>`
      : `<p class="muted">${t("尚无述评活动", "No rounds yet")}</p>`;
  } catch (error) {
    notes.error(error);
  }
}

function fetchResults(meetingId) {
  if (results.has(meetingId)) return;
  results.set(meetingId, null);
  get(`meetings/${meetingId}/results/`).then((body) => {
    results.set(meetingId, body);
    if (live.state) render(live.state);
  }).catch(() => results.delete(meetingId));
}

function resultsCell(meeting) {
  if (!REVEALED.includes(meeting.phase)) return "—";
  fetchResults(meeting.meeting_id);
  const body = results.get(meeting.meeting_id);
  if (!body) return `<span class="muted">…</span>`;
  const flagged = body.subjects.filter((s) => s.flagged);
  return `${t("参评率", "participation")} <b data-participation>${esc(body.participation_percent)}</b> <small class="muted">${body.ballots_counted}/${body.eligible}</small><br>` + (flagged.length
    ? `<span class="no">${t("须诫勉谈话", "admonishment")}：${flagged.map((s) => `${esc(s.name)}（${esc(s.unfavourable_percent)}）`).join("、")}</span>`
    : `<span class="ok">${t("无须诫勉谈话", "none flagged")}</span>`);
}

function links(meeting) {
  const m = encodeURIComponent(meeting.meeting_id);
  const out = [];
  if (HOSTS.includes(role)) out.push(`<a href="/hall/${m}/console/">${t("主持人控制台", "Console")}</a>`);
  if (role === "teller") out.push(`<a href="/hall/${m}/teller/">${t("纸质选票录入", "Teller")}</a>`);
  // Hall-screen links are minted by those who run the meeting (accounts/roles.py, page:screen_open).
  if (HOSTS.includes(role)) out.push(`<a href="/hall/${m}/screen/open/" target="_blank" rel="noopener">${t("会场大屏", "Hall screen")}</a>`);
  return out.join(" · ");
}

function render(state) {
  const meetings = state.meetings || [];
  if (meetings.length !== meetingCount) {
    // A new meeting may belong to a new round: read the rounds again (rarely).
    if (meetingCount !== -1) loadRounds();
    meetingCount = meetings.length;
  }
  $("participation-rule").hidden = !meetings.length;
  $("meeting-count").innerHTML = t(`共 ${meetings.length} 场`, `${meetings.length} meetings`);
  $("meetings").innerHTML = meetings.length ? `<table class="grid"><thead><tr>
      <th>${t("会议", "Meeting")}</th><th>${t("乡镇 / 村", "Township / village")}</th><th>${t("阶段", "Phase")}</th>
      <th class="num" title="${t("参评率＝收回票数÷应参评人数", "Participation = ballots counted ÷ eligible voters")}">${t("收回 / 应参评", "Ballots / eligible")}</th><th>${t("结果", "Results")}</th><th>${t("入口", "Open")}</th></tr></thead><tbody>${
      meetings.map((m) => `<tr data-meeting="${esc(m.meeting_id)}" data-phase="${esc(m.phase)}">
        <td>${esc(m.title)}</td><td>${esc(m.township)} ${esc(m.village)}</td>
        <td><span class="phase-badge" data-phase="${esc(m.phase)}">${phase(m)}</span></td>
        <td class="num" data-turnout>${(Number(m.turnout.cast) || 0) + (Number(m.turnout.paper) || 0)}/${m.turnout.eligible}${m.turnout.paper ? ` <small>${t("含纸质", "paper")} ${m.turnout.paper}</small>` : ""}</td>
        <td>${resultsCell(m)}</td><td>${links(m)}</td></tr>`).join("")}</tbody></table>`
    : `<p class="muted">${t("尚未安排会议", "No meetings scheduled")}</p>`;
}

loadRounds();
const live = connectLive({ path: "/ws/county/dashboard/", token: root.dataset.token, onState: render });
