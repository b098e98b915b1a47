// The client side of the live protocol (docs/live.md, "Rules a client keeps").
//
// - Every (re)connect brings a snapshot: it replaces the whole state.
// - A turnout whose version is not the last snapshot's means a change was
//   missed: ask for a resync.
// - Ping every 15 s; no pong within 10 s: drop the socket and reconnect with
//   backoff 1, 2, 4 … 15 s plus jitter. A banner says so meanwhile.
// - Close code 4403/4404 (bad token, unknown meeting): show why, stop.
// - Counts never go backwards during voting.
// - Timers count from the server's clock (`server_now`): keep the offset.
//
// The state is on window.shupingLive so that tests (and a curious host) can read it.
import { t } from "./i18n.js";

const PING_MS = 15000;
const PONG_MS = 10000;
const CONNECT_MS = 10000; // a handshake into a dead network can hang far longer
const MAX_BACKOFF_S = 15;
const FATAL_CLOSE = new Set([4403, 4404]);
const KEEP_MESSAGES = 200;

// Python's isoformat() gives microseconds; not every engine parses more than milliseconds.
export function parseTime(iso) {
  if (!iso) return NaN;
  return Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1"));
}

export function backoffSeconds(attempt) {
  const base = Math.min(MAX_BACKOFF_S, 2 ** attempt);
  // Jitter spreads a hall's screens and phones so they do not all come back at once.
  return base + Math.random() * Math.min(1, base / 2);
}

function banner(state) {
  const el = document.getElementById("live-banner");
  if (!el) return;
  if (state.fatal) {
    el.className = "live-banner fatal";
    el.innerHTML = t(state.fatal.message || "连接被拒绝", state.fatal.message_en || "connection refused");
    el.hidden = false;
  } else if (!state.connected && state.everConnected) {
    el.className = "live-banner";
    el.innerHTML = t("网络中断，正在重连…", "Reconnecting…");
    el.hidden = false;
  } else if (!state.connected) {
    el.className = "live-banner quiet";
    el.innerHTML = t("正在连接…", "Connecting…");
    el.hidden = false;
  } else {
    el.hidden = true;
  }
}

