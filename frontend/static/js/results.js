// Shared pieces of the hall's pages: names of categories and phases, the
// results as plain HTML/CSS bars (no chart library), the log fingerprint.
import { t, esc } from "./i18n.js";

export const CATEGORY_NAMES = {
  party_member: ["党员", "Party members"],
  representative: ["村民代表", "Village representatives"],
  guest: ["列席人员", "Guests"],
  village_secretary: ["村党组织书记", "Village Party secretaries"],
  township_member: ["乡镇党委班子成员", "Township committee members"],
  resident: ["群众", "Residents"],
  other: ["其他", "Other"],
};

export function category(id) {
  const [zh, en] = CATEGORY_NAMES[id] || [id, id];
  return t(zh, en);
}

export const PHASE_EN = {
  new: "not scheduled", scheduled: "scheduled", announced: "announced", opened: "in session",
  ballot_open: "voting", ballot_closed: "voting closed", results_announced: "results announced", closed: "closed",
};

export function phase(state) {
  return t(state.phase_zh || state.phase, state.phase_en || PHASE_EN[state.phase] || state.phase);
}

// The names a scale's rates go by in the seeds (好评率, 称职率, 满意率 …).
const RATE_NAMES = {
  hao_jiaohao_yiban_cha: [["好评率", "favourable"], ["差评率", "poor"]],
  chenzhi: [["称职率", "competent"], ["不称职率", "incompetent"]],
  manyi: [["满意率", "satisfied"], ["不满意率", "dissatisfied"]],
};

export function rateNames(scale) {
  return RATE_NAMES[scale && scale.id] || [["好评率", "favourable"], ["差评率", "unfavourable"]];
}

// The scale a subject is graded on: bodies and persons may have their own (seed 000).
// `holder.scales` maps subject kind -> scale; results name a subject's scale by scale_id.
export function scaleOf(subject, holder) {
  const scales = (holder && holder.scales) || {};
  const all = Object.values(scales);
  return all.find((s) => s.id === subject.scale_id) || scales[subject.kind] || scales.person || all[0] || null;
}

// Marks per grade over all criteria (the rates pool all criteria, tally.py).
export function gradeTotals(subject, scale) {
  const totals = {};
  for (const grade of scale.grades) totals[grade.id] = 0;
  for (const perGrade of Object.values(subject.counts || {})) {
    for (const [grade, count] of Object.entries(perGrade)) totals[grade] = (totals[grade] || 0) + Number(count);
  }
  return totals;
}

export function renderResults(results, { scales, criteria }) {
  if (!results || !scales) return "";
  const unit = (criteria || []).length > 1 ? t("次", "marks") : t("票", "votes");
  const scores = {};
  for (const s of (results.announced && results.announced.subjects) || []) scores[s.subject_id] = s.score;
  const subjects = results.subjects.map((subject) => {
    const scale = scaleOf(subject, { scales });
    const [fav, unfav] = rateNames(scale);
    const totals = gradeTotals(subject, scale);
    const all = Object.values(totals).reduce((a, b) => a + b, 0);
    const bars = scale.grades.map((grade) => {
      const count = totals[grade.id] || 0;
      const width = all ? (100 * count) / all : 0;
      const percent = (subject.grade_percent || {})[grade.id] || "—";
      const tone = grade.favourable ? "good" : grade.unfavourable ? "bad" : "mid";
      return `<div class="bar-row ${tone}" data-grade="${esc(grade.id)}" data-count="${count}">
        <span class="label">${t(grade.name_zh, grade.name_en)}</span>
        <span class="bar"><i data-width="${width.toFixed(2)}"></i></span>
        <span class="num"><b class="count">${count}</b> ${unit} <span class="pct">${esc(percent)}</span></span>
      </div>`;
    }).join("");
    const score = scores[subject.subject_id];
    return `<article class="subject-result${subject.flagged ? " flagged" : ""}" data-subject="${esc(subject.subject_id)}" data-scale="${esc(scale.id)}" data-ballots="${subject.ballots}">
      <h3>${esc(subject.name)}${subject.flagged ? ` <span class="flag">${t("⚠ 须诫勉谈话", "⚠ admonishment interview")}</span>` : ""}</h3>
      <div class="rates">
        <span>${t(fav[0], fav[1] + " rate")} <b class="fav">${esc(subject.favourable_percent)}</b></span>
        <span>${t(unfav[0], unfav[1] + " rate")} <b class="unfav">${esc(subject.unfavourable_percent)}</b></span>
        <span>${t("有效票", "ballots")} <b class="ballots">${subject.ballots}</b></span>
        ${score ? `<span>${t("得分", "score")} <b>${esc(score)}</b></span>` : ""}
      </div>
      <div class="bars">${bars}</div>
    </article>`;
  }).join("");
  const flagged = results.flagged_subjects && results.flagged_subjects.length
    ? `<p class="flag-note">${t("标出的对象差评率（不称职率、不满意率）达到规定比例，须进行诫勉谈话并限期整改。", "Marked subjects reached the unfavourable-rate threshold: admonishment interview and a rectification deadline.")}</p>`
    : "";
  return `<div class="results-head">
      ${t("收回选票", "Ballots counted")} <b data-total="ballots">${results.ballots_counted}</b>
      （${t("手机", "phone")} ${results.phone_ballots} · ${t("纸质", "paper")} ${results.paper_ballots}）
      · ${t("应参评", "eligible")} ${results.eligible} · ${t("参评率", "participation")} <b>${esc(results.participation_percent)}</b>
    </div>
    <div class="subject-results">${subjects}</div>${flagged}`;
}

// The pages' Content-Security-Policy refuses style attributes in markup, so a
// bar's width is set through the CSSOM (which the policy allows) once the
// results' HTML is in the page: call this on the element that holds it.
export function sizeBars(root) {
  for (const bar of root.querySelectorAll(".bar i[data-width]")) bar.style.width = `${bar.dataset.width}%`;
}

export function fingerprint(hash) {
  if (!hash) return "";
  return `<span class="fingerprint" title="${esc(hash)}">${t("日志指纹", "Log fingerprint")}: <code data-head-hash>${esc(hash)}</code></span>`;
}

// A yes/no mark that reads without colour.
export function tick(ok) {
  return ok ? `<span class="ok">✓</span>` : `<span class="no">✗</span>`;
}
