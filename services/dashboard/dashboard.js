// coldchain ops dashboard: plain JavaScript and SVG, no library, nothing fetched from outside.
// Login = an API token pasted once, kept in sessionStorage (this tab only). The live feed is an
// EventSource opened with a short-lived ticket (POST /api/v1/feed/ticket), since EventSource
// cannot send an Authorization header.
"use strict";

const TOKEN_KEY = "coldchain.token";
const MAX_EVENTS = 300;
const SVG_NS = "http://www.w3.org/2000/svg";
const DEVICE_COLOURS = ["#0d3b66", "#8250df", "#0a7ea4", "#b35900", "#2e7d32"];

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  role: null,
  feed: null,           // the EventSource
  lastEventId: null,    // for a new EventSource after a ticket expired
  fleet: new Map(),     // shipment id -> summary
  shipment: null,       // the open shipment page: {id, summary, readings, excursions, alerts}
  timers: {},
};

// ---- small DOM helpers -------------------------------------------------------------------------

const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

const fmtTime = (iso) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 16) + "Z" : "—");
const fmtNum = (value, digits = 1) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));

function debounce(name, ms, fn) {
  clearTimeout(state.timers[name]);
  state.timers[name] = setTimeout(fn, ms);
}

// ---- the API -----------------------------------------------------------------------------------

async function api(method, path) {
  const response = await fetch(path, { method, headers: { Authorization: `Bearer ${state.token}` } });
  if (response.status === 401) {
    logout("Your token was refused: log in again.");
    throw new Error("unauthorised");
  }
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
  // RFC 8288: the fleet says where its next page is.
  const next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get("Link") || "");
  state.nextPage = next ? next[1] : null;
  return response.json();
}

// ---- login -------------------------------------------------------------------------------------

async function login(token) {
  state.token = token;
  const ticket = await fetch("/api/v1/feed/ticket", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  if (!ticket.ok) {
    state.token = null;
    $("#login-error").textContent = ticket.status === 401 ? "This token is not valid." : `Error ${ticket.status}`;
    return;
  }
  const body = await ticket.json();
  sessionStorage.setItem(TOKEN_KEY, token);
  state.role = body.role;
  $("#who").textContent = body.party ? `${body.role}: ${body.party}` : body.role;
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#logout-button").hidden = false;
  openFeed(body.ticket);
  route();
}

function logout(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  if (state.feed) state.feed.close();
  state.feed = null;
  setFeedState("off");
  $("#app").hidden = true;
  $("#logout-button").hidden = true;
  $("#who").textContent = "";
  $("#login").hidden = false;
  $("#login-error").textContent = message;
}

// ---- the live feed -----------------------------------------------------------------------------

function setFeedState(name) {
  const badge = $("#feed-state");
  badge.dataset.state = name;
  badge.textContent = `feed: ${name}`;
}

async function openFeed(ticket = null) {
  if (!state.token) return;
  setFeedState("connecting");
  try {
    if (!ticket) ticket = (await api("POST", "/api/v1/feed/ticket")).ticket;
  } catch (error) {
    setFeedState("down");
    setTimeout(() => openFeed(), 3000);
    return;
  }
  let url = `/api/v1/feed?ticket=${encodeURIComponent(ticket)}`;
  if (state.lastEventId) url += `&last_event_id=${encodeURIComponent(state.lastEventId)}`;
  const source = new EventSource(url);
  state.feed = source;
  const remember = (event) => { if (event.lastEventId) state.lastEventId = event.lastEventId; };
  source.addEventListener("ready", (event) => { remember(event); setFeedState("live"); });
  source.addEventListener("reset", (event) => { remember(event); refresh(); });
  for (const type of ["reading", "excursion", "eta", "alert"]) {
    source.addEventListener(type, (event) => { remember(event); onEvent(type, JSON.parse(event.data)); });
  }
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (an expired ticket): a new ticket, resuming from the last event seen.
      setFeedState("down");
      if (state.feed === source) setTimeout(() => openFeed(), 1000);
    } else {
      setFeedState("connecting"); // the browser reconnects on its own, sending Last-Event-ID
    }
  };
}

