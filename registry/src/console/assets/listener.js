// The listener's views, through the registry's gateway: the renders (what they play, a progress
// bar, the MediaServer in use and every failover, their controls and queue), the library, the
// channels of every MediaServer, and "listen here" in the page's own audio element.
import {
  el, button, say, clock, call, attempt, gateway, onEvent, onShow, visible, renders,
  mediaServers, SERVER_GROUP,
} from "./core.js";

const adapterOf = (id) => id + ".Adapter";
// Render id → { status, at (when it was read), marks (failovers seen), card }.
const known = new Map();
let library = null;
let channels = [];

function entry(id) {
  if (!known.has(id)) known.set(id, { status: null, at: 0, marks: [], card: null, queue: [] });
  return known.get(id);
}

// Where the render is now: its position when read, moved on by the time since while it plays.
function position(e) {
  const s = e.status;
  if (!s || !s.track) return 0;
  const moved = s.state === "playing" ? Date.now() - e.at : 0;
  return Math.min(s.track.duration_ms, s.position_ms + moved);
}

function field(card, name) {
  return card.querySelector("[data-field=" + name + "]");
}

function trackOptions(select) {
  const keep = select.value;
  select.replaceChildren(...(library || []).map((t) => {
    const o = el("option", t.title + " by " + t.artist);
    o.value = t.id;
    return o;
  }));
  if (keep) select.value = keep;
}

function channelOptions(select) {
  const names = [...new Set(channels.map((c) => c.name))].sort();
  select.replaceChildren(...names.map((n) => el("option", n)));
  // No channel on the grid: nothing to offer.
  select.parentNode.hidden = !names.length;
}

function buildCard(id) {
  const card = el("article", undefined, "card render");
  card.id = "render-" + id;
  const f = (tag, name, cls) => { const x = el(tag, undefined, cls); x.dataset.field = name; return x; };
  const head = el("h3", id);
  head.append(" ", f("span", "state", "state"));
  const bar = el("div", undefined, "bar");
  bar.append(f("progress", "progress"), f("div", "ticks", "ticks"));
  const controls = el("p", undefined, "controls");
  for (const a of ["play", "pause", "resume", "stop", "next"]) {
    controls.append(button(a, () => control(id, "/v1/" + a, {}), a));
  }
  controls.append(button("listen here", () => listen(id + " (render)", gateway(adapterOf(id), "/listen")), "listen"));
  const tracks = f("select", "tracks");
  const load = el("p", undefined, "controls");
  load.append(tracks, button("load", () => loadTrack(id, tracks.value, false), "load"),
    button("play now", () => loadTrack(id, tracks.value, true), "play-track"),
    button("add to queue", () => enqueue(id, tracks.value), "enqueue"));
  const chans = f("select", "channels");
  const live = el("p", undefined, "controls channel");
  live.append(chans, button("play channel", () => control(id, "/v1/channel", { name: chans.value }), "channel"));
  const queue = el("div", undefined, "queue");
  queue.append(el("span", "Queue "), button("clear", () => clearQueue(id), "clear-queue"), f("ol", "queue"));
  card.append(head, f("p", "track", "track"), bar, f("p", "time", "time"), f("p", "server", "server"),
    f("p", "failover", "mark"), f("p", "error", "error"), controls, load, live, queue);
  trackOptions(tracks);
  channelOptions(chans);
  return card;
}

function showCard(id) {
  const e = entry(id);
  if (!e.card) {
    e.card = buildCard(id);
  }
  const c = e.card;
  const s = e.status;
  if (!s) {
    field(c, "state").textContent = "not reachable";
    return;
  }
  field(c, "state").textContent = s.state;
  field(c, "state").className = "state " + s.state;
  const t = s.track;
  field(c, "track").textContent = s.channel
    ? "channel " + s.channel.name + (s.channel.title ? ": " + s.channel.title : "")
    : t ? t.title + " · " + t.artist + " · " + t.album : "nothing loaded";
  const via = s.server || (s.channel && s.channel.server);
  field(c, "server").textContent = "MediaServer: " + (via ? via.id : "none") +
    " · failovers: " + s.failovers + " · buffer " + (s.buffered_ms / 1000).toFixed(1) + " s" +
    (s.underruns ? " · underruns: " + s.underruns : "");
  field(c, "error").textContent = s.error || "";
  const mark = e.marks[e.marks.length - 1];
  const m = field(c, "failover");
  m.textContent = mark ? "failover " + mark.from + " → " + mark.to + ", gap " +
    mark.gap_ms.toFixed(1) + " ms, seam at " + clock(mark.at_ms) + " of the track" : "";
  m.classList.toggle("fresh", Boolean(mark) && Date.now() - mark.seen < 10000);
  const ticks = field(c, "ticks");
  ticks.replaceChildren(...(t ? e.marks.filter((k) => k.track === t.id).map((k) => {
    const tick = el("span", undefined, "tick");
    tick.style.left = (100 * k.at_ms / Math.max(1, t.duration_ms)) + "%";
    tick.title = "failover " + k.from + " → " + k.to;
    return tick;
  }) : []));
  field(c, "queue").replaceChildren(...e.queue.map((q) => el("li", q.title + " by " + q.artist)));
  moveBar(e);
}