// path: "/ws/m/<meeting>/screen/"; token: the page's signed token; onState(state) renders.
// The timings default to docs/live.md's; tests shorten them.
export function connectLive({ path, token, onState, pingMs = PING_MS, pongMs = PONG_MS, connectMs = CONNECT_MS }) {
  const live = {
    connected: false,
    everConnected: false,
    version: null,
    lastSnapshot: null,
    state: null,
    messages: [],
    received: 0,
    reconnects: 0,
    resyncs: 0,
    fatal: null,
    lastError: null,
    offsetMs: 0,
    serverNow: () => Date.now() + live.offsetMs,
    resync: () => send({ type: "resync" }),
  };
  window.shupingLive = live;

  let ws = null;
  let attempt = 0;
  let pingTimer = null;
  let pongTimer = null;
  let retryTimer = null;
  let connectTimer = null;
  let maxCast = 0;

  const url = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${path}?t=${encodeURIComponent(token || "")}`;
  };

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function remember(message) {
    live.received += 1;
    const note = { type: message.type, version: message.version, at: Date.now() };
    if (message.type === "snapshot") note.phase = message.phase;
    if (message.type === "error") note.code = message.code;
    // The count the page shows after this message (what "never backwards" is about).
    if ((message.type === "snapshot" || message.type === "turnout") && live.state && live.state.turnout) {
      note.cast = live.state.turnout.cast;
    }
    live.messages.push(note);
    if (live.messages.length > KEEP_MESSAGES) live.messages.splice(0, live.messages.length - KEEP_MESSAGES);
  }

  function render() {
    banner(live);
    if (onState && live.state) onState(live.state, live);
  }

  // Counts move forward only while voting: a snapshot read just before a
  // ballot committed must not take the screen back below what it showed.
  function forwardOnly(turnout, phase) {
    if (!turnout) return;
    if (phase === "ballot_open") {
      maxCast = Math.max(maxCast, Number(turnout.cast) || 0);
      turnout.cast = maxCast;
    } else {
      maxCast = 0;
    }
  }

  function onSnapshot(message) {
    const serverNow = parseTime(message.server_now);
    if (!Number.isNaN(serverNow)) live.offsetMs = serverNow - Date.now();
    forwardOnly(message.turnout, message.phase);
    live.lastSnapshot = message;
    live.state = message;
    live.version = message.version;
    live.connected = true;
    live.everConnected = true;
    attempt = 0;
    render();
  }

  function onTurnout(message) {
    const state = live.state;
    if (!state || message.version !== live.version) {
      live.resyncs += 1;
      send({ type: "resync" });
    }
    if (!state) return;
    const turnout = (state.turnout = state.turnout || {});
    if (state.phase === "ballot_open") {
      turnout.cast = Math.max(Number(turnout.cast) || 0, Number(message.cast) || 0);
      forwardOnly(turnout, state.phase);
    }
    if (message.eligible) turnout.eligible = message.eligible;
    if (message.paper !== undefined) turnout.paper = message.paper;
    render();
  }

  function handle(message) {
    switch (message.type) {
      case "snapshot": onSnapshot(message); break;
      case "turnout": onTurnout(message); break;
      case "pong": clearTimeout(pongTimer); pongTimer = null; break;
      case "error": live.lastError = message; break;
      default: break;
    }
    remember(message);
  }

  function stopTimers() {
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    clearTimeout(connectTimer);
    pingTimer = pongTimer = connectTimer = null;
  }

  function ping() {
    send({ type: "ping" });
    if (pongTimer === null) {
      pongTimer = setTimeout(() => {
        pongTimer = null;
        drop(null, "no pong");
      }, pongMs);
    }
  }

  // The socket is gone (closed, or silent past the pong deadline): forget it
  // at once and schedule a new one. A dead socket's close can take minutes.
  function drop(code, reason) {
    const old = ws;
    ws = null;
    stopTimers();
    if (old) {
      old.onopen = old.onmessage = old.onclose = old.onerror = null;
      try { old.close(); } catch (e) { /* already closed */ }
    }
    live.connected = false;
    live.lastClose = { code, reason, at: Date.now() };
    if (code !== null && FATAL_CLOSE.has(code)) {
      live.fatal = live.lastError || { code: String(code), message: "连接被拒绝", message_en: "connection refused" };
      render();
      banner(live);
      return;
    }
    banner(live);
    if (retryTimer === null) {
      const delay = backoffSeconds(attempt);
      attempt += 1;
      live.nextRetryInS = delay;
      retryTimer = setTimeout(() => { retryTimer = null; live.reconnects += 1; open(); }, delay * 1000);
    }
  }

  function open() {
    if (live.fatal) return;
    const sock = new WebSocket(url());
    ws = sock;
    connectTimer = setTimeout(() => { connectTimer = null; if (sock === ws) drop(null, "connect timeout"); }, connectMs);
    sock.onopen = () => {
      if (sock !== ws) return;
      clearTimeout(connectTimer);
      connectTimer = null;
      pingTimer = setInterval(ping, pingMs);
    };
    sock.onmessage = (event) => {
      if (sock !== ws) return;
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message);
    };
    sock.onclose = (event) => {
      if (sock !== ws) return;
      drop(event.code, event.reason || "closed");
    };
    sock.onerror = () => { /* a close event follows */ };
  }

  // The device says it lost the network: the socket cannot carry anything
  // now, and waiting for the pong deadline would leave a stale count up.
  window.addEventListener("offline", () => {
    if (ws) drop(null, "offline");
  });

  // The device says the network is back: do not wait out the backoff.
  window.addEventListener("online", () => {
    if (!live.connected && !live.fatal && retryTimer !== null) {
      clearTimeout(retryTimer);
      retryTimer = null;
      attempt = 0;
      live.reconnects += 1;
      open();
    }
  });

  banner(live);
  open();
  return live;
}

// mm:ss of a whole number of seconds (minutes may pass 59: a 75-minute overtime reads 75:00).
export function mmss(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

// The running report's clock: seconds left (negative when over time), from the server's clock.
export function reportClock(report, live) {
  if (!report) return null;
  const started = parseTime(report.started_at);
  const elapsed = (live.serverNow() - started) / 1000;
  const limit = Number(report.limit_seconds) || 0;
  const left = limit - elapsed;
  return {
    elapsed,
    limit,
    overtime: limit > 0 && left < 0,
    // Count down whole seconds the way a kitchen timer does: 08:00, 07:59, …
    text: limit > 0 ? (left >= 0 ? mmss(Math.ceil(left)) : `+${mmss(-left)}`) : mmss(elapsed),
    left,
  };
}
