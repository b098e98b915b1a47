// Commands to the REST API (docs/api.md) from the pages.
//
// Session login: the CSRF token comes from the `shuping_csrf` cookie.
// Every command carries an Idempotency-Key; a retry after a network failure
// sends the same key (and body), so the server applies it once and answers
// with the first outcome.
import { t, esc } from "./i18n.js";

export function uuid4() {
  // crypto.randomUUID needs a secure context; a hall LAN may serve plain http.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)shuping_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || error.code || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "error";
    this.message_zh = error.message || "操作失败";
    this.message_en = error.message_en || this.message_zh;
    this.details = error.details;
  }
}

export class NetworkError extends Error {
  constructor(key) {
    super("network");
    this.code = "network";
    this.key = key;
    this.message_zh = "网络中断，命令未确认。请检查网络后重试（重试不会重复执行）。";
    this.message_en = "Network failure: the command was not confirmed. Retry (it will not be applied twice).";
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const RETRY_STATUS = new Set([502, 503, 504]);

async function errorOf(response) {
  let body = null;
  try { body = await response.json(); } catch (e) { /* not JSON: a proxy's page */ }
  const error = body && body.error ? body.error : { code: `http_${response.status}`, message: `服务器错误（${response.status}）`, message_en: `server error ${response.status}` };
  return new ApiError(response.status, error);
}

// POST /api/<path> with `body`. `key` is the command's Idempotency-Key: pass
// the same one to retry the same command. Network failures and gateway
// errors are retried here `retries` times with the same key.
export async function command(path, body, { key = uuid4(), retries = 3, as = "json" } = {}) {
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch(`/api/${path}`, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: as === "json" ? "application/json" : "text/html, application/json",
          "X-CSRFToken": csrfToken(),
          "Idempotency-Key": key,
        },
        body: JSON.stringify(body ?? {}),
      });
    } catch (e) {
      if (attempt >= retries) throw new NetworkError(key);
      await sleep(Math.min(8000, 500 * 2 ** attempt));
      continue;
    }
    if (RETRY_STATUS.has(response.status) && attempt < retries) {
      await sleep(Math.min(8000, 500 * 2 ** attempt));
      continue;
    }
    if (!response.ok) throw await errorOf(response);
    return as === "json" ? response.json() : response.text();
  }
}

// One POST without retries (the caller decides how to retry; see phone.js).
export async function postOnce(path, body) {
  let response;
  try {
    response = await fetch(`/api/${path}`, {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body ?? {}),
    });
  } catch (e) {
    throw new NetworkError(null);
  }
  if (!response.ok) throw await errorOf(response);
  return { status: response.status, body: await response.json() };
}

// Worth sending again unchanged: the network failed or a gateway did.
export function isRetryable(error) {
  return error instanceof NetworkError || (error instanceof ApiError && RETRY_STATUS.has(error.status));
}

export async function get(path) {
  let response;
  try {
    response = await fetch(`/api/${path}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch (e) {
    throw new NetworkError(null);
  }
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

// Field errors ({"field": ["message"], "ballots": [{"code": [...]}]}) as a short list.
function detailsHtml(details) {
  if (!details || typeof details !== "object") return "";
  const lines = [];
  const walk = (value, path) => {
    if (lines.length >= 6) return;
    if (Array.isArray(value) && value.every((x) => typeof x === "string")) lines.push(`${path}: ${value.join("；")}`);
    else if (Array.isArray(value)) value.forEach((x, i) => walk(x, `${path}[${i + 1}]`));
    else if (value && typeof value === "object") Object.entries(value).forEach(([k, v]) => walk(v, path ? `${path}.${k}` : k));
    else if (value !== undefined && value !== null) lines.push(`${path}: ${value}`);
  };
  walk(details, "");
  return lines.length ? `<ul class="details">${lines.map((l) => `<li>${esc(l)}</li>`).join("")}</ul>` : "";
}

// The error as HTML in both languages (the Chinese message is the one a person acts on).
export function errorHtml(error) {
  if (error && error.message_zh) {
    const code = error.code ? ` <code class="muted">${esc(error.code)}</code>` : "";
    return t(error.message_zh, error.message_en) + code + detailsHtml(error.details);
  }
  return t("操作失败：" + (error && error.message ? error.message : ""), "Failed: " + (error && error.message ? error.message : ""));
}