function moveBar(e) {
  const s = e.status;
  if (!s || !e.card) return;
  const bar = field(e.card, "progress");
  const time = field(e.card, "time");
  if (!s.track) {
    bar.max = 1;
    bar.value = 0;
    time.textContent = "";
    return;
  }
  const pos = position(e);
  bar.max = s.track.duration_ms;
  bar.value = pos;
  bar.dataset.position = String(Math.round(pos));
  time.textContent = clock(pos) + " / " + clock(s.track.duration_ms);
}

// A failover the render reports: from its event, or from a status whose record is new.
function remember(e, f, track, seen) {
  const from = f.from ? f.from.id : "none";
  const last = e.marks[e.marks.length - 1];
  if (last && last.offset === f.offset && last.to === f.to.id && last.from === from) return;
  const size = e.status && e.status.track ? e.status.track.size : 0;
  const dur = e.status && e.status.track ? e.status.track.duration_ms : 0;
  e.marks.push({ from, to: f.to.id, gap_ms: f.gap_ms, offset: f.offset, track, seen,
    at_ms: size ? dur * f.offset / size : 0 });
  if (e.marks.length > 20) e.marks.shift();
}

// Reads a render's status (and queue); one read at a time per render, the last ask wins.
const reading = new Map();
async function readStatus(id) {
  if (reading.get(id)) { reading.set(id, "again"); return; }
  reading.set(id, true);
  const e = entry(id);
  try {
    const [status, queue] = await Promise.all([
      call("GET", gateway(adapterOf(id), "/v1/status")),
      call("GET", gateway(adapterOf(id), "/v1/queue")),
    ]);
    took(id, status);
    e.queue = queue;
  } catch (err) {
    e.status = null;
    if (e.card) field(e.card, "error").textContent = err.message;
  } finally {
    const again = reading.get(id) === "again";
    reading.delete(id);
    showCard(id);
    if (again) readStatus(id);
  }
}

function took(id, status) {
  const e = entry(id);
  const first = e.status === null && e.marks.length === 0;
  e.status = status;
  e.at = Date.now();
  // A failover from before the page was opened is shown, but not as new.
  if (status.last_failover) {
    remember(e, status.last_failover, status.track ? status.track.id : null, first ? 0 : Date.now());
  }
}

async function control(id, path, body) {
  say("");
  const status = await attempt(id, () => call("POST", gateway(adapterOf(id), path), body));
  if (status) { took(id, status); showCard(id); }
  return status;
}

async function loadTrack(id, track, play) {
  if (!track) { say("pick a track first"); return; }
  const loaded = await control(id, "/v1/load", { track_id: track });
  if (loaded && play) await control(id, "/v1/play", {});
}

async function enqueue(id, track) {
  if (!track) { say("pick a track first"); return; }
  const done = await attempt("add to the queue of " + id, () =>
    call("POST", gateway(adapterOf(id), "/v1/queue"), { track_id: track }));
  if (done !== undefined) readStatus(id);
}

async function clearQueue(id) {
  const done = await attempt("clear the queue of " + id, () =>
    call("DELETE", gateway(adapterOf(id), "/v1/queue")));
  if (done !== undefined) readStatus(id);
}

function renderCards() {
  const ids = renders().map((a) => a.server);
  const box = document.getElementById("renders");
  box.replaceChildren(...ids.map((id) => { showCard(id); return entry(id).card; }));
  if (!ids.length) box.append(el("p", "No render is deployed."));
  for (const id of ids) readStatus(id);
  const pick = document.getElementById("library-render");
  const keep = pick.value;
  pick.replaceChildren(...ids.map((id) => el("option", id)));
  if (keep && ids.includes(keep)) pick.value = keep;
}

// The progress bars move between events; a read every few seconds corrects the drift of a
// render that plays faster or slower than the clock.
let ticks = 0;
setInterval(() => {
  if (!visible("renders")) return;
  ticks++;
  for (const [id, e] of known) {
    moveBar(e);
    if (e.status && e.status.state === "playing" && ticks % 20 === 0) readStatus(id);
  }
}, 250);

