// ltm web page: plain JS over the /v1 REST API. All user text goes through textContent.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { key: sessionStorage.getItem("ltm-key") || "", user: "", before: null, current: null, timelineGen: 0,
  userGen: 0, lastSearch: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

function status(text, isError = false) {
  const s = $("#status");
  s.textContent = text;
  s.className = isError ? "error" : "";
}

// A hint for a store or user with nothing in it yet (null hides it).
function hint(...parts) {
  const h = $("#hint");
  h.replaceChildren(...parts.map((p) => (p instanceof Node ? p : document.createTextNode(p))));
  h.hidden = !parts.length;
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (state.key) headers["Authorization"] = "Bearer " + state.key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(`${resp.status}: ${data.message || resp.statusText}`);
  return data;
}

// A user as a path segment. URLs resolve "." and ".." (and %2E%2E) away, so those two users
// cannot be reached over HTTP: without this check the user ".." read /v1/stats.
function seg(user) {
  if (user === "." || user === "..") throw new Error(`a user named "${user}" cannot be reached over HTTP (URLs resolve it away)`);
  return encodeURIComponent(user);
}
const userPath = (suffix = "") => `/v1/users/${seg(state.user)}${suffix}`;
const fmtTime = (iso) => iso ? iso.replace("T", " ").replace(/(\.\d+)?Z$/, "") : "";

// A history event's previous values, with its times (kept as microseconds since 1970)
// written as dates.
const TIME_FIELDS = new Set(["time", "recorded_at", "valid_from", "valid_to", "expires_at", "last_accessed"]);
function readable(data) {
  const out = {};
  for (const [k, v] of Object.entries(data)) {
    const when = TIME_FIELDS.has(k) && typeof v === "number" ? new Date(v / 1000) : null;
    out[k] = when && !Number.isNaN(when.getTime()) ? fmtTime(when.toISOString()) : v;
  }
  return out;
}

async function connect(ev) {
  ev?.preventDefault();
  state.key = $("#key").value.trim();
  sessionStorage.setItem("ltm-key", state.key);
  try {
    const me = await api("GET", "/v1/me");
    const list = $("#users");
    list.replaceChildren();
    let users = me.users.filter((u) => u !== "*");
    if (me.users.includes("*")) users = (await api("GET", "/v1/users")).users;
    for (const u of users) list.append(el("option", { value: u }));
    status(`connected (${me.auth}); rights: ${me.rights.join(", ")}; ${users.length} user(s)`);
    if (!users.length) {
      hint("No memories here yet. Type a user name above and add a first memory below, or from a shell: ",
        el("code", {}, 'ltm add "Dana is vegetarian" --user dana'), ".");
    } else hint();
    const first = users.find((u) => u !== "." && u !== "..");  // see seg()
    if (first !== undefined && !$("#user").value) $("#user").value = first;
    if ($("#user").value) await openUser();
  } catch (e) { status(e.message, true); }
}

// Everything shown for a user: emptied before another user is opened, so a refused user
// never leaves the previous user's chart, timeline, results or memory on screen.
function clearUserView() {
  state.userGen++;
  state.timelineGen++;
  state.before = null; state.current = null; state.lastSearch = null;
  $("#total").textContent = "";
  $("#chart").replaceChildren();
  $("#chart-range").textContent = "";
  $("#kind-filter").replaceChildren(el("option", { value: "" }, "all"));
  $("#session-filter").replaceChildren(el("option", { value: "" }, "all"));
  $("#forget-session").disabled = true;
  $("#timeline").replaceChildren();
  $("#more").hidden = true;
  $("#results tbody").replaceChildren();
  $("#results").hidden = true;
  $("#detail").hidden = true;
}

async function openUser() {
  const user = $("#user").value.trim();
  if (!user) return status("pick a user first", true);
  clearUserView();
  state.user = user;
  const gen = state.userGen;
  try {
    await loadStats();
    await loadTimeline(true);
    if (gen === state.userGen) status(`user ${state.user}`);
  } catch (e) { if (gen === state.userGen) status(e.message, true); }
}

