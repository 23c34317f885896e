// What the console's views share: the grid as the event stream keeps it, a few element
// helpers, and one way to call the API that turns every failure into one readable message.

export const csrf = document.querySelector('meta[name="csrf-token"]').content;

// Kept by console.js from the event stream; the adapters are read again when servers change.
export const grid = {
  nodes: new Map(),
  servers: new Map(),
  applications: [],
  adapters: [],
};

// How long a request may take before the page gives up on it (a render's load may locate and
// open a stream first).
const REQUEST_TIMEOUT_MS = 25000;

export function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

export function button(text, onClick, action) {
  const b = el("button", text);
  if (action) b.dataset.action = action;
  b.addEventListener("click", onClick);
  return b;
}

// The one message line under the header: errors, or a short confirmation.
export function say(text, ok) {
  const m = document.getElementById("message");
  m.textContent = text || "";
  m.className = ok ? "note" : "error";
  m.hidden = !text;
}

export function ago(ms) {
  if (ms < 1000) return "just now";
  const s = Math.round(ms / 1000);
  return s < 120 ? s + " s ago" : Math.round(s / 60) + " min ago";
}

// 3:05, or 1:02:03.
export function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hms = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60];
  const pad = (n) => String(n).padStart(2, "0");
  return hms[0] ? hms[0] + ":" + pad(hms[1]) + ":" + pad(hms[2]) : hms[1] + ":" + pad(hms[2]);
}

export function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

class CallError extends Error {}

// Calls the API; the answer's JSON, or a CallError whose message is the registry's own words.
// A lost session goes back to the login page.
export async function call(method, path, body) {
  let r;
  try {
    r = await fetch(path, {
      method,
      headers: { "x-csrf-token": csrf, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (e) {
    throw new CallError(e.name === "TimeoutError"
      ? "no answer within " + REQUEST_TIMEOUT_MS / 1000 + " s"
      : "the registry does not answer");
  }
  if (r.status === 401) {
    location.href = "/login?expired=1";
    throw new CallError("the session has expired");
  }
  const text = await r.text();
  if (!r.ok) {
    let message = r.status + " " + r.statusText;
    try { message = JSON.parse(text).error || message; } catch (_) { /* not JSON */ }
    throw new CallError(message);
  }
  return text ? JSON.parse(text) : null;
}

// Runs an action, showing its failure as "what: why"; the action's value, or undefined.
export async function attempt(what, action) {
  try {
    return await action();
  } catch (e) {
    say(what + ": " + e.message);
    return undefined;
  }
}

// The path of `path` on a server's own API (adapter or replica-group id), through the registry.
export function gateway(id, path) {
  return "/v1/gateway/" + encodeURIComponent(id) + path;
}

// The views' hooks: each event after the grid took it in; a view shown.
const eventHooks = [];
const showHooks = new Map();
export function onEvent(fn) { eventHooks.push(fn); }
export function emit(ev) { for (const fn of eventHooks) fn(ev); }
export function onShow(view, fn) { showHooks.set(view, fn); }
export function shown(view) {
  if (ADAPTER_VIEWS.includes(view)) freshAdapters();
  const fn = showHooks.get(view);
  if (fn) fn();
}
export function visible(view) {
  return !document.getElementById("view-" + view).hidden;
}

// Reads the adapters again, at most once per 100 ms however many servers change at once, and
// only while a view that shows them is on screen; the others read them when shown.
const ADAPTER_VIEWS = ["adapters", "channels", "renders", "library"];
let adaptersDue = null;
let adaptersStale = true;
export function refreshAdapters() {
  if (!ADAPTER_VIEWS.some(visible)) {
    adaptersStale = true;
    return Promise.resolve();
  }
  if (adaptersDue) return adaptersDue;
  adaptersDue = new Promise((resolve) => setTimeout(async () => {
    adaptersDue = null;
    try {
      grid.adapters = await call("GET", "/v1/adapters");
      adaptersStale = false;
      emit({ type: "adapters" });
    } catch (_) { /* the stream says when the registry is away */ }
    resolve();
  }, 100));
  return adaptersDue;
}

// For a view just shown: the adapters, read again if they changed while it was hidden.
function freshAdapters() {
  return adaptersStale ? refreshAdapters() : Promise.resolve();
}

// A render is a server whose own adapter is outside any replica group and whose name says so;
// the registry does not know what a server is, the application's naming does.
export function renders() {
  return grid.adapters
    .filter((a) => !a.replica_group && a.id === a.server + ".Adapter" &&
      a.server.toLowerCase().includes("render"))
    .sort((a, b) => a.server.localeCompare(b.server));
}

// The replica group whose members serve the library and the channels.
export const SERVER_GROUP = "MediaServerGroup";

export function mediaServers() {
  return grid.adapters.filter((a) => a.replica_group === SERVER_GROUP)
    .sort((a, b) => a.server.localeCompare(b.server));
}
