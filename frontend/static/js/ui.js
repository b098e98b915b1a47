// Small DOM helpers shared by the desk pages (console, teller, dashboard).
import { applyPlaceholders, t } from "./i18n.js";
import { command, errorHtml, NetworkError, uuid4 } from "./api.js";

// Replace `el`'s HTML from a fresh snapshot without losing what a person is
// typing: values of named fields, focus and caret survive the re-render.
export function renderKeep(el, html) {
  if (el._html === html) return;
  const saved = new Map();
  for (const field of el.querySelectorAll("input[name], textarea[name], select[name]")) {
    const key = `${field.dataset.key || ""}|${field.name}`;
    saved.set(key, field.type === "checkbox" || field.type === "radio" ? field.checked : field.value);
  }
  const active = document.activeElement;
  const focusKey = active && el.contains(active) && active.name ? `${active.dataset.key || ""}|${active.name}` : null;
  const caret = focusKey && typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
  el.innerHTML = html;
  el._html = html;
  for (const field of el.querySelectorAll("input[name], textarea[name], select[name]")) {
    const key = `${field.dataset.key || ""}|${field.name}`;
    if (!saved.has(key)) continue;
    if (field.type === "checkbox" || field.type === "radio") field.checked = saved.get(key);
    else if (field.type !== "hidden") field.value = saved.get(key);
    if (key === focusKey) {
      field.focus();
      if (caret) try { field.setSelectionRange(caret[0], caret[1]); } catch (e) { /* not a text field */ }
    }
  }
  applyPlaceholders(el);
}

// <select> options that keep the current choice when the list is rebuilt.
export function setOptions(select, options) {
  const html = options.map(([value, label]) => `<option value="${value}">${label}</option>`).join("");
  if (select._html === html) return;
  const current = select.value;
  select.innerHTML = html;
  select._html = html;
  if ([...select.options].some((o) => o.value === current)) select.value = current;
}

// The message strip at the top of a page: errors from the API in Chinese
// (English when chosen), and a retry button after a network failure that
// resends the same command with the same Idempotency-Key.
export function messages(el) {
  function show(kind, html, retry) {
    const box = document.createElement("div");
    box.className = `notice ${kind}`;
    box.dataset.kind = kind;
    box.innerHTML = `${html} <button type="button" class="small" data-close>${t("关闭", "Dismiss")}</button>`;
    if (retry) {
      const again = document.createElement("button");
      again.type = "button";
      again.className = "small";
      again.dataset.retry = "";
      again.innerHTML = t("重试", "Retry");
      again.addEventListener("click", () => { box.remove(); retry(); });
      box.insertBefore(again, box.lastElementChild);
    }
    box.querySelector("[data-close]").addEventListener("click", () => box.remove());
    el.prepend(box);
    while (el.children.length > 4) el.lastElementChild.remove();
    if (kind === "info") setTimeout(() => box.remove(), 4000);
    return box;
  }
  return {
    error: (error, retry) => show("error", errorHtml(error), retry),
    info: (html) => show("info", html),
    clear: () => { el.innerHTML = ""; },
  };
}

// Run one command from a button or form: busy while in flight, errors shown,
// a network failure offers a retry with the same key (applied once at most).
export function commander(notes) {
  return async function run(path, body, { busy, ok, as, key } = {}) {
    const commandKey = key || uuid4();
    if (busy) busy.classList.add("busy");
    try {
      const answer = await command(path, body, { key: commandKey, as });
      if (ok) ok(answer);
      return answer;
    } catch (error) {
      const retry = error instanceof NetworkError ? () => run(path, body, { busy, ok, as, key: commandKey }) : null;
      notes.error(error, retry);
      return null;
    } finally {
      if (busy) busy.classList.remove("busy");
    }
  };
}

export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    // No clipboard API on plain http: select and copy the old way.
    if (input) {
      input.focus();
      input.select();
      try { return document.execCommand("copy"); } catch (e2) { return false; }
    }
    return false;
  }
}