async function loadStats() {
  const gen = state.userGen;
  const s = await api("GET", userPath("/stats"));
  if (gen !== state.userGen) return;  // another user was opened meanwhile
  $("#total").textContent = `${s.memories} memories`;
  if (!s.memories) hint(`${state.user} has no memories yet: add one below.`);
  else hint();
  const kind = $("#kind-filter"), sess = $("#session-filter");
  const keepK = kind.value, keepS = sess.value;
  kind.replaceChildren(el("option", { value: "" }, "all"));
  for (const [k, n] of Object.entries(s.by_kind)) kind.append(el("option", { value: k }, `${k} (${n})`));
  sess.replaceChildren(el("option", { value: "" }, "all"));
  for (const x of s.sessions) sess.append(el("option", { value: x.session }, `${x.session} (${x.count})`));
  kind.value = [...kind.options].some((o) => o.value === keepK) ? keepK : "";
  sess.value = [...sess.options].some((o) => o.value === keepS) ? keepS : "";
  $("#forget-session").disabled = !sess.value;
  drawChart(s.per_day);
}

// Continuous time axis: one bar a day (a month when the span is long), empty days left empty.
function buckets(days) {
  if (!days.length) return [];
  const counts = new Map(days.map((d) => [d.day, d.count]));
  const first = new Date(days[0].day + "T00:00:00Z"), last = new Date(days[days.length - 1].day + "T00:00:00Z");
  const spanDays = Math.round((last - first) / 86400000) + 1;
  if (spanDays <= 120) {
    const out = [];
    for (let t = first.getTime(); t <= last.getTime(); t += 86400000) {
      const day = new Date(t).toISOString().slice(0, 10);
      out.push({ label: day, count: counts.get(day) || 0 });
    }
    return out;
  }
  const months = new Map();
  for (const d of days) months.set(d.day.slice(0, 7), (months.get(d.day.slice(0, 7)) || 0) + d.count);
  const out = [];
  for (let y = first.getUTCFullYear(), m = first.getUTCMonth(); y < last.getUTCFullYear() ||
       (y === last.getUTCFullYear() && m <= last.getUTCMonth()); m === 11 ? (y++, m = 0) : m++) {
    const key = `${String(y).padStart(4, "0")}-${String(m + 1).padStart(2, "0")}`;
    out.push({ label: key, count: months.get(key) || 0 });
  }
  return out;
}

function drawChart(days) {
  const svg = $("#chart");
  svg.replaceChildren();
  $("#chart-range").textContent = days.length ? `${days[0].day} … ${days[days.length - 1].day}` : "no memories yet";
  const bars = buckets(days);
  if (!bars.length) return;
  const max = Math.max(...bars.map((d) => d.count));
  const w = 600 / bars.length;
  bars.forEach((d, i) => {
    if (!d.count) return;
    const h = Math.max(2, (d.count / max) * 110);
    const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    r.setAttribute("x", String(i * w + w * 0.1)); r.setAttribute("width", String(Math.max(1, w * 0.8)));
    r.setAttribute("y", String(118 - h)); r.setAttribute("height", String(h));
    const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    t.textContent = `${d.label}: ${d.count}`;
    r.append(t);
    svg.append(r);
  });
}

function memoryLine(m) {
  return [
    el("span", { class: "meta" }, fmtTime(m.time)),
    el("span", { class: "tag" }, m.kind),
    ...(m.session ? [el("span", { class: "tag" }, m.session)] : []),
    ...(m.valid_to ? [el("span", { class: "meta" }, "until " + fmtTime(m.valid_to))] : []),  // no longer holds
    ...(m.metadata?.speaker ? [el("span", { class: "meta" }, m.metadata.speaker + ":")] : []),
    el("span", {}, m.text.length > 240 ? m.text.slice(0, 240) + "…" : m.text),
  ];
}

