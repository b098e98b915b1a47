// The host console (主持人控制台): check-in, quorum, reports, comments,
// questions, ballot codes, the ballot and the results. State comes from the
// console websocket; every action is a command to the REST API.
import { t, esc, pick } from "./i18n.js";
import { command, uuid4 } from "./api.js";
import { connectLive, reportClock, mmss } from "./live.js";
import { CATEGORY_NAMES, category, fingerprint, phase, rateNames, renderResults, scaleOf, sizeBars, tick } from "./results.js";
import { participationRuleHtml, scoreFormulaHtml, splitHtml } from "./groups.js";
import { commander, copyText, messages, renderKeep, setOptions } from "./ui.js";

const root = document.getElementById("console");
const meetingId = root.dataset.meeting;
const M = `meetings/${meetingId}/`;
const $ = (id) => document.getElementById(id);
const notes = messages($("messages"));
const run = commander(notes);

const CHECK_IN = ["announced", "opened"];
const ANSWERING = ["opened", "ballot_open", "ballot_closed", "results_announced"];
const CODES = ["announced", "opened", "ballot_open"];

function subjectName(state, id) {
  const subject = (state.subjects || []).find((s) => s.subject_id === id);
  return subject ? subject.name : id;
}

function nextSubject(state) {
  const done = new Set((state.reports_done || []).map((r) => r.subject_id));
  if (state.current_report) return null;
  return (state.subjects || []).find((s) => !done.has(s.subject_id)) || null;
}

function allReported(state) {
  const done = new Set((state.reports_done || []).map((r) => r.subject_id));
  return (state.subjects || []).every((s) => done.has(s.subject_id));
}

function unresolvedBatches(state) {
  return Object.entries(state.paper_batches || {}).filter(([, status]) => status !== "reconciled");
}

// Ballots over attendance (收回票数 > 到会人数) with no decision recorded on these counts.
function countsUndecided(state) {
  return Boolean(state.count_check && !state.count_check.accepted);
}

// -- phase buttons ---------------------------------------------------------------------------

function phaseChecks(state) {
  const quorumOk = state.quorum_met || Boolean(state.quorum_override);
  return {
    open: [state.phase === "announced", t("会议公告后可开始会议", "Open after the announcement")],
    "ballot-open": [
      state.phase === "opened" && !state.current_report && allReported(state) && quorumOk,
      state.phase !== "opened" ? t("会议进行中才能开始测评", "The meeting must be in session")
        : !allReported(state) || state.current_report ? t("全部述职结束后才能开始测评", "All reports must end first")
        : t("须达到法定人数或经批准继续", "Quorum must be met or overridden"),
    ],
    "ballot-close": [state.phase === "ballot_open", ""],
    "announce-results": [
      state.phase === "ballot_closed" && unresolvedBatches(state).length === 0 && !countsUndecided(state),
      unresolvedBatches(state).length ? t("纸质选票批次尚未核对一致", "Paper batches are not reconciled")
        : countsUndecided(state) ? t("收回票数多于到会人数，须先登记处理决定", "More ballots than people present: record a decision first") : "",
    ],
    "close-meeting": [state.phase === "results_announced", ""],
  };
}

function renderPhase(state) {
  $("phase").innerHTML = phase(state);
  $("phase").dataset.phase = state.phase;
  const checks = phaseChecks(state);
  const hints = [];
  for (const button of $("phase-buttons").querySelectorAll("[data-cmd]")) {
    const [ok, hint] = checks[button.dataset.cmd];
    button.disabled = !ok;
    if (!ok && hint && ((button.dataset.cmd === "ballot-open" && state.phase === "opened") ||
        (button.dataset.cmd === "announce-results" && state.phase === "ballot_closed"))) hints.push(hint);
  }
  $("phase-hint").innerHTML = hints.join(" ");
  const turnout = state.turnout || {};
  $("turnout-line").innerHTML = ["ballot_open", "ballot_closed", "results_announced", "closed"].includes(state.phase)
    ? `<p class="turnout-line" id="turnout">${t("已投", "Cast")} <b>${(turnout.cast || 0) + (turnout.paper || 0)}</b>/${turnout.eligible || 0}` +
      ` <small class="muted">${t("（分母＝应参评人数，同参评率）", "(over eligible voters, as participation)")}</small>` +
      `${turnout.paper ? ` · ${t("含纸质", "paper")} ${turnout.paper}` : ""} · ${t("到会", "present")} ${turnout.present || 0}` +
      ` · ${t("已发测评码", "codes issued")} ${turnout.codes || 0}</p>`
    : "";
  renderCountCheck(state);
}