async function readLibrary() {
  const tracks = await attempt("the library", () => call("GET", gateway(SERVER_GROUP, "/v1/tracks")));
  if (!tracks) return;
  library = tracks;
  renderLibrary();
  for (const e of known.values()) if (e.card) trackOptions(field(e.card, "tracks"));
}

function renderLibrary() {
  const words = document.getElementById("library-search").value.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = (library || []).filter((t) =>
    words.every((w) => (t.title + " " + t.artist).toLowerCase().includes(w)));
  const render = () => document.getElementById("library-render").value;
  document.querySelector("#library tbody").replaceChildren(...shown.map((t) => {
    const tr = el("tr");
    tr.id = "track-" + t.id;
    const actions = el("td", undefined, "actions");
    actions.append(
      button("play on render", () => (render() ? loadTrack(render(), t.id, true) : say("no render to play on")), "play-on"),
      button("add to queue", () => (render() ? enqueue(render(), t.id) : say("no render")), "enqueue"),
      button("listen here", () => listen(t.title, gateway(SERVER_GROUP, "/v1/tracks/" + t.id + "/audio")), "listen"));
    tr.append(el("td", t.title), el("td", t.artist), el("td", t.album), el("td", clock(t.duration_ms)),
      el("td", t.bitrate_kbps + " kbit/s" + (t.vbr ? " VBR" : "")), actions);
    return tr;
  }));
  document.getElementById("library-shown").textContent = library
    ? shown.length + " of " + library.length + " tracks" : "";
}

// The MediaServer endpoints the channels were last read from: a replica that comes back (or
// goes) while the view is shown is read again.
let channelsFrom = "";
const liveServers = () => mediaServers().filter((a) => a.endpoint).map((a) => a.endpoint).sort().join(" ");

async function readChannels() {
  channelsFrom = liveServers();
  const state = document.getElementById("channels-state");
  const found = [];
  const failed = [];
  await Promise.all(mediaServers().map(async (a) => {
    if (!a.endpoint) return;
    try {
      for (const c of await call("GET", gateway(a.id, "/v1/channels"))) found.push({ server: a.server, adapter: a.id, ...c });
    } catch (e) {
      failed.push(a.server + ": " + e.message);
    }
  }));
  channels = found.sort((x, y) => x.name.localeCompare(y.name) || x.server.localeCompare(y.server));
  state.textContent = (failed.length ? "not read: " + failed.join("; ") + ". " : "") +
    "read at " + new Date().toLocaleTimeString();
  document.querySelector("#channels tbody").replaceChildren(...channels.map((c) => {
    const tr = el("tr");
    tr.id = "channel-" + c.server + "-" + c.name;
    const src = c.source.state + (c.source.upstream ? " from " + c.source.upstream : "");
    tr.append(el("td", c.server), el("td", c.name + " (" + c.kind + ")"), el("td", src),
      el("td", String(c.listeners)), el("td", String(c.listeners_peak)), el("td", c.title || "-"),
      el("td", c.tree && c.tree.children.length ? c.tree.children.join(", ") : "-"),
      el("td").appendChild(button("listen here", () => listen(c.name + " on " + c.server,
        gateway(c.adapter, "/live/" + encodeURIComponent(c.name))), "listen")).parentNode);
    return tr;
  }));
  for (const e of known.values()) if (e.card) channelOptions(field(e.card, "channels"));
}

function listen(what, src) {
  const audio = document.getElementById("audio");
  document.getElementById("player").hidden = false;
  document.getElementById("player-what").textContent = "Listening here: " + what;
  audio.src = src;
  audio.play().catch((e) => say("the browser will not play " + what + ": " + e.message));
}

document.getElementById("player-stop").addEventListener("click", () => {
  const audio = document.getElementById("audio");
  audio.pause();
  audio.removeAttribute("src");
  audio.load();
  document.getElementById("player").hidden = true;
});
document.getElementById("audio").addEventListener("error", () => {
  if (document.getElementById("audio").getAttribute("src")) say("the stream stopped or could not be played");
});
document.getElementById("library-search").addEventListener("input", renderLibrary);
document.getElementById("channels-refresh").addEventListener("click", readChannels);

onShow("renders", () => { renderCards(); if (!library) readLibrary(); if (!channels.length) readChannels(); });
onShow("library", () => { renderCards(); readLibrary(); });
onShow("channels", readChannels);

onEvent((ev) => {
  if (ev.type === "adapters") {
    if (visible("renders") || visible("library")) renderCards();
    if (visible("channels") && liveServers() !== channelsFrom) readChannels();
  } else if (ev.type === "server" && known.has(ev.server)) {
    const p = ev.payload || {};
    const e = entry(ev.server);
    if (p.event === "failover") remember(e, p, p.track_id || null, Date.now());
    readStatus(ev.server);
  }
});