async function loadTimeline(reset) {
  // Filters can change while a page is in flight: only the latest request may fill the
  // list, otherwise two quick changes append both answers.
  const gen = ++state.timelineGen;
  const q = new URLSearchParams({ limit: "50" });
  if ($("#kind-filter").value) q.set("kind", $("#kind-filter").value);
  if ($("#session-filter").value) q.set("session", $("#session-filter").value);
  if (!reset && state.before) q.set("before", state.before);
  const page = await api("GET", userPath(`/memories?${q}`));
  if (gen !== state.timelineGen) return;
  if (reset) $("#timeline").replaceChildren();
  for (const m of page.memories) {
    $("#timeline").append(el("li", { "data-id": m.id, onclick: () => showMemory(m.id) }, ...memoryLine(m)));
  }
  state.before = page.next_before;
  $("#more").hidden = !page.next_before;
}

// The browser's clock with its UTC offset ("2026-04-11T12:00:00+09:00"): the search reads time
// phrases ("yesterday") in the person's own calendar, as the add form reads its time.
function localNow() {
  const d = new Date(), off = -d.getTimezoneOffset();
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  const wall = new Date(d.getTime() + off * 60000).toISOString().slice(0, 19);
  return `${wall}${off < 0 ? "-" : "+"}${pad(off / 60)}:${pad(off % 60)}`;
}

async function search(ev) {
  ev.preventDefault();
  const query = $("#query").value.trim();
  if (!query || !state.user) return status("pick a user and type a query", true);
  try {
    const n = await runSearch({ query, k: Number($("#k").value) || 10, now: localNow() });
    if (n !== null) status(`${n} result(s)`);
  } catch (e) { status(e.message, true); }
}

// Runs a search and fills the results; after a forget the last one runs again, so erased
// memories leave the list. Returns the number of hits (null when another user was opened).
async function runSearch(request) {
  const gen = state.userGen;
  const res = await api("POST", userPath("/search"), request);
  if (gen !== state.userGen) return null;
  state.lastSearch = request;
  const body = $("#results tbody");
  body.replaceChildren();
  for (const h of res.hits) {
    const sig = Object.entries(h.signals).filter(([k]) => k !== "score")
      .map(([k, v]) => `${k} ${v.toFixed(3)}`).join(" · ");
    body.append(el("tr", { "data-id": h.memory.id, onclick: () => showMemory(h.memory.id) },
      el("td", { class: "score" }, h.score.toFixed(3)), el("td", { class: "signals" }, sig),
      el("td", {}, ...memoryLine(h.memory))));
  }
  $("#results").hidden = false;
  return res.hits.length;
}

async function refreshAfterForget(receipt) {
  const gone = new Set(Object.values(receipt.ids_by_kind).flat());
  for (const row of $("#results tbody").querySelectorAll("tr")) if (gone.has(row.dataset.id)) row.remove();
  if (state.current && gone.has(state.current.id)) { state.current = null; $("#detail").hidden = true; }
  await loadStats();
  await loadTimeline(true);
  if (state.lastSearch) await runSearch(state.lastSearch);
}

async function addMemory(ev) {
  ev.preventDefault();
  const user = $("#user").value.trim();
  const text = $("#add-text").value;
  if (!user) return status("type a user name first (above)", true);
  if (!text.trim()) return status("type the memory's text first", true);
  const body = { text, kind: $("#add-kind").value.trim() || "episode" };
  if ($("#add-session").value.trim()) body.session = $("#add-session").value.trim();
  if ($("#add-time").value) {
    const when = new Date($("#add-time").value);  // datetime-local: the browser's own time zone
    if (Number.isNaN(when.getTime())) return status("the time is not a valid date", true);
    body.time = when.toISOString();
  }
  try {
    const m = await api("POST", `/v1/users/${seg(user)}/memories`, body);
    $("#add-text").value = "";
    if (![...$("#users").options].some((o) => o.value === user)) $("#users").append(el("option", { value: user }));
    hint();
    if (state.user !== user) await openUser();
    else { await loadStats(); await loadTimeline(true); }
    status(`added a ${m.kind} for ${user} at ${fmtTime(m.time)} UTC`);
  } catch (e) { status(e.message, true); }
}