// After the close: ballots counted against people checked in, per category; an excess
// blocks the results until the host records a decision with a reason (an event).
function renderCountCheck(state) {
  const check = state.count_check;
  if (!check) { renderKeep($("count-check"), ""); return; }
  const rows = check.categories.map((c) => {
    const over = c.ballots > c.present;
    return `<li class="${over ? "no" : ""}" data-category="${esc(c.category)}">${category(c.category)}${t("：", ": ")}${t("收回", "ballots")} <b>${c.ballots}</b> ${t("票", "")} / ${t("到会", "present")} <b>${c.present}</b> ${t("人", "")}${over ? ` ${t("（票数多于人数）", "(more ballots than people)")}` : ""}</li>`;
  }).join("");
  let verdict;
  if (!check.over.length) verdict = `<p class="ok">${t("收回票数未超过到会人数", "Ballots do not exceed attendance")}</p>`;
  else if (check.accepted) verdict = `<p><span class="ok">${t("已登记处理决定：", "Decision recorded: ")}</span>${esc(check.decision.reason)}</p>`;
  else verdict = `<div class="notice error" id="count-over"><b>${t("收回票数多于到会人数", "More ballots than people checked in")}</b>${t("。须登记处理决定和理由（记入日志）后才能公布结果。", ". Record a decision with its reason (it goes into the log) before the results can be announced.")}
      <form id="accept-count-form" class="stack space-above-s">
        <textarea name="reason" maxlength="500" required data-ph-zh="例如：经核对，两名党员未经签到入场，已补登记" data-ph-en="e.g. two members came in without checking in; verified"></textarea>
        <div><button type="submit" class="primary small">${t("登记处理决定", "Record the decision")}</button></div>
      </form></div>`;
  renderKeep($("count-check"), `<ul class="quorum-list">${rows}</ul>${verdict}`);
}

// -- check-in and quorum -----------------------------------------------------------------------

function renderDesk(state) {
  const open = CHECK_IN.includes(state.phase);
  const roster = state.roster || [];
  const present = roster.filter((m) => m.checked_in).length + (state.guests || []).length;
  $("present-count").innerHTML = t(`已签到 ${present} / 名册 ${roster.length}`, `${present} present / ${roster.length} on roster`);
  const rows = roster.map((m) => `<tr class="${m.checked_in ? "present" : ""}" data-member="${esc(m.member_id)}" data-search="${esc(`${m.name} ${m.member_id}`.toLowerCase())}">
      <td>${esc(m.name)}</td><td>${category(m.category)}</td>
      <td>${m.checked_in ? `<span class="ok">✓ ${t("已签到", "present")}</span>`
        : `<button type="button" class="small" data-checkin="${esc(m.member_id)}" ${open ? "" : "disabled"}>${t("签到", "Check in")}</button>`}</td>
    </tr>`).join("");
  renderKeep($("roster"), `<table class="grid"><thead><tr><th>${t("姓名", "Name")}</th><th>${t("类别", "Category")}</th><th>${t("签到", "Check-in")}</th></tr></thead><tbody>${rows}</tbody></table>`);
  filterRoster();
  $("guest-form").querySelector("button").disabled = !open;
  $("guests").innerHTML = (state.guests || []).length
    ? t("列席：", "Guests: ") + state.guests.map((g) => esc(g.name)).join("、") : "";

  $("quorum").innerHTML = (state.quorum || []).map((q) =>
    `<li data-category="${esc(q.category)}">${tick(q.met)} ${category(q.category)}${t("：", ": ")}${t("实到", "present")} <b>${q.present}</b> / ${t("应到", "required")} ${q.required} <span class="muted">（${t("名册", "roster")} ${q.roster}）</span></li>`).join("");
  $("quorum-verdict").innerHTML = state.quorum_met ? `<span class="ok">${t("已达到法定人数", "Quorum met")}</span>`
    : state.quorum_override ? `<span class="ok">${t("已批准不足法定人数继续：", "Proceeding without quorum: ")}</span>${esc(state.quorum_override)}`
    : `<span class="no">${t("尚未达到法定人数", "Quorum not met")}</span>`;
  $("override-form").hidden = Boolean(state.quorum_met || state.quorum_override) || !open;
}

