// The teller's page (计票员): enter a numbered batch of paper ballots; see
// each batch's reconciliation live (teller websocket), differences side by side.
import { t, esc } from "./i18n.js";
import { connectLive } from "./live.js";
import { phase, scaleOf } from "./results.js";
import { commander, messages, renderKeep } from "./ui.js";

const root = document.getElementById("teller");
const meetingId = root.dataset.meeting;
const $ = (id) => document.getElementById(id);
const notes = messages($("messages"));
const run = commander(notes);

const STATUS = {
  pending: ["待第二人录入", "awaiting a second entry"],
  reconciled: ["核对一致，已计入", "reconciled: counted"],
  mismatch: ["核对不一致", "entries differ"],
};
const ENTRY_PHASES = ["ballot_open", "ballot_closed"];

let shape = null; // {subjects, criteria, scales} of the meeting, from the first snapshot (scales: kind -> scale)
let rows = 3;
const hashes = new Map(); // code hash -> plain code, for codes typed on this page

// -- the entry table ---------------------------------------------------------------------------

function columns() {
  const cols = [];
  for (const subject of shape.subjects) for (const criterion of shape.criteria) cols.push({ subject, criterion });
  return cols;
}

function renderEntry() {
  const cols = columns();
  const head = `<thead><tr><th>#</th><th>${t("测评码", "Ballot code")}</th>${cols.map(({ subject, criterion }) =>
    `<th>${esc(subject.name)}${shape.criteria.length > 1 ? `<br><small>${esc(criterion.name_zh)}</small>` : ""}</th>`).join("")}<th></th></tr></thead>`;
  // Each subject's column offers its own scale's grades (bodies and persons may differ).
  const grades = (subject) => (scaleOf(subject, shape) || { grades: [] }).grades
    .map((g) => `<option value="${esc(g.id)}">${esc(g.name_zh)}</option>`).join("");
  const body = [];
  for (let i = 0; i < rows; i++) {
    body.push(`<tr data-row="${i}"><td class="num">${i + 1}</td>
      <td><input type="text" class="code" name="code" data-key="${i}" autocomplete="off" spellcheck="false" maxlength="40"></td>
      ${cols.map(({ subject, criterion }) => `<td><select name="m_${esc(subject.subject_id)}_${esc(criterion.id)}" data-key="${i}" data-subject="${esc(subject.subject_id)}" data-criterion="${esc(criterion.id)}"><option value="">—</option>${grades(subject)}</select></td>`).join("")}
      <td><button type="button" class="small" data-remove-row="${i}" title="删除此行 / remove">✕</button></td></tr>`);
  }
  renderKeep($("entry-table"), head + `<tbody>${body.join("")}</tbody>`);
}

function collectBallots() {
  const ballots = [];
  for (const row of $("entry-table").querySelectorAll("tbody tr")) {
    const code = row.querySelector("input.code").value.trim();
    const marks = {};
    for (const select of row.querySelectorAll("select")) {
      if (!select.value) continue;
      (marks[select.dataset.subject] = marks[select.dataset.subject] || {})[select.dataset.criterion] = select.value;
    }
    if (!code && !Object.keys(marks).length) continue;
    ballots.push({ code, marks });
  }
  return ballots;
}

// -- code hashes, so that differences name the codes typed here ------------------------------------
// meetings.codes.code_hash: HMAC-SHA256(key = "shuping/ballot-code/v1" NUL county NUL meeting, message = normalized code).
// WebCrypto exists only in secure contexts; elsewhere the page shows hash prefixes alone.

function normalizeCode(text) {
  return String(text || "").normalize("NFKC").replace(/[\s\-\u2010-\u2015\u2212\u30fc\uff0d_·.]+/g, "").toUpperCase();
}

async function learnHashes(ballots) {
  if (!window.crypto || !crypto.subtle) return;
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(`shuping/ballot-code/v1\0${root.dataset.county}\0${meetingId}`),
    { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  for (const { code } of ballots) {
    const normal = normalizeCode(code);
    if (!normal) continue;
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(normal)));
    hashes.set([...mac].map((b) => b.toString(16).padStart(2, "0")).join(""), normal.replace(/(.{4})(?=.)/g, "$1-"));
  }
}

// -- batches ---------------------------------------------------------------------------------------

