// The servers: a table kept live from the event stream, filtered and sorted on the page, with
// the registry's server actions and a log tail; and the adapters and replica groups.
import {
  grid, el, button, say, call, attempt, onEvent, onShow, visible,
} from "./core.js";

const SIGNALS = ["SIGHUP", "SIGINT", "SIGTERM", "SIGKILL", "SIGUSR1", "SIGUSR2"];

// Sort key → the value a row sorts by.
const KEYS = {
  id: (s) => s.id,
  application: (s) => s.application,
  node: (s) => s.node,
  state: (s) => s.runtime.state,
  pid: (s) => s.runtime.pid || 0,
  // The longest running first when ascending.
  uptime: (s) => s.runtime.started_ms || Number.MAX_SAFE_INTEGER,
  restarts: (s) => s.runtime.restart_count,
  activation: (s) => s.activation,
};
let sortKey = "id";
let ascending = true;

function compare(a, b) {
  const ka = KEYS[sortKey](a);
  const kb = KEYS[sortKey](b);
  const c = typeof ka === "number" ? ka - kb : String(ka).localeCompare(String(kb));
  return (ascending ? c : -c) || a.id.localeCompare(b.id);
}

function matches(s, words) {
  const text = (s.id + " " + s.application + " " + s.node + " " + s.runtime.state).toLowerCase();
  return words.every((w) => text.includes(w));
}

function filterWords() {
  return document.getElementById("server-filter").value.toLowerCase().split(/\s+/).filter(Boolean);
}

async function act(id, action, body) {
  say("");
  const done = await attempt(action + " " + id, () =>
    call("POST", "/v1/servers/" + encodeURIComponent(id) + "/" + action, body || {}));
  if (done) say(id + ": " + action + " done", true);
}

function cell(text, field, cls) {
  const c = el("span", text, cls);
  c.dataset.field = field;
  c.setAttribute("role", "cell");
  return c;
}

// A select per row would weigh on a page of a thousand servers: it appears when asked for.
function signalControl(id) {
  const span = el("span", undefined, "signal");
  span.append(button("signal…", () => {
    const pick = el("select");
    pick.dataset.action = "signal-name";
    for (const s of SIGNALS) pick.append(el("option", s));
    span.replaceChildren(pick, button("send", () => act(id, "signal", { signal: pick.value }), "signal"));
    pick.focus();
  }, "signal-pick"));
  return span;
}

function serverRow(s, words) {
  // A grid row, not a table row: the browser can skip the layout of rows off screen.
  const tr = el("div", undefined, "row");
  tr.setAttribute("role", "row");
  tr.id = "server-" + s.id;
  tr.dataset.id = s.id;
  const r = s.runtime;
  const state = r.state + (s.node_up ? "" : " (node down)") + (s.enabled ? "" : " (disabled)");
  const actions = cell(undefined, "actions", "actions");
  for (const a of ["start", "stop", "restart"]) actions.append(button(a, () => act(s.id, a), a));
  const toggle = s.enabled ? "disable" : "enable";
  actions.append(button(toggle, () => act(s.id, toggle), toggle), signalControl(s.id),
    button("log", () => openLog(s.id), "log"));
  const exit = r.failure ? r.failure : r.last_exit || "-";
  tr.append(cell(s.id, "id"), cell(s.application, "application"), cell(s.node, "node"),
    cell(state, "state", "state " + r.state), cell(r.pid == null ? "-" : String(r.pid), "pid"),
    cell(uptime(s), "uptime"),
    cell(String(r.restart_count), "restarts"), cell(exit, "exit"),
    cell(s.activation, "activation"), actions);
  tr.hidden = !matches(s, words);
  return tr;
}

function showCount() {
  const rows = document.querySelectorAll("#servers .body .row");
  const shown = [...rows].filter((r) => !r.hidden).length;
  document.getElementById("server-shown").textContent =
    shown === rows.length ? rows.length + " servers" : shown + " of " + rows.length + " servers";
}