function filterRoster() {
  const needle = $("roster-search").value.trim().toLowerCase();
  for (const row of $("roster").querySelectorAll("tr[data-search]")) row.hidden = Boolean(needle) && !row.dataset.search.includes(needle);
}

// -- agenda, comments, questions -------------------------------------------------------------

function renderAgenda(state) {
  const done = new Map((state.reports_done || []).map((r) => [r.subject_id, r]));
  const next = nextSubject(state);
  const opened = state.phase === "opened";
  const items = (state.subjects || []).map((s) => {
    const current = state.current_report && state.current_report.subject_id === s.subject_id;
    const report = done.get(s.subject_id);
    let status = "";
    let button = "";
    if (current) {
      status = `<span class="current">${t("述职中", "reporting")}</span> <span class="timer-inline" id="console-timer"></span>`;
      button = `<button type="button" class="primary small" data-end-report="${esc(s.subject_id)}" ${opened ? "" : "disabled"}>${t("结束述职", "End report")}</button>`;
    } else if (report) {
      status = `${t("已述职", "done")} ${mmss(report.duration_seconds)}${report.overtime_seconds ? ` <span class="over">${t("超时", "over")} +${mmss(report.overtime_seconds)}</span>` : ""}`;
    } else {
      const isNext = next && next.subject_id === s.subject_id;
      status = isNext ? t("下一位", "next") : t("待述职", "waiting");
      button = `<button type="button" class="small" data-start-report="${esc(s.subject_id)}" ${opened && isNext ? "" : "disabled"}>${t("开始述职", "Start report")}</button>`;
    }
    return `<li data-subject="${esc(s.subject_id)}"><b>${esc(s.name)}</b> <span class="status">${status}</span> ${button}</li>`;
  }).join("");
  renderKeep($("agenda"), items);
  tickTimer();

  const subjects = (state.subjects || []).map((s) => [esc(s.subject_id), esc(s.name)]);
  for (const select of root.querySelectorAll("select[data-subjects]")) setOptions(select, subjects);
  $("comment-form").querySelector("button").disabled = !opened;
  $("question-form").querySelector("button").disabled = !opened;

  $("comments").innerHTML = (state.comments || []).slice(-6).reverse().map((c) =>
    `<div class="question"><div class="q-meta">${t("点评", "Comment on")} ${esc(subjectName(state, c.subject_id))} · ${c.author ? esc(c.author) : t("匿名", "anonymous")}</div>${esc(c.text)}</div>`).join("");

  const attendees = [["", pick("匿名", "anonymous")]];
  for (const m of state.roster || []) if (m.checked_in) attendees.push([esc(m.member_id), esc(m.name)]);
  for (const g of state.guests || []) attendees.push([esc(g.guest_id), esc(g.name)]);
  setOptions($("asked-by"), attendees);

  const canAnswer = ANSWERING.includes(state.phase);
  const who = new Map(attendees.slice(1));
  const questions = (state.questions || []).map((q) => {
    let body;
    if (q.answer === null && q.deferred) {
      // Recorded for a later answer: the promise, and the answer when it comes (also after the meeting).
      body = `<div>${t("承诺会后答复", "Promised")}（${esc(q.due_on || "")}${t("前", "")}）：${esc(q.promise || "")}</div>
        <form class="stack" data-answer="${esc(q.question_id)}">
          <textarea name="answer" data-key="${esc(q.question_id)}" maxlength="5000" data-ph-zh="答复内容" data-ph-en="The answer"></textarea>
          <div><button type="submit" class="small" ${canAnswer || state.phase === "closed" ? "" : "disabled"}>${t("登记答复", "Record the answer")}</button></div>
        </form>`;
    } else if (q.answer === null) {
      body = `<form class="stack" data-answer="${esc(q.question_id)}">
          <textarea name="answer" data-key="${esc(q.question_id)}" maxlength="5000" data-ph-zh="当场答复内容" data-ph-en="Answer on the spot"></textarea>
          <div class="row"><button type="submit" class="small" ${canAnswer ? "" : "disabled"}>${t("当场答复", "Answer now")}</button>
          <span class="muted">${t("或会后答复，期限", "or answer later, by")}</span>
          <input type="date" name="due_on" data-key="${esc(q.question_id)}">
          <button type="button" class="small" data-defer="${esc(q.question_id)}" ${canAnswer ? "" : "disabled"}>${t("登记会后答复", "Defer with a promise")}</button></div>
        </form>`;
    } else if (q.deferred) {
      body = `<div class="muted">${t("承诺会后答复", "Promised")}（${esc(q.due_on || "")}${t("前", "")}）：${esc(q.promise || "")}</div>
        <div><span class="ok">${t("已答复", "Answered")}：</span>${esc(q.answer)}</div>`;
    } else {
      body = `<div><span class="ok">${t("已答复", "Answered")}：</span>${esc(q.answer)}</div>`;
    }
    return `<div class="question" data-question="${esc(q.question_id)}">
        <div class="q-meta">${t("问", "To")} ${esc(q.subject_name)} · ${q.asked_by ? who.get(esc(q.asked_by)) || esc(q.asked_by) : t("匿名", "anonymous")}</div>
        <div class="q-text">${esc(q.text)}</div>${body}</div>`;
  }).join("");
  renderKeep($("questions"), questions || `<p class="muted">${t("暂无提问", "No questions yet")}</p>`);
}

