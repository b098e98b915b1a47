// The voter's phone (测评投票). The ballot code arrives in the URL fragment
// (#CODE), which the browser never sends to a server, or is typed in. It is
// sent only in the body of the voter API's requests (no cookies either).
//
// Steps: code -> form (POST /api/v/<m>/form/) -> wait for voting to open
// (phone websocket) -> grade every subject on every criterion -> confirm ->
// POST /api/v/<m>/ballot/ (resent unchanged after a network failure: the
// API answers the identical ballot with the same receipt) -> receipt, kept
// in localStorage so a reload still shows it -> results when announced.
import { t, esc, applyPlaceholders, pick } from "./i18n.js";
import { errorHtml, isRetryable, postOnce } from "./api.js";
import { backoffSeconds, connectLive } from "./live.js";
import { rateNames, renderResults, scaleOf, sizeBars } from "./results.js";
import { participationRuleHtml, scoreFormulaHtml, splitHtml } from "./groups.js";

const root = document.getElementById("phone");
const meetingId = root.dataset.meeting;
const V = `v/${meetingId}/`;
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Same normalization as the server (meetings.codes.normalize_code), enough
// to tell a typing slip before asking the server.
const ALPHABET = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{12}$/;
export function normalizeCode(text) {
  return String(text || "").normalize("NFKC").replace(/[\s\-\u2010-\u2015\u2212\u30fc\uff0d_·.]+/g, "").toUpperCase();
}

const app = {
  code: null,
  form: null, // the answer of /form/
  live: null,
  view: "enter",
  marks: {},
  receipt: null,
  sending: false,
  error: null,
};
window.shupingPhone = app;

const receiptKey = () => `shuping.receipt.${meetingId}.${app.code}`;
function loadReceipt() {
  try { return localStorage.getItem(receiptKey()); } catch (e) { return null; }
}
function saveReceipt(receipt) {
  try { localStorage.setItem(receiptKey(), receipt); } catch (e) { /* private mode: shown, not kept */ }
}

function notice(html, kind = "error") {
  $("notice").innerHTML = html ? `<div class="notice ${kind}">${html}</div>` : "";
}

function show(view) {
  app.view = view;
  render();
}

// -- views ---------------------------------------------------------------------------------------

function enterView() {
  return `<form class="code-entry step" id="code-form">
      <p>${t("请输入测评码（印在测评码单上，扫码进入时会自动填写）", "Type your ballot code (printed on your slip; scanning its QR code fills it in)")}</p>
      <input type="text" name="code" id="code-input" autocomplete="off" autocapitalize="characters" spellcheck="false" inputmode="text"
        maxlength="40" data-ph-zh="例如 K7QM-X2PA-9F3R" data-ph-en="e.g. K7QM-X2PA-9F3R" required>
      <button type="submit" class="primary big">${t("进入投票", "Continue")}</button>
    </form>`;
}

function receiptView() {
  // 64 hex digits as four lines of four groups: easy to read out and compare.
  const lines = ((app.receipt || "").match(/.{1,16}/g) || []).map((line) => `<span>${esc(line.match(/.{1,4}/g).join(" "))}</span>`);
  return `<div class="receipt" id="receipt" data-testid="receipt">
      <div class="done">✓ ${t("投票成功", "Your ballot is in")}</div>
      <p>${t("您的投票回执", "Your receipt")}</p>
      <code id="receipt-code" data-receipt="${esc(app.receipt)}">${lines.join("")}</code>
      <p class="muted">${t("可凭回执在会后公布的会议日志中核对您的选票已被计入。回执不显示您投给了谁。", "After the meeting, find this receipt in the published log to check that your ballot was counted.")}</p>
    </div>`;
}

function waitingView(state) {
  const phase = state ? state.phase : app.form.phase;
  let message;
  if (phase === "ballot_closed") message = t("投票已结束，正在统计结果。", "Voting has closed; the results are being counted.");
  else if (phase === "closed" || phase === "results_announced") message = t("会议已结束。", "The meeting is over.");
  else message = t("投票尚未开始，请稍候。开始后本页会自动显示选票。", "Voting has not opened yet. The ballot appears here as soon as it does.");
  return `<div class="waiting-phone" id="waiting" data-testid="waiting">
      ${phase === "ballot_closed" || phase === "announced" || phase === "opened" ? `<div class="spinner" aria-hidden="true"></div>` : ""}<p>${message}</p></div>`;
}

function questionForm(state) {
  if (!state || state.phase !== "opened") return "";
  const options = (state.subjects || []).map((s) => `<option value="${esc(s.subject_id)}">${esc(s.name)}</option>`).join("");
  return `<form class="question-form stack" id="question-form">
      <h2>${t("向述职对象提问（匿名）", "Ask a question (anonymous)")}</h2>
      <select name="subject_id">${options}</select>
      <textarea name="text" maxlength="2000" required data-ph-zh="您的问题" data-ph-en="Your question"></textarea>
      <button type="submit" class="big">${t("提交问题", "Send question")}</button>
    </form>`;
}

