// The console page: the grid's state from the registry's event stream (a snapshot, then
// deltas) handed to the views, and the tabs that show one view at a time. No polling.
import { grid, emit, shown, refreshAdapters, say } from "./core.js";
import "./overview.js";
import "./servers.js";
import "./applications.js";
import "./listener.js";

const VIEWS = ["overview", "applications", "servers", "adapters", "channels", "renders", "library"];

function showView() {
  const want = location.hash.slice(1);
  const view = VIEWS.includes(want) ? want : "overview";
  for (const v of VIEWS) {
    document.getElementById("view-" + v).hidden = v !== view;
    document.getElementById("tab-" + v).classList.toggle("current", v === view);
  }
  shown(view);
}

function live(text, cls) {
  const l = document.getElementById("live");
  l.textContent = text;
  l.className = "live " + cls;
}

// Takes an event into the grid's state, then lets every view see it.
function apply(ev) {
  switch (ev.type) {
    case "snapshot":
      grid.applications = ev.applications;
      grid.nodes = new Map(ev.nodes.map((n) => [n.name, n]));
      grid.servers = new Map(ev.servers.map((s) => [s.id, s]));
      refreshAdapters();
      break;
    case "server-state": {
      const s = grid.servers.get(ev.server);
      if (s) s.runtime = ev.runtime;
      refreshAdapters();
      break;
    }
    case "server-flags": {
      const s = grid.servers.get(ev.server);
      if (s) { s.enabled = ev.enabled; s.stopped = ev.stopped; }
      break;
    }
    case "node-up":
    case "node-down": {
      const up = ev.type === "node-up";
      const n = grid.nodes.get(ev.node);
      if (n) n.up = up;
      for (const s of grid.servers.values()) if (s.node === ev.node) s.node_up = up;
      refreshAdapters();
      break;
    }
    default:
      break;
  }
  emit(ev);
  // For a benchmark (and a curious operator): when the first snapshot was on the page.
  if (ev.type === "snapshot" && !performance.getEntriesByName("grid:snapshot").length) {
    performance.mark("grid:snapshot");
  }
  // Application changes bring new servers: a fresh snapshot is the simplest truth.
  if (ev.type.startsWith("application-")) {
    quiet = true;
    reconnect();
  }
}

let source = null;
let everConnected = false;
// Set while the page itself re-subscribes (for a fresh snapshot), so it does not report a loss.
let quiet = false;

function connect() {
  source = new EventSource("/v1/events");
  source.onopen = () => {
    live("live", "on");
    if (everConnected && !quiet) emit({ type: "reconnected" });
    everConnected = true;
    quiet = false;
    say("");
  };
  source.onerror = () => {
    live("registry unreachable, reconnecting…", "off");
    // The browser retries a dropped stream by itself, but gives up on an error answer.
    if (source.readyState === EventSource.CLOSED) setTimeout(reconnect, 1000);
  };
  source.onmessage = (m) => apply(JSON.parse(m.data));
  for (const t of ["snapshot", "server-state", "server-flags", "node-up", "node-down", "application-added",
    "application-updated", "application-removed", "server"]) {
    source.addEventListener(t, (m) => apply(JSON.parse(m.data)));
  }
}

function reconnect() {
  if (source) source.close();
  connect();
}

window.addEventListener("hashchange", showView);
// A stream left open while the next page loads holds one of the browser's few connections to the
// registry (six per host over HTTP/1.1): close it as the page goes.
window.addEventListener("pagehide", () => { if (source) source.close(); });
showView();
connect();