function onEvent(type, data) {
  const shipmentId = data.shipment_id;
  if (type !== "reading" || $("#show-readings").checked) addEventLine(type, data);
  if (type === "reading") {
    const row = state.fleet.get(shipmentId);
    if (row && (!row.last_reading_at || data.time > row.last_reading_at)) {
      row.last_reading_at = data.time;
      if (data.temp_c !== null && data.temp_c !== undefined) row.last_temp_c = data.temp_c;
      debounce("fleet-render", 500, renderFleet);
    }
    if (state.shipment && state.shipment.id === shipmentId) {
      state.shipment.readings.push(data);
      debounce("chart", 300, renderShipment);
    }
    return;
  }
  debounce("fleet", 400, loadFleet);
  if (state.shipment && state.shipment.id === shipmentId) debounce("shipment", 300, loadShipment);
}

function describe(type, data) {
  switch (type) {
    case "reading":
      return `${data.device_id} ${fmtNum(data.temp_c)} °C ${data.humidity_pct != null ? fmtNum(data.humidity_pct, 0) + " %RH" : ""}`;
    case "excursion":
      return `${data.step}: ${data.kind} ${data.severity}, peak ${fmtNum(data.peak_c)} °C (${data.device_id})`;
    case "eta":
      return `${data.kind}: ETA ${fmtTime(data.eta)}${data.at_risk ? " AT RISK (" + data.risk_reasons.join(", ") + ")" : ""}` +
        (data.viability_state === "lost" ? ` VIABILITY LOST (${data.viability_lost_reason})`
          : data.viability_state === "compromised" ? " viability compromised" : "");
    case "alert":
      return `${data.kind} ${data.step} ${data.severity}: ${data.status}${data.channel ? " " + data.channel + " to " + data.role : ""}`;
    default:
      return "";
  }
}