// -- codes, paper, results ---------------------------------------------------------------------

function renderCodes(state) {
  const categories = (state.voter_categories || []).map((c) => [esc(c), esc(pick(...(CATEGORY_NAMES[c] || [c, c])))]);
  setOptions($("code-category"), categories);
  const allowed = CODES.includes(state.phase);
  for (const button of $("codes-form").querySelectorAll("button")) button.disabled = !allowed;
  const turnout = state.turnout || {};
  $("codes-issued").innerHTML = t(`已发 ${turnout.codes || 0} 个`, `${turnout.codes || 0} issued`);
  $("code-limits").innerHTML = Object.entries(state.codes_by_category || {}).map(([c, n]) =>
    `${category(c)} ${t("已发", "issued")} ${n.issued} / ${t("名册", "roster")} ${n.may_vote}`).join(" · ");
  renderBatches(state);

  const batches = Object.entries(state.paper_batches || {});
  const names = { pending: t("待第二人录入", "awaiting a second entry"), reconciled: t("核对一致", "reconciled"), mismatch: t("核对不一致", "mismatch") };
  $("paper-batches").innerHTML = batches.length
    ? `<ul>${batches.map(([n, s]) => `<li>${t(`第 ${n} 批`, `Batch ${n}`)}：<span class="batch-status ${esc(s)}">${names[s] || esc(s)}</span></li>`).join("")}</ul>`
    : `<p class="muted">${t("暂无纸质选票批次", "No paper batches")}</p>`;

  $("results-card").hidden = !state.results;
  if (state.results) {
    renderKeep($("results"), renderResults(state.results, state) + participationRuleHtml(state.results.participation) +
      splitHtml(state.results, (subject) => rateNames(scaleOf(subject, state))) + scoreFormulaHtml(state.results.score_formula));
    sizeBars($("results"));
  }
  $("console-fingerprint").innerHTML = fingerprint(state.head_hash);
}

