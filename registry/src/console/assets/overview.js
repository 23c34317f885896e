// The overview: the registry, the nodes, counts by state and the recent events.
import { grid, el, ago, clock, bytes, call, onEvent } from "./core.js";

// The registry's facts, and when its uptime was read, so the page can count on from there.
let registry = null;
let readAt = 0;

async function readRegistry() {
  try {
    registry = await call("GET", "/v1/registry");
    readAt = Date.now();
    showRegistry();
  } catch (_) { /* the stream says when the registry is away */ }
}

function showRegistry() {
  if (!registry) return;
  const dl = document.getElementById("registry");
  const up = registry.uptime_s * 1000 + (Date.now() - readAt);
  const rows = [["Version", registry.version], ["Listening on", registry.listen],
    ["Data", registry.data_dir], ["Up for", clock(up)]];
  if (dl.children.length === rows.length * 2) {
    dl.children[7].textContent = clock(up);
    return;
  }
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", k), el("dd", String(v))]));
  dl.lastChild.id = "uptime";
}
// Down nodes' last heartbeats grow older without events.
setInterval(() => {
  showRegistry();
  if ([...grid.nodes.values()].some((n) => !n.up)) renderNodes();
}, 1000);

function renderCounts() {
  const by = {};
  for (const s of grid.servers.values()) by[s.runtime.state] = (by[s.runtime.state] || 0) + 1;
  const up = [...grid.nodes.values()].filter((n) => n.up).length;
  const parts = Object.keys(by).sort().map((k) => by[k] + " " + k);
  document.getElementById("counts").textContent =
    grid.applications.length + " applications, " + grid.nodes.size + " nodes (" + up + " up), " +
    grid.servers.size + " servers" + (parts.length ? ": " + parts.join(", ") : "");
}

function renderNodes() {
  const body = document.querySelector("#nodes tbody");
  body.replaceChildren(...[...grid.nodes.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((n) => {
      const tr = el("tr");
      tr.id = "node-" + n.name;
      const mem = n.load.memory_total
        ? bytes(n.load.memory_used) + " of " + bytes(n.load.memory_total) : "-";
      tr.append(el("td", n.name), el("td", n.up ? "up" : "down", n.up ? "up" : "down"),
        el("td", n.host.hostname), el("td", n.host.os + " " + n.host.kernel),
        el("td", String(n.host.cpus)), el("td", n.load.load1.toFixed(2)), el("td", mem),
        el("td", n.up ? "within the timeout" : ago(Date.now() - n.seenAt)));
      return tr;
    }));
}

function note(text) {
  const list = document.getElementById("events");
  list.prepend(el("li", new Date().toLocaleTimeString() + " " + text));
  while (list.children.length > 50) list.lastChild.remove();
}

// One line for what a server said about itself (a render's track, a failover).
function serverNote(ev) {
  const p = ev.payload || {};
  switch (p.event) {
    case "failover":
      return ev.server + " failover " + (p.from ? p.from.id : "none") + " → " + (p.to ? p.to.id : "?") +
        " (gap " + p.gap_ms + " ms)";
    case "loaded":
      return ev.server + " loaded " + p.title + " by " + p.artist;
    case "title":
      return ev.server + " now on " + p.channel + ": " + p.title;
    default:
      return ev.server + " " + (p.event || "event");
  }
}

onEvent((ev) => {
  switch (ev.type) {
    case "snapshot":
      for (const n of grid.nodes.values()) n.seenAt = Date.now() - n.last_seen_ms_ago;
      renderNodes();
      renderCounts();
      readRegistry();
      break;
    case "server-state":
      renderCounts();
      note(ev.server + " " + ev.runtime.state + (ev.runtime.pid ? " (pid " + ev.runtime.pid + ")" : ""));
      break;
    case "node-up":
    case "node-down": {
      const n = grid.nodes.get(ev.node);
      // Down means it missed its heartbeats: the last one came about a timeout ago.
      if (n && ev.type === "node-up") n.seenAt = Date.now();
      renderNodes();
      renderCounts();
      note(ev.node + (ev.type === "node-up" ? " up" : " down"));
      break;
    }
    case "server-flags":
      note(ev.server + (!ev.enabled ? " disabled" : ev.stopped ? " held stopped" : " free to run"));
      break;
    case "server":
      note(serverNote(ev));
      break;
    case "reconnected":
      note("reconnected to the registry: a fresh snapshot");
      break;
    case "adapters":
      break;
    default:
      note(ev.type + " " + (ev.name || ev.server || ""));
  }
});
