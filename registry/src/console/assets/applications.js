// The applications: the list, a readable description, add or update from a pasted or uploaded
// descriptor with the change shown before it is applied, and removal after a confirmation.
import { grid, el, button, say, call, attempt, onEvent } from "./core.js";

const when = (ms) => (ms ? new Date(ms).toLocaleString() : "-");
const appPath = (name) => "/v1/applications/" + encodeURIComponent(name);

function renderList() {
  document.querySelector("#applications tbody").replaceChildren(...grid.applications
    .slice().sort((a, b) => a.name.localeCompare(b.name))
    .map((a) => {
      const tr = el("tr");
      tr.id = "app-" + a.name;
      const actions = el("td", undefined, "actions");
      actions.append(button("describe", () => describe(a.name), "describe"),
        button("edit", () => edit(a.name), "edit"),
        button("remove", () => confirmRemove(a), "remove"));
      tr.append(el("td", a.name), el("td", String(a.serial)), el("td", String(a.servers)),
        el("td", when(a.updated_ms)), actions);
      return tr;
    }));
}

async function describe(name) {
  const d = await attempt("describe " + name, () => call("GET", appPath(name)));
  if (!d) return;
  document.getElementById("app-detail").hidden = false;
  document.getElementById("app-detail-title").textContent =
    d.name + " (serial " + d.serial + ", updated " + when(d.updated_ms) + ")";
  const table = el("table");
  const head = el("tr");
  for (const h of ["Server", "Node", "Program", "Activation", "Adapters"]) head.append(el("th", h));
  table.append(head);
  for (const s of d.servers) {
    const tr = el("tr");
    const adapters = (s.adapters || []).map((a) => a.id + (a.replica_group ? " in " + a.replica_group : ""));
    tr.append(el("td", s.id), el("td", s.node), el("td", [s.exe, ...(s.args || [])].join(" ")),
      el("td", s.activation || "always"), el("td", adapters.join(", ") || "-"));
    table.append(tr);
  }
  const groups = Object.entries(d.replica_groups || {}).map(([id, g]) =>
    el("li", id + ": " + (g["load-balancing"] || "round-robin") +
      (g["n-replicas"] ? ", " + g["n-replicas"] + " per answer" : "")));
  const list = el("ul");
  list.append(...groups);
  document.getElementById("app-detail-servers").replaceChildren(table,
    ...(groups.length ? [el("h3", "Replica groups"), list] : []));
  document.getElementById("app-source").textContent = d.source;
}

async function edit(name) {
  const d = await attempt("read " + name, () => call("GET", appPath(name)));
  if (!d) return;
  document.getElementById("app-text").value = d.source;
  document.getElementById("app-edit-title").textContent = "Update " + name;
  document.getElementById("app-diff").hidden = true;
  document.getElementById("app-text").focus();
}

function confirmRemove(app) {
  const box = document.getElementById("app-confirm");
  box.replaceChildren(el("span", "Remove " + app.name + " and stop its " + app.servers +
      " servers? "),
    button("Remove " + app.name, async () => {
      box.hidden = true;
      const done = await attempt("remove " + app.name, () => call("DELETE", appPath(app.name)));
      if (done) say(app.name + " removed", true);
    }, "confirm-remove"),
    button("Cancel", () => { box.hidden = true; }, "cancel"));
  box.hidden = false;
}

// A line diff (longest common subsequence), unchanged runs folded; null when too large.
function lineDiff(before, after) {
  const a = before.split("\n");
  const b = after.split("\n");
  if (a.length * b.length > 4e6) return null;
  const n = a.length;
  const m = b.length;
  const len = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      len[i][j] = a[i] === b[j] ? len[i + 1][j + 1] + 1 : Math.max(len[i + 1][j], len[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
    else if (j < m && (i === n || len[i][j + 1] >= len[i + 1][j])) { out.push(["+", b[j]]); j++; }
    else { out.push(["-", a[i]]); i++; }
  }
  return out;
}

function diffView(lines) {
  const pre = el("pre", undefined, "source diff");
  pre.id = "app-line-diff";
  const CONTEXT = 3;
  for (let k = 0; k < lines.length; k++) {
    const [mark, text] = lines[k];
    if (mark === " ") {
      const near = lines.slice(Math.max(0, k - CONTEXT), k + CONTEXT + 1).some(([x]) => x !== " ");
      if (!near) {
        let run = k;
        while (run < lines.length && lines[run][0] === " " &&
          !lines.slice(run, run + CONTEXT + 1).some(([x]) => x !== " ")) run++;
        pre.append(el("span", "  … " + (run - k) + " unchanged lines\n", "same"));
        k = run - 1;
        continue;
      }
    }
    pre.append(el("span", mark + " " + text + "\n", mark === "+" ? "added" : mark === "-" ? "removed" : "same"));
  }
  return pre;
}

async function preview() {
  say("");
  const source = document.getElementById("app-text").value;
  const box = document.getElementById("app-diff");
  box.hidden = true;
  if (!source.trim()) { say("paste a descriptor or pick a file first"); return; }
  const diff = await attempt("the descriptor", () => call("POST", "/v1/applications-diff", { source }));
  if (!diff) return;
  const parts = [el("h3", (diff.exists ? "Update " : "Add ") + diff.name)];
  const summary = el("ul", undefined, "summary");
  for (const [what, ids] of [["added", diff.added], ["removed", diff.removed],
    ["changed (restarted)", diff.changed], ["unchanged", diff.unchanged]]) {
    if (ids.length) summary.append(el("li", ids.length + " " + what + ": " + ids.join(", ")));
  }
  if (!summary.children.length) summary.append(el("li", "no servers"));
  parts.push(summary);
  if (diff.exists) {
    const old = await attempt("read " + diff.name, () => call("GET", appPath(diff.name)));
    if (!old) return;
    const lines = lineDiff(old.source, source);
    if (!lines) parts.push(el("p", "The descriptors are too large to compare line by line."));
    else if (!lines.some(([m]) => m !== " ")) parts.push(el("p", "The descriptor is the same text."));
    else parts.push(diffView(lines));
  }
  const apply = button(diff.exists ? "Apply the update" : "Add " + diff.name, async () => {
    apply.disabled = true;
    const done = await attempt((diff.exists ? "update " : "add ") + diff.name, () =>
      (diff.exists ? call("PUT", appPath(diff.name), { source })
        : call("POST", "/v1/applications", { source })));
    if (done) {
      say(diff.name + (diff.exists ? " updated" : " added") + " (serial " + done.serial + ")", true);
      box.hidden = true;
    } else {
      apply.disabled = false;
    }
  }, "apply");
  parts.push(apply, button("Cancel", () => { box.hidden = true; }, "cancel"));
  box.replaceChildren(...parts);
  box.hidden = false;
}

document.getElementById("app-preview").addEventListener("click", preview);
document.getElementById("app-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  document.getElementById("app-text").value = await file.text();
  document.getElementById("app-edit-title").textContent = "Add or update from " + file.name;
});

onEvent((ev) => {
  if (ev.type === "snapshot") renderList();
});