function addEventLine(type, data) {
  const list = $("#events");
  const item = el("li", { "data-type": type, "data-shipment": data.shipment_id, "data-step": data.step || data.kind },
    el("span", { class: "type" }, type), " ",
    el("a", { href: `#/shipment/${encodeURIComponent(data.shipment_id)}` }, data.shipment_id), " ",
    el("span", { class: "time" }, new Date().toISOString().slice(11, 19)), el("br"),
    describe(type, data));
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

// ---- views -------------------------------------------------------------------------------------

function route() {
  if (!state.token) return;
  const match = location.hash.match(/^#\/shipment\/(.+)$/);
  $("#fleet").hidden = !!match;
  $("#shipment").hidden = !match;
  if (match) {
    const id = decodeURIComponent(match[1]);
    if (!state.shipment || state.shipment.id !== id) state.shipment = { id, readings: [], summary: null };
    loadShipment();
  } else {
    state.shipment = null;
    loadFleet();
  }
}

function refresh() {
  loadFleet();
  if (state.shipment) loadShipment();
}

function fleetQuery() {
  const params = new URLSearchParams({ limit: "100" });
  const search = $("#fleet-search").value.trim();
  if (search) params.set("q", search);
  if ($("#fleet-all").checked) params.set("active", "false");
  return `/api/v1/fleet?${params}`;
}

// Active shipments by default, a hundred at a time; "more" follows the API's next link.
async function loadFleet(more = false) {
  const rows = await api("GET", more && state.fleetNext ? state.fleetNext : fleetQuery());
  state.fleetNext = state.nextPage;
  if (!more) state.fleet = new Map();
  for (const row of rows) state.fleet.set(row.id, row);
  renderFleet();
}

function stateBadge(name, label = name.replace("_", " ")) {
  return el("span", { class: `state state-${name}`, "data-state": name }, label);
}

// Viability as people should read it: a lost shipment has no hours left, whatever the budget says.
function viabilityText(summary, hours) {
  if (summary.viability === "lost") return `lost (${summary.viability_lost_reason || "lethal limit"})`;
  return hours != null ? `${fmtNum(hours)} h` : "—";
}

function renderFleet() {
  const body = $("#fleet-table tbody");
  body.replaceChildren();
  const counts = { ok: 0, excursion: 0, at_risk: 0, silent: 0, lost: 0 };
  for (const row of state.fleet.values()) {
    counts[row.state] += 1;
    const forecast = row.forecast || {};
    body.append(el("tr", { "data-shipment": row.id, "data-state": row.state },
      el("td", {}, stateBadge(row.state, row.state_text)),
      el("td", {}, el("a", { href: `#/shipment/${encodeURIComponent(row.id)}` }, row.id)),
      el("td", {}, `${row.seller} → ${row.buyer}`),
      el("td", {}, fmtTime(row.last_reading_at)),
      el("td", {}, fmtNum(row.last_temp_c)),
      el("td", {}, forecast.leg_name || "—"),
      el("td", {}, fmtTime(forecast.eta)),
      el("td", {}, fmtTime(row.deliver_by)),
      el("td", {}, viabilityText(row, forecast.viability_remaining_at_eta_h))));
  }
  $("#fleet-empty").hidden = state.fleet.size > 0;
  $("#fleet-more").hidden = !state.fleetNext;
  $("#fleet-counts").replaceChildren(...Object.entries(counts).map(([name, n]) =>
    el("span", {}, stateBadge(name), ` ${n}`)));
}

async function loadShipment() {
  const page = state.shipment;
  if (!page) return;
  const id = encodeURIComponent(page.id);
  let summary;
  try {
    summary = await api("GET", `/api/v1/fleet/${id}`);
  } catch (error) {
    $("#shipment-title").textContent = `${page.id}: not found`;
    return;
  }
  const from = summary.shipment.packed_at;
  const [readings, excursions, alerts] = await Promise.all([
    api("GET", `/api/v1/shipments/${id}/readings?from=${encodeURIComponent(from)}`),
    api("GET", `/api/v1/shipments/${id}/excursions`),
    api("GET", `/api/v1/shipments/${id}/alerts`),
  ]);
  if (state.shipment !== page) return; // the user moved on meanwhile
  Object.assign(page, { summary, readings, excursions, alerts });
  renderShipment();
}

function renderShipment() {
  const page = state.shipment;
  if (!page || !page.summary) return;
  const { summary } = page;
  $("#shipment-title").textContent = summary.id;
  $("#shipment-state").replaceWith(Object.assign(stateBadge(summary.state, summary.state_text), { id: "shipment-state" }));
  $("#shipment-parties").textContent =
    `${summary.product} · ${summary.seller} → ${summary.buyer} · packed ${fmtTime(summary.shipment.packed_at)}`;
  const forecast = summary.forecast;
  $("#eta-value").textContent = forecast ? fmtTime(forecast.eta) : "no forecast yet";
  $("#eta-detail").textContent = forecast
    ? `deliver by ${fmtTime(summary.deliver_by)} · ${forecast.phase} · ${forecast.leg_name}${forecast.at_risk ? " · AT RISK: " + forecast.risk_reasons.join(", ") : ""}`
    : `deliver by ${fmtTime(summary.deliver_by)}`;
  if (summary.viability === "lost") {
    $("#viability-value").textContent = viabilityText(summary, null);
    $("#viability-detail").textContent = summary.viability_lost_at ? `since ${fmtTime(summary.viability_lost_at)}` : "";
  } else {
    $("#viability-value").textContent = forecast ? `${viabilityText(summary, forecast.viability_remaining_at_eta_h)} left` : "—";
    $("#viability-detail").textContent = (forecast ? `${fmtNum(forecast.viability_used_h)} h of budget used` : "") +
      (summary.viability === "compromised" ? `${forecast ? " · " : ""}compromised` : "");
  }
  const last = page.readings.length ? page.readings[page.readings.length - 1] : null;
  $("#last-value").textContent = last ? `${fmtNum(last.temp_c)} °C` : "none yet";
  $("#last-detail").textContent = last ? `${fmtTime(last.time)} · ${last.device_id}` : "";
  drawRoute(summary);
  drawChart(page.readings, page.excursions || [], summary.limits);
  renderExcursions(page.excursions || []);
  renderAlerts(page.alerts || []);
}

function renderExcursions(excursions) {
  $("#excursions-table tbody").replaceChildren(...excursions.map((x) =>
    el("tr", { "data-excursion": x.id, "data-status": x.ended_at ? "closed" : "open" },
      el("td", {}, x.kind), el("td", {}, x.severity), el("td", {}, x.device_id),
      el("td", {}, fmtTime(x.started_at)), el("td", {}, x.ended_at ? fmtTime(x.ended_at) : "open"),
      el("td", {}, fmtNum(x.peak_c)), el("td", {}, fmtNum(x.degree_minutes)))));
}

function renderAlerts(alerts) {
  $("#alerts-table tbody").replaceChildren(...alerts.map((alert) => {
    const deliveries = alert.deliveries.map((d) =>
      el("span", { class: `delivery delivery-${d.status}`, "data-channel": d.channel, "data-status": d.status },
        d.status === "pending" && d.deferred ? `${d.role} ${d.channel}: deferred to ${fmtTime(d.not_before)}`
          : `${d.role} ${d.channel}: ${d.status}`));
    const acked = alert.acknowledged;
    const canAck = !acked && state.role !== "auditor";
    return el("tr", { "data-alert": alert.id, "data-acknowledged": String(acked) },
      el("td", {}, `${alert.kind} ${alert.found_late ? "found late" : alert.step}`), el("td", {}, alert.severity),
      el("td", {}, fmtTime(alert.raised_at)), el("td", {}, deliveries.length ? deliveries : alert.suppressed || "—"),
      el("td", { class: "ack-state" }, acked ? `yes, ${fmtTime(alert.acknowledged_at)} by ${alert.acknowledged_by}` : "no"),
      el("td", {}, canAck ? el("button", { class: "ack", type: "button", "data-alert": alert.id,
        onclick: () => acknowledge(alert.id) }, "Acknowledge") : null));
  }));
}

async function acknowledge(alertId) {
  await api("POST", `/api/v1/alerts/${encodeURIComponent(alertId)}/ack`);
  await loadShipment();
}

// ---- the route schematic -----------------------------------------------------------------------

function routeLegs(summary) {
  if (summary.forecast && summary.forecast.legs && summary.forecast.legs.length) return summary.forecast.legs;
  const s = summary.shipment;
  const stops = [s.origin, ...s.waypoints, s.destination];
  return stops.slice(1).map((stop, i) => ({ index: i, origin: stops[i].name, destination: stop.name, mode: stop.mode || "road", state: "planned" }));
}

function drawRoute(summary) {
  const area = $("#route");
  area.replaceChildren();
  const legs = routeLegs(summary);
  const left = 40, right = 860, y = 50;
  const step = (right - left) / Math.max(legs.length, 1);
  legs.forEach((leg, i) => {
    const x1 = left + i * step, x2 = left + (i + 1) * step;
    area.append(svg("line", { class: `leg ${leg.state}`, x1, y1: y, x2, y2: y, "data-leg": i }));
    area.append(svg("text", { x: (x1 + x2) / 2, y: y - 14, "text-anchor": "middle" }, `${leg.mode}${leg.state === "active" ? " (under way)" : ""}`));
    if (leg.state === "active") area.append(svg("circle", { cx: (x1 + x2) / 2, cy: y, r: 7, fill: "#ef6c00" }));
  });
  const names = legs.length ? [legs[0].origin, ...legs.map((l) => l.destination)] : [];
  names.forEach((name, i) => {
    const x = left + i * step;
    area.append(svg("circle", { class: "stop", cx: x, cy: y, r: 8 }));
    area.append(svg("text", { x, y: y + 28, "text-anchor": i === 0 ? "start" : i === names.length - 1 ? "end" : "middle" }, name));
  });
}

// ---- the temperature chart ---------------------------------------------------------------------

function drawChart(readings, excursions, limits) {
  const area = $("#chart");
  area.replaceChildren();
  const W = 900, H = 300, L = 45, R = 15, T = 12, B = 28;
  const points = readings.filter((r) => r.temp_c !== null && r.temp_c !== undefined)
    .map((r) => ({ t: Date.parse(r.time), v: r.temp_c, device: r.device_id }));
  if (!points.length) {
    area.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "axis-label" }, "no readings yet"));
    return;
  }
  const times = points.map((p) => p.t);
  let t0 = Math.min(...times), t1 = Math.max(...times);
  if (t1 === t0) { t0 -= 60e3; t1 += 60e3; }
  const values = points.map((p) => p.v);
  if (limits) values.push(limits.critical_low_c, limits.critical_high_c);
  const v0 = Math.floor(Math.min(...values) - 1), v1 = Math.ceil(Math.max(...values) + 1);
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + ((v1 - v) / (v1 - v0)) * (H - T - B);

  for (let v = v0; v <= v1; v += Math.max(1, Math.round((v1 - v0) / 8))) {
    area.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    area.append(svg("text", { class: "axis-label", x: L - 6, y: y(v) + 4, "text-anchor": "end" }, `${v}°`));
  }
  for (let i = 0; i <= 4; i += 1) {
    const t = t0 + ((t1 - t0) * i) / 4;
    area.append(svg("text", { class: "axis-label", x: x(t), y: H - 8, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" },
      new Date(t).toISOString().slice(5, 16).replace("T", " ")));
  }
  if (limits) {
    area.append(svg("rect", { class: "band", x: L, width: W - L - R, y: y(limits.nominal_high_c),
      height: y(limits.nominal_low_c) - y(limits.nominal_high_c) }));
    for (const [name, value] of [["nominal", limits.nominal_low_c], ["nominal", limits.nominal_high_c],
      ["critical", limits.critical_low_c], ["critical", limits.critical_high_c]]) {
      area.append(svg("line", { class: `limit ${name}`, "data-limit": value, x1: L, x2: W - R, y1: y(value), y2: y(value) }));
    }
  }
  for (const exc of excursions.filter((e) => e.kind !== "humidity_low")) {
    const start = Math.max(Date.parse(exc.started_at), t0);
    const end = exc.ended_at ? Math.min(Date.parse(exc.ended_at), t1) : t1;
    if (end < start) continue;
    const rect = svg("rect", { class: "excursion", "data-excursion": exc.id, x: x(start), y: T,
      width: Math.max(2, x(end) - x(start)), height: H - T - B });
    rect.append(svg("title", {}, `${exc.kind} ${exc.severity}, peak ${fmtNum(exc.peak_c)} °C`));
    area.append(rect);
  }
  const byDevice = new Map();
  for (const p of points) {
    if (!byDevice.has(p.device)) byDevice.set(p.device, []);
    byDevice.get(p.device).push(p);
  }
  [...byDevice.entries()].forEach(([device, series], i) => {
    series.sort((a, b) => a.t - b.t);
    const line = svg("polyline", { class: "temp", "data-device": device, stroke: DEVICE_COLOURS[i % DEVICE_COLOURS.length],
      points: series.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ") });
    line.append(svg("title", {}, device));
    area.append(line);
  });
}

// ---- start -------------------------------------------------------------------------------------

$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("#token-input").value.trim();
  if (token) login(token);
});
$("#logout-button").addEventListener("click", () => logout());
window.addEventListener("hashchange", route);
if (state.token) login(state.token); else logout();

// Fleet controls: search as you type (debounced), everything or active only, the next page.
$("#fleet-search").addEventListener("input", () => debounce("fleet-search", 300, () => loadFleet()));
$("#fleet-all").addEventListener("change", () => loadFleet());
$("#fleet-more").addEventListener("click", () => loadFleet(true));