// -- code batches: every batch stays listed until marked printed --------------------------------------
// Plain codes exist only in this tab (sessionStorage: gone when it closes) until their batch is printed.

const HELD = `shuping.codes.${meetingId}`;

function heldCodes() {
  try { return JSON.parse(sessionStorage.getItem(HELD) || "{}"); } catch (e) { return {}; }
}

function holdCodes(batchNo, answer) {
  const held = heldCodes();
  held[batchNo] = { category: answer.category, codes: answer.codes, urls: answer.urls };
  try { sessionStorage.setItem(HELD, JSON.stringify(held)); } catch (e) { /* private mode: this render only */ }
}

function dropCodes(batchNo) {
  const held = heldCodes();
  delete held[batchNo];
  try { sessionStorage.setItem(HELD, JSON.stringify(held)); } catch (e) { /* nothing kept */ }
}

function renderBatches(state) {
  const batches = state.code_batches || [];
  const held = heldCodes();
  for (const b of batches) if (b.printed && held[b.batch_no]) dropCodes(b.batch_no);
  const rows = batches.map((b) => {
    const here = held[b.batch_no];
    const status = b.printed ? `<span class="ok">✓ ${t("已打印", "printed")}</span>`
      : `<span class="no">${t("未打印", "not printed")}</span>`;
    let actions = "";
    if (!b.printed) {
      actions = (here ? `<button type="button" class="small" data-print-batch="${b.batch_no}">${t("打印二维码单", "Print QR slips")}</button> ` +
        `<button type="button" class="small" data-print-paper="${b.batch_no}">${t("打印纸质测评票", "Print paper ballots")}</button> ` : "") +
        `<button type="button" class="small" data-printed-batch="${b.batch_no}">${t("登记已打印", "Mark printed")}</button>` +
        (here ? "" : ` <span class="muted">${t("（明码不在本页：已在打印窗口中，或本页已关闭过）", "(codes not in this page: in the print window, or this tab was closed)")}</span>`);
    }
    const codes = !b.printed && here
      ? `<tr><td colspan="5"><ol class="codes-list" data-codes-batch="${b.batch_no}">${here.codes.map((code, i) =>
        `<li><a href="${esc(here.urls[i])}" target="_blank" rel="noopener noreferrer" data-code="${esc(code)}">${esc(code)}</a></li>`).join("")}</ol></td></tr>` : "";
    return `<tr data-batch="${b.batch_no}" data-printed="${b.printed ? "1" : "0"}"><td class="num">${b.batch_no}</td><td>${category(b.category)}</td>
      <td class="num">${b.count}${b.margin ? ` <small class="muted">${t(`含余量${b.margin}`, `margin ${b.margin}`)}</small>` : ""}</td><td>${status}</td><td>${actions}</td></tr>${codes}`;
  }).join("");
  renderKeep($("code-batches"), batches.length
    ? `<table class="grid"><thead><tr><th>${t("批次", "Batch")}</th><th>${t("类别", "Category")}</th><th>${t("数量", "Count")}</th><th>${t("打印", "Printed")}</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
    : "");
}

function render(state) {
  $("title").textContent = state.title;
  renderPhase(state);
  renderDesk(state);
  renderAgenda(state);
  renderCodes(state);
}

const live = connectLive({ path: `/ws/m/${meetingId}/console/`, token: root.dataset.token, onState: render });

function tickTimer() {
  const el = document.getElementById("console-timer");
  if (!el || !live.state || !live.state.current_report) return;
  const clock = reportClock(live.state.current_report, live);
  el.innerHTML = clock.overtime ? t("超时 ", "over ") + clock.text : clock.text;
  el.classList.toggle("overtime", clock.overtime);
}
setInterval(tickTimer, 500);
document.addEventListener("shuping:lang", () => { if (live.state) render(live.state); });

// -- actions -------------------------------------------------------------------------------------

const PHASE_COMMANDS = {
  open: ["open/", null],
  "ballot-open": ["ballot/open/", null],
  "ballot-close": ["ballot/close/", ["确定结束投票吗？结束后不能再投票。", "Close the ballot? No more votes can be cast."]],
  "announce-results": ["results/announce/", ["确定公布测评结果吗？", "Announce the results?"]],
  "close-meeting": ["close/", ["确定结束会议吗？", "Close the meeting?"]],
};

$("phase-buttons").addEventListener("click", (event) => {
  const button = event.target.closest("[data-cmd]");
  if (!button || button.disabled) return;
  const [path, ask] = PHASE_COMMANDS[button.dataset.cmd];
  if (ask && !window.confirm(pick(...ask))) return;
  run(M + path, {}, { busy: button });
});

root.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  if (!target || target.disabled) return;
  if (target.dataset.printBatch) printBatch(Number(target.dataset.printBatch), "codes/sheet/");
  else if (target.dataset.printPaper) printBatch(Number(target.dataset.printPaper), "codes/paper-forms/");
  else if (target.dataset.printedBatch) {
    if (!window.confirm(pick(`确认第 ${target.dataset.printedBatch} 批测评码已打印？登记后本页不再保留其明码。`, `Batch ${target.dataset.printedBatch} printed? This page then forgets its codes.`))) return;
    run(M + `codes/${target.dataset.printedBatch}/printed/`, {}, { busy: target, ok: () => dropCodes(target.dataset.printedBatch) });
  } else if (target.dataset.checkin) run(M + "check-in/", { member_id: target.dataset.checkin }, { busy: target });
  else if (target.dataset.startReport) run(M + "reports/start/", { subject_id: target.dataset.startReport }, { busy: target });
  else if (target.dataset.endReport) run(M + "reports/end/", { subject_id: target.dataset.endReport }, { busy: target });
  else if (target.dataset.defer) {
    const form = target.closest("form");
    const promise = form.elements.answer.value.trim();
    const due = form.elements.due_on.value;
    if (!promise || !due) {
      notes.error({ code: "invalid_input", message_zh: "请填写承诺答复的内容和答复期限", message_en: "Write the promise and pick a due date" });
      return;
    }
    run(M + `questions/${target.dataset.defer}/defer/`, { promise, due_on: due }, { busy: form });
  }
});

root.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.id === "accept-count-form") {
    event.preventDefault();
    const reason = form.elements.reason.value.trim();
    if (reason) run(M + "results/accept-count/", { reason }, { busy: form });
    return;
  }
  if (form.dataset.answer) {
    event.preventDefault();
    const answer = form.elements.answer.value.trim();
    if (!answer) return;
    run(M + `questions/${form.dataset.answer}/answer/`, { answer }, { busy: form });
  }
});

$("roster-search").addEventListener("input", filterRoster);

// After a command succeeds, empty its field, unless the host already typed the next one into it.
function clearIfUnchanged(field, sent) {
  if (field.value.trim() === sent) field.value = "";
}

$("guest-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const name = form.elements.guest_name.value.trim();
  if (!name) return;
  const guestId = "g" + uuid4().replace(/-/g, "").slice(0, 12);
  run(M + "guests/", { guest_id: guestId, name }, { busy: form, ok: () => clearIfUnchanged(form.elements.guest_name, name) });
});

$("override-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const reason = form.elements.reason.value.trim();
  run(M + "quorum-override/", { reason }, { busy: form, ok: () => clearIfUnchanged(form.elements.reason, reason) });
});

$("comment-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { subject_id: form.elements.subject_id.value, text: form.elements.text.value.trim() };
  const author = form.elements.author.value.trim();
  if (author) body.author = author;
  run(M + "comments/", body, { busy: form, ok: () => { clearIfUnchanged(form.elements.text, body.text); notes.info(t("点评已记录", "Comment recorded")); } });
});

$("question-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { subject_id: form.elements.subject_id.value, text: form.elements.text.value.trim() };
  if (form.elements.asked_by.value) body.asked_by = form.elements.asked_by.value;
  run(M + "questions/", body, { busy: form, ok: () => clearIfUnchanged(form.elements.text, body.text) });
});

$("codes-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const body = codesBody(form);
  run(M + "codes/", body, {
    busy: form,
    ok: (answer) => {
      holdCodes(answer.batch_no, answer);
      $("codes-output").innerHTML = `<div class="notice info">${t(`已生成第 ${answer.batch_no} 批 ${answer.codes.length} 个“`, `Batch ${answer.batch_no}: ${answer.codes.length} codes for `)}${category(answer.category)}${t("”测评码，见上表；打印后请登记", "; see the table above and mark it printed once printed")}</div>`;
      if (live.state) renderBatches(live.state);
    },
  });
});

function codesBody(form) {
  return { category: form.elements.category.value, count: Number(form.elements.count.value), margin: Number(form.elements.margin.value) || 0 };
}

// Print the codes of a batch this page holds, as QR slips or as paper ballots (one A4 form
// per code): the server draws the page and records nothing.
async function printBatch(batchNo, what) {
  const here = heldCodes()[batchNo];
  if (!here) return;
  const sheet = window.open("", "_blank");
  if (sheet) {
    // Text and CSSOM, not markup with a style attribute: the window inherits this page's CSP.
    const wait = sheet.document.body.appendChild(sheet.document.createElement("p"));
    wait.textContent = pick("正在生成打印单…", "Preparing the sheet…");
    wait.style.font = "20px sans-serif";
  }
  try {
    const html = await command(M + what, { codes: here.codes }, { as: "text" });
    if (sheet) { sheet.document.open(); sheet.document.write(html); sheet.document.close(); }
    else notes.error({ code: "popup_blocked", message_zh: "浏览器阻止了弹出窗口，请允许本站弹出窗口后重试", message_en: "The browser blocked the pop-up window; allow pop-ups and retry" });
  } catch (error) {
    if (sheet) sheet.close();
    notes.error(error);
  }
}

// The slips endpoint answers with an A4 page of QR slips. It is a POST with
// JSON (the API's only body format), so the page fetches it and shows it in
// a window opened right away (a window opened after an await is blocked).
$("print-slips").addEventListener("click", async () => {
  const form = $("codes-form");
  const body = codesBody(form);
  if (!window.confirm(pick(`生成 ${body.count} 个测评码并打印？`, `Issue ${body.count} codes and print them?`))) return;
  const sheet = window.open("", "_blank");
  if (sheet) {
    // Text and CSSOM, not markup with a style attribute: the window inherits this page's CSP.
    const wait = sheet.document.body.appendChild(sheet.document.createElement("p"));
    wait.textContent = pick("正在生成测评码…", "Issuing codes…");
    wait.style.font = "20px sans-serif";
  }
  const key = uuid4();
  try {
    const html = await command(M + "codes/slips/", body, { key, as: "text" });
    if (sheet) {
      sheet.document.open();
      sheet.document.write(html);
      sheet.document.close();
    } else {
      notes.error({ code: "popup_blocked", message_zh: "浏览器阻止了弹出窗口，请允许本站弹出窗口后重试", message_en: "The browser blocked the pop-up window; allow pop-ups and retry" });
    }
  } catch (error) {
    if (sheet) sheet.close();
    // No retry button here: a replay cannot show the codes again (they are
    // not kept), so after a network failure the host issues a new batch.
    notes.error(error);
  }
});

$("revoke-screen-links").addEventListener("click", async () => {
  if (!window.confirm(t("作废后，已打开的大屏会断开，旧链接不能再用。确定作废吗？",
    "Open screens will be disconnected and old links stop working. Revoke?"))) return;
  try {
    await command(M + "screen-links/revoke/", {});
    window.location.reload();  // the page mints a new link
  } catch (error) {
    notes.error(error);
  }
});

$("copy-screen-url").addEventListener("click", async () => {
  const ok = await copyText($("screen-url").value, $("screen-url"));
  if (ok) notes.info(t("大屏链接已复制", "Screen link copied"));
  else notes.error({ code: "copy_failed", message_zh: "无法复制，请手动选中链接复制", message_en: "Copy failed; select the link and copy it" });
});