function marksHtml(marks, other) {
  if (!marks) return `<span class="muted">${t("未录入此票", "not entered")}</span>`;
  const lines = [];
  for (const subject of shape.subjects) {
    for (const criterion of shape.criteria) {
      const grade = (marks[subject.subject_id] || {})[criterion.id];
      const theirs = other ? (other[subject.subject_id] || {})[criterion.id] : grade;
      const name = grade ? ((scaleOf(subject, shape) || { grades: [] }).grades.find((g) => g.id === grade) || { name_zh: grade }).name_zh : "—";
      const label = shape.criteria.length > 1 ? `${subject.name} · ${criterion.name_zh}` : subject.name;
      const differs = other !== undefined && grade !== theirs;
      lines.push(`<div class="${differs ? "no" : ""}" data-subject="${esc(subject.subject_id)}" data-grade="${esc(grade || "")}">${esc(label)}：${esc(name)}${differs ? " ◀" : ""}</div>`);
    }
  }
  return lines.join("");
}

function batchHtml(batch) {
  const [zh, en] = STATUS[batch.status] || [batch.status, batch.status];
  const tellers = batch.tellers || [];
  let diff = "";
  if (batch.differences && batch.differences.length) {
    const rowsHtml = batch.differences.map((d) => {
      const entries = d.entries || {};
      const names = Object.keys(entries);
      const label = hashes.get(d.code_hash) || `${t("摘要", "hash")} ${d.code_hash.slice(0, 10)}…`;
      const cells = tellers.map((teller) => {
        const mine = entries[teller];
        const other = names.filter((n) => n !== teller).map((n) => entries[n])[0];
        return `<td class="${JSON.stringify(mine) !== JSON.stringify(other) ? "differs" : ""}" data-teller="${esc(teller)}">${marksHtml(mine, other === undefined ? null : other)}</td>`;
      }).join("");
      return `<tr data-code-hash="${esc(d.code_hash)}"><td><code>${esc(label)}</code></td>${cells}</tr>`;
    }).join("");
    diff = `<table class="grid diff" data-batch-diff="${batch.batch_no}"><thead><tr><th>${t("选票", "Ballot")}</th>${tellers.map((n) => `<th>${esc(n)}</th>`).join("")}</tr></thead><tbody>${rowsHtml}</tbody></table>`;
  }
  return `<div class="batch" data-batch="${batch.batch_no}" data-status="${esc(batch.status)}">
      <div>${t(`第 ${batch.batch_no} 批`, `Batch ${batch.batch_no}`)} · <span class="batch-status ${esc(batch.status)}">${t(zh, en)}</span>
      · ${t("录入人", "entered by")}：${tellers.map(esc).join("、") || "—"}</div>${diff}</div>`;
}

function render(state) {
  $("phase").innerHTML = phase(state);
  $("phase").dataset.phase = state.phase;
  const fresh = !shape;
  shape = { subjects: state.subjects || [], criteria: state.criteria || [], scales: state.scales || {} };
  if (fresh) renderEntry();
  const open = ENTRY_PHASES.includes(state.phase);
  $("submit-batch").disabled = !open;
  const batches = state.paper_batches || [];
  renderKeep($("batches"), batches.length ? batches.map(batchHtml).join("")
    : `<p class="muted">${t("尚无录入的批次", "No batches entered yet")}</p>`);
}

const live = connectLive({ path: `/ws/m/${meetingId}/teller/`, token: root.dataset.token, onState: render });

// -- actions ---------------------------------------------------------------------------------------

$("add-row").addEventListener("click", () => { rows += 1; renderEntry(); });
$("clear-form").addEventListener("click", () => {
  for (const field of $("entry-table").querySelectorAll("input, select")) field.value = "";
  $("batch-no").value = "";
});
$("entry-table").addEventListener("click", (event) => {
  const button = event.target.closest("[data-remove-row]");
  if (!button) return;
  button.closest("tr").remove();
  // Renumber the keys so that the next re-render keeps each row's values in place.
  [...$("entry-table").querySelectorAll("tbody tr")].forEach((row, i) => {
    row.dataset.row = i;
    row.querySelector("td").textContent = i + 1;
    for (const field of row.querySelectorAll("[data-key]")) field.dataset.key = i;
  });
  rows = Math.max(1, rows - 1);
  $("entry-table")._html = null;
});

$("batch-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const batchNo = Number($("batch-no").value);
  const ballots = collectBallots();
  if (!batchNo || !ballots.length) {
    notes.error({ code: "invalid_input", message_zh: "请填写批次号并至少录入一张选票", message_en: "Enter a batch number and at least one ballot" });
    return;
  }
  await learnHashes(ballots).catch(() => {});
  await run(`meetings/${meetingId}/paper-batches/`, { batch_no: batchNo, ballots }, {
    busy: event.target,
    ok: (answer) => {
      const [zh, en] = STATUS[answer.status] || [answer.status, answer.status];
      notes.info(t(`第 ${batchNo} 批已提交：${zh}`, `Batch ${batchNo} submitted: ${en}`));
      if (live.state) render(live.state);
    },
  });
});

document.addEventListener("shuping:lang", () => { if (shape) { $("entry-table")._html = null; renderEntry(); } });
