/* Command page (organizers): the live map, triage panels, people, feed, incidents, route drawing,
 * alerts; invites, people and audit are in command-people.js. The standing state (who is overdue,
 * off route, in a danger zone, in SOS, who has not confirmed the route) comes from the server with
 * the page (cfg.triage and the map snapshot) and is kept current by the reducer (state.js); this
 * module only draws it (triage.js derives the panels) and sends what the organizer does. */
import { html, render } from "../vendor/lit-html/lit-html.js";
import { repeat } from "../vendor/lit-html/directives/repeat.js";
import { startPage } from "./app.js";
import { alarmAnswered, drawAlarms } from "./alarms.js";
import { wirePeoplePanels } from "./command-people.js";
import { feedItem, kindLabel } from "./feed.js";
import { incidentText } from "./fieldmap.js";
import { expose, toast } from "./page.js";
import { RouteEditor } from "./route_editor.js";
import { feed, withPresence } from "./state.js";
import { arrestCount, fieldPeople, panels } from "./triage.js";
import { ago, api, fmt, groupName, label, plural } from "./util.js";

const byId = (id) => document.getElementById(id);
const chips = document.querySelectorAll("#triage [data-panel]");
const filterKind = byId("filter-kind"), filterGroup = byId("filter-group"), search = byId("people-search");
const busy = {}; // "incident:status" updates sent and not yet answered
let panel = null; // the open triage panel's name, or null
let pushOn = false; // whether the event sends Web Push (cfg.push, then event.push_changed)
let page = null;

/** Centre the map on a layer, open its tooltip, and bring the map into view on a phone. */
function reveal(layer) {
  if (!layer) return;
  const box = byId("map").getBoundingClientRect();
  if (box.bottom < 0 || box.top > window.innerHeight) byId("map").scrollIntoView({ block: "center" });
  page.fmap.reveal(layer);
}

const also = (text) => (text ? " · " + text : "");
const PRESENCE_POLL_MS = 20000;

/** A phone alive but silent, or a phone gone: what a coordinator needs to tell them apart. */
function phoneText(phone, s) {
  if (!phone || !phone.last_heard) return s.phone_never;
  return fmt(phone.connected ? s.phone_connected : s.phone_gone, { t: ago(phone.last_heard, s) });
}
const FLAG_TEXT = { sos: "sos", overdue: "flag_overdue", off_route: "flag_off_route", in_zone: "in_zone" };

/** One tappable row: {text, detail, level, layer, participant}. */
function row(item) {
  return html`<li class="level-${item.level || "warning"}" data-participant=${item.participant === undefined ? "" : item.participant}
      data-status=${item.status === undefined ? "" : item.status} data-flags=${item.flags === undefined ? "" : item.flags}>
    <button type="button" class="fo-tap-button" @click=${() => reveal(item.layer)}><span class="fo-tap-text">${item.text}</span>
      ${item.detail ? html`<span class="meta">${item.detail}</span>` : ""}</button></li>`;
}

function personRow(p, detail) {
  return { text: p.callsign + " · " + label("role", p.role) + also(groupName(p.group)), detail: detail, layer: page.fmap.positions[String(p.participant)], participant: p.participant };
}

/** Each panel's rows, in words. */
function panelRows(state, name) {
  const s = page.s, items = panels(state)[name], fmap = page.fmap;
  switch (name) {
    case "sos": return items.map(({ incident: i }) => ({ text: s.sos + " · " + (i.reporter || "#" + i.incident), detail: label("status", i.status) + (i.description ? " — " + i.description : ""), layer: fmap.incidents[String(i.incident)], level: "danger" }));
    case "overdue": return items.map((x) => personRow(x.person, plural(s.overdue, Math.max(0, Math.round((Date.now() - Date.parse(x.flag.silent_since)) / 60000))) + also(phoneText(x.person.phone || x.flag.phone, s))));
    case "off_route": return items.map((x) => personRow(x.person, fmt(s.off_route, { d: Math.round(x.flag.distance_m) })));
    case "in_zone": return items.map((x) => personRow(x.person, s.in_zone + ": " + x.flag.name));
    case "incidents": return items.map(({ incident: i }) => ({ text: "#" + i.incident + " " + incidentText(i), detail: "", layer: fmap.incidents[String(i.incident)], level: i.severity === "high" || i.severity === "critical" ? "danger" : "warning" }));
    default: return items.map((a) => Object.assign(personRow(a.person, fmt(s.route_unconfirmed, { v: a.route.version }) + also(groupName(a.route.group))), { layer: fmap.positions[String(a.person.participant)] || fmap.routes[a.scope] }));
  }
}