function ballotView() {
  const form = app.form;
  const subjects = form.subjects.map((subject) => {
    const criteria = form.criteria.map((criterion) => {
      const name = `m_${subject.subject_id}_${criterion.id}`;
      const chosen = (app.marks[subject.subject_id] || {})[criterion.id];
      const grades = scaleOf(subject, form).grades.map((grade) =>
        `<label><input type="radio" name="${esc(name)}" value="${esc(grade.id)}" data-subject="${esc(subject.subject_id)}" data-criterion="${esc(criterion.id)}"${chosen === grade.id ? " checked" : ""}>${t(grade.name_zh, grade.name_en)}</label>`).join("");
      return `<div class="criterion">${form.criteria.length > 1 ? `<div class="criterion-name">${esc(criterion.name_zh)}</div>` : ""}<div class="grades">${grades}</div></div>`;
    }).join("");
    return `<section class="ballot-subject" data-subject="${esc(subject.subject_id)}" data-kind="${esc(subject.kind || "person")}"><h2>${esc(subject.name)}</h2>${criteria}</section>`;
  }).join("");
  return `<form id="ballot-form" data-testid="ballot-form">
      <p>${t(`请对以下 ${form.subjects.length} 位述职对象逐项评价（${scaleNames(form)}）。无记名投票，任何人都无法知道您的选择。`,
        `Grade each of the ${form.subjects.length} subjects below. The ballot is secret.`)}</p>
      ${subjects}
      <button type="submit" class="primary big" id="to-confirm">${t("下一步：核对选择", "Next: check your choices")}</button>
    </form>`;
}

// The scales' names once each (one, or two when bodies and persons differ).
function scaleNames(form) {
  return [...new Set(form.subjects.map((subject) => scaleOf(subject, form).name_zh))].map(esc).join("；");
}

function gradeName(subject, id) {
  const grade = scaleOf(subject, app.form).grades.find((g) => g.id === id);
  return grade ? t(grade.name_zh, grade.name_en) : esc(id);
}

function confirmView() {
  const rows = [];
  for (const subject of app.form.subjects) {
    for (const criterion of app.form.criteria) {
      const label = app.form.criteria.length > 1 ? `${esc(subject.name)} · ${esc(criterion.name_zh)}` : esc(subject.name);
      rows.push(`<li><span>${label}</span><b>${gradeName(subject, app.marks[subject.subject_id][criterion.id])}</b></li>`);
    }
  }
  return `<div id="confirm" data-testid="confirm">
      <h2>${t("请核对您的选择", "Check your choices")}</h2>
      <ul class="confirm-list">${rows.join("")}</ul>
      <button type="button" class="primary big" id="cast" ${app.sending ? "disabled" : ""}>${app.sending ? t("正在提交…", "Sending…") : t("确认投票", "Cast my ballot")}</button>
      <button type="button" class="big" id="back" ${app.sending ? "disabled" : ""}>${t("返回修改", "Change")}</button>
    </div>`;
}

function resultsView(state) {
  return `<div class="results" id="phone-results"><h2>${t("测评结果", "Results")}</h2>${renderResults(state.results, state)}
    ${participationRuleHtml(state.results.participation)}${splitHtml(state.results, (subject) => rateNames(scaleOf(subject, state)))}${scoreFormulaHtml(state.results.score_formula)}</div>`;
}

function render() {
  const state = app.live && app.live.state;
  if (app.form) $("title").textContent = app.form.title;
  let html = "";
  switch (app.view) {
    case "enter": html = enterView(); break;
    case "loading": html = `<p class="waiting-phone">${t("正在读取选票…", "Loading your ballot…")}</p>`; break;
    case "waiting": html = waitingView(state) + questionForm(state); break;
    case "form": html = ballotView(); break;
    case "confirm": html = confirmView(); break;
    case "receipt": html = receiptView(); break;
    case "voted": html = `<div class="waiting-phone" id="voted"><div class="big-icon">✓</div><p>${t("此测评码已经投过票，不能再次投票。", "This code has already been used to vote.")}</p></div>`; break;
    default: html = "";
  }
  if (state && state.results && ["receipt", "voted", "waiting"].includes(app.view)) html += resultsView(state);
  if (app.code && app.view !== "enter") {
    html += `<p class="muted code-footer">${t("测评码", "Code")} ${esc(app.code.slice(0, 4))}-••••-•••• · <a href="#" id="change-code">${t("换一个测评码", "Use another code")}</a></p>`;
  }
  $("view").innerHTML = html;
  sizeBars($("view"));
  applyPlaceholders($("view"));
}

// -- flow ------------------------------------------------------------------------------------------

async function withRetry(path, body, onWait) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await postOnce(path, body);
    } catch (error) {
      if (!isRetryable(error)) throw error;
      if (onWait) onWait(attempt);
      await sleep(backoffSeconds(Math.min(attempt, 4)) * 1000);
    }
  }
}

