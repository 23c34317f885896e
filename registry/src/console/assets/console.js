// The console page: the grid's state from the registry's event stream (a snapshot, then
// deltas), and server actions sent with the session's CSRF token. No polling.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const state = { nodes: new Map(), servers: new Map(), applications: [] };
let everConnected = false;
// Set while the page itself re-subscribes (for a fresh snapshot), so it does not report a loss.
let quiet = false;

const el = (tag, text, cls) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
};

function say(text) {
  const m = document.getElementById("message");
  m.textContent = text;
  m.hidden = !text;
}

function live(text, cls) {
  const l = document.getElementById("live");
  l.textContent = text;
  l.className = "live " + cls;
}

function ago(ms) {
  if (ms < 1000) return "just now";
  const s = Math.round(ms / 1000);
  return s < 120 ? s + " s ago" : Math.round(s / 60) + " min ago";
}

async function registryInfo() {
  try {
    const r = await fetch("/v1/registry");
    if (!r.ok) return;
    const info = await r.json();
    const dl = document.getElementById("registry");
    dl.replaceChildren();
    for (const [k, v] of [["Version", info.version], ["Listening on", info.listen],
      ["Data", info.data_dir], ["Up for", info.uptime_s + " s"]]) {
      dl.append(el("dt", k), el("dd", String(v)));
    }
  } catch (_) { /* the stream's error handler says the registry is away */ }
}

function renderCounts() {
  const by = {};
  for (const s of state.servers.values()) by[s.runtime.state] = (by[s.runtime.state] || 0) + 1;
  const up = [...state.nodes.values()].filter((n) => n.up).length;
  const parts = Object.keys(by).sort().map((k) => by[k] + " " + k);
  document.getElementById("counts").textContent =
    state.applications.length + " applications, " + state.nodes.size + " nodes (" + up + " up), " +
    state.servers.size + " servers" + (parts.length ? ": " + parts.join(", ") : "");
}

function renderNodes() {
  const body = document.querySelector("#nodes tbody");
  body.replaceChildren();
  for (const n of [...state.nodes.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const tr = el("tr");
    tr.id = "node-" + n.name;
    tr.append(el("td", n.name), el("td", n.up ? "up" : "down", n.up ? "up" : "down"),
      el("td", n.host.hostname), el("td", n.host.os + " " + n.host.kernel),
      el("td", String(n.host.cpus)), el("td", n.load.load1.toFixed(2)),
      el("td", ago(n.last_seen_ms_ago)));
    body.append(tr);
  }
}

function actionButton(id, action) {
  const b = el("button", action);
  b.dataset.action = action;
  b.addEventListener("click", () => act(id, action));
  return b;
}

function serverRow(s) {
  const tr = el("tr");
  tr.id = "server-" + s.id;
  const st = s.runtime.state + (s.node_up ? "" : " (node down)");
  const state = el("td", st, "state " + s.runtime.state);
  state.dataset.field = "state";
  const pid = el("td", s.runtime.pid == null ? "-" : String(s.runtime.pid));
  pid.dataset.field = "pid";
  const actions = el("td");
  for (const a of ["start", "stop", "restart"]) actions.append(actionButton(s.id, a));
  tr.append(el("td", s.id), el("td", s.application), el("td", s.node), state, pid,
    el("td", String(s.runtime.restart_count)), el("td", s.runtime.last_exit || "-"),
    el("td", s.activation), actions);
  return tr;
}

function renderServers() {
  const body = document.querySelector("#servers tbody");
  body.replaceChildren(...[...state.servers.values()]
    .sort((a, b) => a.id.localeCompare(b.id)).map(serverRow));
  renderCounts();
}

function note(text) {
  const list = document.getElementById("events");
  const li = el("li", new Date().toLocaleTimeString() + " " + text);
  list.prepend(li);
  while (list.children.length > 50) list.lastChild.remove();
}

function apply(ev) {
  switch (ev.type) {
    case "snapshot":
      state.applications = ev.applications;
      state.nodes = new Map(ev.nodes.map((n) => [n.name, n]));
      state.servers = new Map(ev.servers.map((s) => [s.id, s]));
      renderNodes();
      renderServers();
      break;
    case "server-state": {
      const s = state.servers.get(ev.server);
      if (s) {
        s.runtime = ev.runtime;
        const row = document.getElementById("server-" + ev.server);
        if (row) row.replaceWith(serverRow(s));
        renderCounts();
      }
      note(ev.server + " " + ev.runtime.state + (ev.runtime.pid ? " (pid " + ev.runtime.pid + ")" : ""));
      break;
    }
    case "node-up":
    case "node-down": {
      const n = state.nodes.get(ev.node);
      if (n) n.up = ev.type === "node-up";
      for (const s of state.servers.values()) if (s.node === ev.node) s.node_up = ev.type === "node-up";
      renderNodes();
      renderServers();
      note(ev.node + (ev.type === "node-up" ? " up" : " down"));
      break;
    }
    default:
      // Application changes bring new servers: a fresh snapshot is the simplest truth.
      note(ev.type + " " + (ev.name || ev.server || ""));
      if (ev.type.startsWith("application-")) {
        quiet = true;
        reconnect();
      }
  }
}

let source = null;
function connect() {
  source = new EventSource("/v1/events");
  source.onopen = () => {
    live("live", "on");
    if (everConnected && !quiet) note("reconnected to the registry: a fresh snapshot");
    everConnected = true;
    quiet = false;
    say("");
    registryInfo();
  };
  source.onerror = () => {
    live("registry unreachable, reconnecting…", "off");
    // The browser retries a dropped stream by itself, but gives up on an error answer.
    if (source.readyState === EventSource.CLOSED) setTimeout(reconnect, 1000);
  };
  source.onmessage = (m) => apply(JSON.parse(m.data));
  for (const t of ["snapshot", "server-state", "node-up", "node-down", "application-added",
    "application-updated", "application-removed", "server"]) {
    source.addEventListener(t, (m) => apply(JSON.parse(m.data)));
  }
}

function reconnect() {
  if (source) source.close();
  connect();
}

async function act(id, action) {
  say("");
  let r;
  try {
    r = await fetch("/v1/servers/" + encodeURIComponent(id) + "/" + action, {
      method: "POST",
      headers: { "x-csrf-token": csrf, "content-type": "application/json" },
      body: "{}",
    });
  } catch (_) {
    say(action + " " + id + ": the registry does not answer");
    return;
  }
  if (r.status === 401) {
    location.href = "/login?expired=1";
    return;
  }
  if (!r.ok) {
    let text = r.status + " " + r.statusText;
    try { text = (await r.json()).error || text; } catch (_) { /* not JSON */ }
    say(action + " " + id + ": " + text);
  }
}

connect();