function drawTriage(state) {
  chips.forEach((chip) => {
    const name = chip.getAttribute("data-panel"), n = panels(state)[name].length;
    chip.querySelector(".n").textContent = String(n);
    chip.setAttribute("data-count", String(n));
    chip.setAttribute("aria-pressed", String(panel === name));
  });
  const rows = panel === null ? [] : panelRows(state, panel);
  byId("triage-list").hidden = panel === null;
  render(panel !== null && !rows.length ? html`<li class="fo-empty">${page.s.nobody}</li>` : rows.map(row), byId("triage-list"));
}

function drawPeople(state) {
  const s = page.s, q = search.value.trim().toLowerCase();
  const rows = fieldPeople(state).filter((r) => !q || r.person.callsign.toLowerCase().indexOf(q) >= 0).map((r) => {
    const p = r.person, seen = p.at ? fmt(s.last_seen, { t: ago(p.at, s) }) : s.no_checkin;
    const item = personRow(p, [p.status ? label("checkin", p.status) : "", seen, phoneText(p.phone, s)].concat(r.flags.map((f) => s[FLAG_TEXT[f]])).filter(Boolean).join(" · "));
    return Object.assign(item, { level: r.flags.length || (p.status && p.status !== "ok") ? "danger" : "info", status: p.status || "", flags: r.flags.length ? "1" : "0" });
  });
  render(repeat(rows, (r) => r.participant, row), byId("people-rows"));
  let marshals = 0, medics = 0;
  Object.values(state.people).forEach((p) => { if (p.role === "marshal") marshals++; else if (p.role === "medic") medics++; });
  const a = arrestCount(state);
  byId("count-arrests").textContent = s.arrests + ": " + a.records + " (" + plural(s.people_n, a.people) + ")";
  byId("count-marshals").textContent = s.marshals + ": " + marshals;
  byId("count-medics").textContent = s.medics + ": " + medics;
}

function updateIncident(ev, i, status) {
  ev.stopPropagation();
  if (page.client.send("incident.update", { incident: i.incident, status: status }) === null) return;
  busy[i.incident + ":" + status] = true;
  page.redraw();
}

/** Open incidents, SOS first, each with what an organizer can do about it. */
function drawIncidents(state) {
  const s = page.s;
  const open = Object.values(state.incidents).sort((a, b) => (b.kind === "sos") - (a.kind === "sos"));
  const action = (i, status, text, cls) => html`<button type="button" class=${cls} data-action=${status} ?disabled=${!!busy[i.incident + ":" + status]} @click=${(ev) => updateIncident(ev, i, status)}>${text}</button>`;
  render(repeat(open, (i) => i.incident, (i) => {
    const level = i.kind === "sos" || i.severity === "high" || i.severity === "critical" ? "danger" : i.severity === "medium" ? "warning" : "info";
    return html`<li class="fo-tap level-${level}" data-incident=${i.incident} data-status=${i.status} @click=${() => reveal(page.fmap.incidents[String(i.incident)])}>
      <div>${"#" + i.incident + " " + incidentText(Object.assign({}, i, { description: "", reporter: "" })) + (i.description ? " — " + i.description : "")}</div>
      <div class="meta">${i.reporter || ""}</div>
      <div class="actions">${i.status === "reported" ? action(i, "acknowledged", s.acknowledge, "") : ""}${action(i, "resolved", s.resolve, "")}${action(i, "dismissed", s.dismiss, "secondary")}</div></li>`;
  }), byId("incidents"));
}

/** The feed, newest first; a check-in that says all is well is only its person's row, and one
 * that asks for help is one line per person, their latest. */