async function showMemory(id) {
  const gen = state.userGen;
  try {
    const [m, hist] = await Promise.all([api("GET", userPath(`/memories/${encodeURIComponent(id)}`)),
      api("GET", userPath(`/memories/${encodeURIComponent(id)}/history`))]);
    if (gen !== state.userGen) return;
    state.current = m;
    $("#d-id").textContent = m.id;
    $("#d-text").textContent = m.text;
    const dl = $("#d-fields");
    dl.replaceChildren();
    const fields = ["kind", "session", "agent", "time", "recorded_at", "valid_from", "valid_to", "superseded_by",
      "importance", "pinned", "access_count", "last_accessed", "expires_at"];
    for (const f of fields) {
      if (m[f] === null || m[f] === undefined) continue;
      if (f === "superseded_by") {  // the fact that replaced it: one click away, as a source is
        dl.append(el("dt", {}, f), el("dd", {}, el("a", { class: "src", onclick: () => showMemory(m[f]) }, m[f])));
        continue;
      }
      dl.append(el("dt", {}, f), el("dd", {}, typeof m[f] === "string" && /^\d{4}-\d\d-\d\dT/.test(m[f]) ? fmtTime(m[f]) : String(m[f])));
    }
    if (Object.keys(m.metadata).length) dl.append(el("dt", {}, "metadata"), el("dd", {}, JSON.stringify(m.metadata)));
    const src = $("#d-sources");
    src.replaceChildren();
    if (!m.sources.length) src.append(el("li", { class: "muted" }, "stored directly (no sources)"));
    for (const s of m.sources) src.append(el("li", {}, el("a", { class: "src", onclick: () => showMemory(s) }, s)));
    const h = $("#history");
    h.replaceChildren();
    for (const e of hist.events) {
      h.append(el("li", {}, el("strong", {}, e.event), " ", fmtTime(e.at),
        ...(e.data ? [" ", el("code", {}, "was " + JSON.stringify(readable(e.data)))] : [])));
    }
    $("#detail").hidden = false;
  } catch (e) { status(e.message, true); }
}

async function forgetOne() {
  const m = state.current;
  if (!m || !confirm(`Forget this memory for good?\n\n${m.text.slice(0, 200)}`)) return;
  try {
    const r = await api("DELETE", userPath(`/memories/${encodeURIComponent(m.id)}`));
    status(`forgot ${r.count} memory(ies)`);
    $("#detail").hidden = true;
    await refreshAfterForget(r);
  } catch (e) { status(e.message, true); }
}

async function forgetSession() {
  const session = $("#session-filter").value;
  if (!session || !confirm(`Forget every memory of session "${session}" for good?`)) return;
  try {
    const r = await api("POST", userPath("/forget"), { session });
    status(`forgot ${r.count} memories of session ${session}`);
    $("#session-filter").value = "";
    $("#detail").hidden = true;
    await refreshAfterForget(r);
  } catch (e) { status(e.message, true); }
}

$("#connect-form").addEventListener("submit", connect);
$("#open-user").addEventListener("click", openUser);
$("#user").addEventListener("change", openUser);
$("#search-form").addEventListener("submit", search);
$("#kind-filter").addEventListener("change", () => loadTimeline(true).catch((e) => status(e.message, true)));
$("#session-filter").addEventListener("change", () => {
  $("#forget-session").disabled = !$("#session-filter").value;
  loadTimeline(true).catch((e) => status(e.message, true));
});
$("#more").addEventListener("click", () => loadTimeline(false).catch((e) => status(e.message, true)));
$("#forget-one").addEventListener("click", forgetOne);
$("#forget-session").addEventListener("click", forgetSession);
$("#add-form").addEventListener("submit", addMemory);
$("#key").value = state.key;

// An open server (no keys, e.g. `ltm serve` on loopback) or a key kept from earlier in this
// tab: connect at once, no click needed.
(async () => {
  try {
    const health = await api("GET", "/v1/health");
    if (health.auth === "open" || state.key) await connect();
    else status("this server needs an API key: paste one and press Connect");
  } catch (e) { status(e.message, true); }
})();