function renderServers() {
  const words = filterWords();
  document.querySelector("#servers .body").replaceChildren(
    ...[...grid.servers.values()].sort(compare).map((s) => serverRow(s, words)));
  for (const th of document.querySelectorAll("#servers [data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === sortKey);
    th.classList.toggle("descending", th.dataset.sort === sortKey && !ascending);
  }
  showCount();
}

function applyFilter() {
  const words = filterWords();
  for (const s of grid.servers.values()) {
    const row = document.getElementById("server-" + s.id);
    if (row) row.hidden = !matches(s, words);
  }
  showCount();
}

// How long a server has run, as precise as is worth reading: seconds in its first minute,
// minutes after, so most rows' text changes once a minute, not every second.
function uptime(s) {
  const started = s.runtime.state === "active" ? s.runtime.started_ms : null;
  if (!started) return "-";
  const secs = Math.max(0, Math.floor((Date.now() - started) / 1000));
  if (secs < 60) return secs + " s";
  const mins = Math.floor(secs / 60);
  if (mins < 60) return mins + " min";
  const hours = Math.floor(mins / 60);
  return hours < 48 ? hours + " h " + (mins % 60) + " min" : Math.floor(hours / 24) + " d " + (hours % 24) + " h";
}

// Only the uptimes move between events; a cell is written only when its text changes, since a
// write costs a layout of the table.
function tick() {
  if (!visible("servers")) return;
  for (const row of document.querySelectorAll("#servers .body .row")) {
    const s = grid.servers.get(row.dataset.id);
    const cell = row.children[5];
    if (!s || !cell) continue;
    const text = uptime(s);
    if (cell.textContent !== text) cell.textContent = text;
  }
}
setInterval(tick, 1000);

// The log tail: the last lines, then what is written after them, read once a second while the
// panel is open (a file has no event stream).
const log = { id: null, offset: 0, timer: null, busy: false };
const LOG_KEEP = 200000;
const MAX_READ = 1024 * 1024;

function openLog(id) {
  closeLog();
  log.id = id;
  log.offset = null;
  document.getElementById("log").hidden = false;
  document.getElementById("log-title").textContent = "Log of " + id;
  document.getElementById("log-text").textContent = "";
  readLog();
  log.timer = setInterval(readLog, 1000);
}

function closeLog() {
  if (log.timer) clearInterval(log.timer);
  log.timer = null;
  log.id = null;
  document.getElementById("log").hidden = true;
}

async function readLog() {
  if (log.busy || !log.id) return;
  log.busy = true;
  const id = log.id;
  const stderr = document.getElementById("log-stderr").checked;
  const query = log.offset === null ? "tail=200" : "offset=" + log.offset;
  const status = document.getElementById("log-state");
  try {
    const r = await call("GET", "/v1/servers/" + encodeURIComponent(id) + "/log?" + query +
      "&stderr=" + stderr);
    if (log.id !== id) return;
    const pre = document.getElementById("log-text");
    // A file smaller than where we were was rotated: the node read it from the start.
    if (log.offset !== null && r.size < log.offset) pre.textContent = "";
    const start = log.offset === null || r.size < log.offset ? r.size - r.text.length : log.offset;
    log.offset = Math.min(r.size, Math.max(0, start) + MAX_READ);
    if (r.text) {
      const follow = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = (pre.textContent + r.text).slice(-LOG_KEEP);
      if (follow) pre.scrollTop = pre.scrollHeight;
    }
    status.textContent = "following " + r.path;
  } catch (e) {
    status.textContent = "cannot read the log: " + e.message;
  } finally {
    log.busy = false;
  }
}

document.getElementById("log-close").addEventListener("click", closeLog);
document.getElementById("log-stderr").addEventListener("change", () => {
  if (log.id) openLog(log.id);
});
document.getElementById("server-filter").addEventListener("input", applyFilter);
for (const th of document.querySelectorAll("#servers [data-sort]")) {
  th.addEventListener("click", () => {
    if (sortKey === th.dataset.sort) ascending = !ascending;
    else { sortKey = th.dataset.sort; ascending = true; }
    renderServers();
  });
}

// The adapters and replica groups: the live endpoints from the registry, the policies from
// the applications' descriptors.
const groups = new Map();

async function readGroups() {
  groups.clear();
  for (const app of grid.applications) {
    try {
      const d = await call("GET", "/v1/applications/" + encodeURIComponent(app.name));
      for (const [id, g] of Object.entries(d.replica_groups || {})) groups.set(id, { app: app.name, ...g });
    } catch (_) { /* removed meanwhile: the next snapshot says */ }
  }
  renderAdapters();
}

function td(text, field, cls) {
  const c = el("td", text, cls);
  c.dataset.field = field;
  return c;
}

function renderAdapters() {
  const live = (a) => a.endpoint || "-";
  document.querySelector("#adapters tbody").replaceChildren(...grid.adapters.map((a) => {
    const tr = el("tr");
    tr.id = "adapter-" + a.id;
    tr.append(el("td", a.id), el("td", a.server), el("td", a.node), el("td", a.replica_group || "-"),
      td(live(a), "endpoint", a.endpoint ? "up" : "down"));
    return tr;
  }));
  document.querySelector("#groups tbody").replaceChildren(...[...groups.entries()].sort()
    .map(([id, g]) => {
      const members = grid.adapters.filter((a) => a.replica_group === id);
      const up = members.filter((a) => a.endpoint).map((a) => a.endpoint);
      const tr = el("tr");
      tr.id = "group-" + id;
      tr.append(el("td", id), el("td", g.app), el("td", g["load-balancing"] || "round-robin"),
        el("td", members.length + (g["n-replicas"] ? " (answers " + g["n-replicas"] + ")" : "")),
        td(up.length ? up.join(" ") : "none live", "endpoints", up.length ? "up" : "down"));
      return tr;
    }));
}

onEvent((ev) => {
  switch (ev.type) {
    case "snapshot":
      renderServers();
      readGroups();
      break;
    case "server-state":
    case "server-flags": {
      const s = grid.servers.get(ev.server);
      const row = document.getElementById("server-" + ev.server);
      if (s && row) row.replaceWith(serverRow(s, filterWords()));
      break;
    }
    case "node-up":
    case "node-down":
      renderServers();
      break;
    case "adapters":
      renderAdapters();
      break;
    default:
      break;
  }
});
onShow("servers", tick);