function drawFeed(state) {
  const latest = {}, kinds = {};
  const shown = feed(state).filter((e) => {
    kinds[e.type] = true;
    if (e.type !== "checkin") return true;
    const k = String(e.data.participant), first = !latest[k];
    latest[k] = true;
    return first && e.data.status !== "ok";
  });
  // Keyed: a kind seen for the first time never moves the one the organizer chose.
  render(repeat(Object.keys(kinds).sort(), (k) => k, (k) => html`<option value=${k}>${kindLabel(k)}</option>`), filterKind);
  const hidden = (e) => (filterKind.value && e.type !== filterKind.value) || (filterGroup.value && String(e.data.group) !== filterGroup.value);
  const layer = (d) => (d.incident !== undefined && page.fmap.incidents[String(d.incident)]) || (d.participant !== undefined && page.fmap.positions[String(d.participant)]) || null;
  render(repeat(shown, (e) => e.seq, (e) => feedItem(e, page.s, {
    groups: true, hidden: hidden, tap: e.data.incident !== undefined || e.data.participant !== undefined ? () => reveal(layer(e.data)) : null,
  })), byId("feed"));
}

/** The organizers' switch for the event's Web Push, when the server has it at all. */
function drawPush() {
  const button = byId("event-push");
  button.hidden = !(page.cfg.push && page.cfg.push.key);
  button.textContent = pushOn ? page.s.event_push_on : page.s.event_push_off;
  button.setAttribute("aria-pressed", String(pushOn));
}

function draw(state) {
  if (!page) return;
  drawPush();
  drawTriage(state);
  drawAlarms(page, state, byId("alarms"), (d) => reveal((d.incident && page.fmap.incidents[String(d.incident)]) || page.fmap.positions[String(d.participant)]));
  drawPeople(state);
  drawIncidents(state);
  drawFeed(state);
}

page = startPage({
  cluster: true,
  render: draw,
  onEntry(entry) {
    const d = entry.data || {};
    // History rebuilds the lists; only what happens now raises a toast.
    if (!entry.replayed && (entry.type === "sos.raised" || (entry.type === "incident.reported" && d.kind === "sos"))) toast(page.s.sos + " · " + (d.reporter || ""), "danger");
    // The page's config says how push is now; only later entries change it.
    if (entry.type === "event.push_changed" && entry.seq > page.cfg.seq) { pushOn = !!d.enabled; drawPush(); }
    if (entry.type === "incident.updated") Object.keys(busy).forEach((k) => { if (k.indexOf(d.incident + ":") === 0) delete busy[k]; });
  },
  ack(item) { if (!alarmAnswered(item) && item.type !== "incident.update") toast(page.s.sent, "info"); },
  error(frame, item) {
    if (item && alarmAnswered(item)) page.redraw();
    if (item && item.type === "incident.update") { Object.keys(busy).forEach((k) => delete busy[k]); page.redraw(); }
  },
});
pushOn = !!(page.cfg.push && page.cfg.push.enabled);
byId("event-push").addEventListener("click", () => page.client.send("event.push", { enabled: !pushOn }));
chips.forEach((chip) => chip.addEventListener("click", () => {
  const name = chip.getAttribute("data-panel");
  panel = panel === name ? null : name;
  page.redraw();
}));
[filterKind, filterGroup].forEach((select) => select.addEventListener("change", page.redraw));
search.addEventListener("input", page.redraw);
page.redraw();

const drawn = RouteEditor(page.fmap, (data) => page.client.send("route.publish", data));
byId("alert-form").addEventListener("submit", function (ev) {
  ev.preventDefault();
  if (page.client.send("alert.send", { text: this.text.value, audience: this.audience.value, level: this.level.value }) !== null) this.text.value = "";
});
wirePeoplePanels(page);
// Presence is not journaled (a frame is no event); the page asks for it now and then.
setInterval(() => {
  if (document.hidden) return;
  api("/presence", { done: (list) => page.update((state) => withPresence(state, list)), refused() {}, offline() {} });
}, PRESENCE_POLL_MS);
expose({ drawn: drawn });
