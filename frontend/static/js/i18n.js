// Chinese first, English on request. Both languages are in the page at once
// (<span class="zh"> / <span class="en">) and CSS hides one, so switching
// needs no re-render and live updates never come out in the wrong language.
const KEY = "shuping.lang";

export function lang() {
  return document.documentElement.dataset.lang === "en" ? "en" : "zh";
}

export function setLang(value) {
  const en = value === "en";
  if (en) document.documentElement.dataset.lang = "en";
  else delete document.documentElement.dataset.lang;
  document.documentElement.lang = en ? "en" : "zh-Hans";
  try { localStorage.setItem(KEY, en ? "en" : "zh"); } catch (e) { /* private mode: this page only */ }
  applyPlaceholders(document);
  // Pages rebuild what cannot hold both languages (the options of a <select>).
  document.dispatchEvent(new CustomEvent("shuping:lang", { detail: en ? "en" : "zh" }));
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// Both languages as HTML; `en` defaults to the Chinese text (names, numbers).
export function t(zh, en) {
  return `<span class="zh">${esc(zh)}</span><span class="en">${esc(en ?? zh)}</span>`;
}

// One line in the current language (for alert(), confirm() and attributes).
export function pick(zh, en) {
  return lang() === "en" ? (en ?? zh) : zh;
}

// Placeholders and titles cannot hold two spans: data-ph-zh / data-ph-en are swapped in.
export function applyPlaceholders(root) {
  for (const el of root.querySelectorAll("[data-ph-zh]")) {
    el.placeholder = lang() === "en" ? (el.dataset.phEn || el.dataset.phZh) : el.dataset.phZh;
  }
  for (const el of root.querySelectorAll("[data-title-zh]")) {
    el.title = lang() === "en" ? (el.dataset.titleEn || el.dataset.titleZh) : el.dataset.titleZh;
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-lang-toggle]");
  if (button) setLang(lang() === "en" ? "zh" : "en");
});
applyPlaceholders(document);
