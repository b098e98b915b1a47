// The 双评 split of a meeting's results: each voter group's rates per subject
// (党员评议, 村民代表评议 …), why a group was pooled, how the score is
// computed, and which denominator participation uses. The words come from
// the server (meetings.domain.groups) so every page says the same thing;
// this module only lays them out.
import { t, esc } from "./i18n.js";

// Groups are keyed by who is in them: subjects graded by the same categories share a table.
function groupKey(group) {
  return `${group.group_id}:${(group.categories || []).join("+")}`;
}

// One table per group, a row per subject it graded; notes on pooled groups below.
export function splitTables(results) {
  const tables = new Map();
  const notes = new Map();
  let split = false;
  for (const subject of results.subjects || []) {
    const groups = subject.groups || [];
    if (groups.length > 1) split = true;
    for (const group of groups) {
      const key = groupKey(group);
      if (!tables.has(key)) tables.set(key, { group, rows: [] });
      tables.get(key).rows.push({ subject, group });
      if (group.note_zh) {
        split = true;
        notes.set(group.note_zh, group);
      }
    }
  }
  return { split, tables: [...tables.values()], notes: [...notes.values()] };
}

// A table's subjects may be graded on different scales (a body 好…差, a person
// 称职…不称职): its columns name each scale's rate, e.g. 好评率／称职率.
function columnNames(rows, namesOf) {
  const joined = (index, lang) => [...new Set(rows.map(({ subject }) => namesOf(subject)[index][lang]))].join("／");
  return [[joined(0, 0), joined(0, 1)], [joined(1, 0), joined(1, 1)]];
}

function tableHtml({ group, rows }, namesOf) {
  const [fav, unfav] = columnNames(rows, namesOf);
  const body = rows.map(({ subject, group: g }) => `<tr data-subject="${esc(subject.subject_id)}">
      <th scope="row" class="who">${esc(subject.name)}</th>
      <td class="n" data-ballots>${g.ballots}</td>
      <td class="n fav">${esc(g.favourable_percent)}</td>
      <td class="n unfav">${esc(g.unfavourable_percent)}</td></tr>`).join("");
  return `<section class="group-split" data-group="${esc(group.group_id)}" data-categories="${esc((group.categories || []).join(" "))}">
      <h4 class="group-title">${t(group.label_zh, group.label_en)}</h4>
      <table class="group-table"><thead><tr><th>${t("述评对象", "Subject")}</th><th class="n">${t("票数", "Ballots")}</th>
        <th class="n">${t(fav[0], `${fav[1]} rate`)}</th><th class="n">${t(unfav[0], `${unfav[1]} rate`)}</th></tr></thead>
      <tbody>${body}</tbody></table>
    </section>`;
}

// `namesOf(subject)`: [[好评率, favourable], [差评率, poor]] as the subject's scale calls them (results.js rateNames).
export function splitHtml(results, namesOf) {
  if (!results) return "";
  const { split, tables, notes } = splitTables(results);
  if (!split) return "";
  const noteHtml = notes.map((g) => `<p class="merge-note" data-pooled="${esc((g.pooled || []).join(" "))}">${t(g.note_zh, g.note_en)}</p>`).join("");
  return `<div class="split" id="split" data-testid="split">
      <h3 class="split-title">${t("分类评议结果（双评：分别计票）", "Results per voter group (tallied separately)")}</h3>
      <div class="split-tables">${tables.map((table) => tableHtml(table, namesOf)).join("")}</div>
      ${noteHtml}
    </div>`;
}

// 参评率 and what it divides by, next to the figure.
export function participationRuleHtml(rule) {
  if (!rule) return "";
  return `<p class="participation-rule" data-participation-rule>${t(rule.rule_zh, rule.rule_en)}<span class="eligible-rule">（${t(rule.eligible_zh, rule.eligible_en)}）</span></p>`;
}

// The score's formula, where the score is shown: Chinese and English, in a details element.
export function scoreFormulaHtml(formula, { open = false } = {}) {
  if (!formula) return "";
  return `<details class="score-formula" id="score-formula"${open ? " open" : ""}>
      <summary>${t("得分的计算方法", "How the score is computed")}</summary>
      <p lang="zh-Hans">${esc(formula.zh)}</p>
      <p lang="en">${esc(formula.en)}</p>
    </details>`;
}