async function start(code) {
  app.code = code;
  app.receipt = loadReceipt();
  show(app.receipt ? "receipt" : "loading");
  let answer;
  try {
    answer = await withRetry(V + "form/", { code }, () => notice(t("网络中断，正在重试…", "Network problem; retrying…"), "info"));
  } catch (error) {
    notice(errorHtml(error));
    app.code = null;
    history.replaceState(null, "", location.pathname);
    show("enter");
    return;
  }
  notice("");
  app.form = answer.body;
  if (app.receipt) show("receipt");
  else if (app.form.voted) show("voted");
  else show(app.form.phase === "ballot_open" ? "form" : "waiting");
  if (!app.live) {
    app.live = connectLive({ path: `/ws/m/${meetingId}/phone/`, token: app.form.live_token, onState: onLive });
  }
}

// The meeting moved on: open the ballot when voting opens, close it when it ends.
function onLive(state) {
  if (app.form) app.form.phase = state.phase;
  if (app.view === "waiting" && state.phase === "ballot_open" && !app.receipt) { show("form"); return; }
  if ((app.view === "form" || app.view === "confirm") && state.phase !== "ballot_open" && !app.sending) {
    notice(t("投票已结束，未提交的选票不再接受。", "Voting has closed; unsent ballots are no longer accepted."));
    show("waiting");
    return;
  }
  if (["waiting", "receipt", "voted"].includes(app.view)) render();
}

function collectMarks() {
  const marks = {};
  const missing = [];
  for (const subject of app.form.subjects) {
    marks[subject.subject_id] = {};
    for (const criterion of app.form.criteria) {
      const chosen = document.querySelector(`input[name="${CSS.escape(`m_${subject.subject_id}_${criterion.id}`)}"]:checked`);
      if (chosen) marks[subject.subject_id][criterion.id] = chosen.value;
      else missing.push(subject.subject_id);
    }
  }
  return { marks, missing };
}

async function cast() {
  if (app.sending) return;
  app.sending = true;
  render();
  const body = { code: app.code, marks: app.marks };
  try {
    // The identical body every time: a retry of a ballot that did arrive gets its receipt back.
    const answer = await withRetry(V + "ballot/", body, (attempt) =>
      notice(t(`网络中断，正在重新提交（第 ${attempt + 1} 次）…您的选择仍在本页。`, `Network problem; resending (attempt ${attempt + 1})…`), "info"));
    app.receipt = answer.body.receipt;
    saveReceipt(app.receipt);
    notice("");
    app.sending = false;
    show("receipt");
  } catch (error) {
    app.sending = false;
    notice(errorHtml(error));
    if (error.code === "code_already_used") show("voted");
    else if (error.code === "wrong_phase") show("waiting");
    else show("form");
  }
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.id === "code-form") {
    event.preventDefault();
    const code = normalizeCode(form.elements.code.value);
    if (!ALPHABET.test(code)) {
      notice(t("测评码格式不对：应为12位字母和数字（不含0、1、I、L、O），请核对后重新输入。", "That is not a ballot code: 12 letters and digits (no 0, 1, I, L, O)."));
      return;
    }
    notice("");
    history.replaceState(null, "", `${location.pathname}#${code}`);
    start(code);
  } else if (form.id === "ballot-form") {
    event.preventDefault();
    const { marks, missing } = collectMarks();
    for (const card of document.querySelectorAll(".ballot-subject")) card.classList.toggle("missing", missing.includes(card.dataset.subject));
    if (missing.length) {
      notice(t("还有未评价的项目（已用红框标出），请逐项评价后再提交。", "Some items are not graded yet (marked in red)."));
      document.querySelector(".ballot-subject.missing").scrollIntoView({ behavior: "smooth", block: "center" });
      return;
    }
    notice("");
    app.marks = marks;
    show("confirm");
    window.scrollTo(0, 0);
  } else if (form.id === "question-form") {
    event.preventDefault();
    const text = form.elements.text.value.trim();
    if (!text) return;
    const button = form.querySelector("button");
    button.disabled = true;
    withRetry(V + "question/", { code: app.code, subject_id: form.elements.subject_id.value, text })
      .then(() => { form.reset(); notice(t("问题已提交，将在会上答复。", "Your question was sent."), "info"); })
      .catch((error) => notice(errorHtml(error)))
      .finally(() => { button.disabled = false; });
  }
});

document.addEventListener("change", (event) => {
  const input = event.target;
  if (input.matches(".grades input")) {
    (app.marks[input.dataset.subject] = app.marks[input.dataset.subject] || {})[input.dataset.criterion] = input.value;
    input.closest(".ballot-subject").classList.remove("missing");
  }
});

document.addEventListener("click", (event) => {
  if (event.target.closest("#cast")) cast();
  else if (event.target.closest("#back")) show("form");
  else if (event.target.closest("#change-code")) {
    event.preventDefault();
    if (!window.confirm(pick("换一个测评码？", "Use another code?"))) return;
    location.hash = "";
    location.reload();
  }
});

document.addEventListener("shuping:lang", render);

const fromFragment = normalizeCode(decodeURIComponent(location.hash.slice(1)));
if (ALPHABET.test(fromFragment)) start(fromFragment);
else show("enter");
