/* Marshal (and medic) page: check in, report, SOS, the route and places, live alerts.
 *
 * What the page shows is rebuilt on every load: the server's config says what is current (the
 * route to confirm, the active SOS), and the replayed journal refills the messages (state.js).
 * History never raises a toast, and never brings back a request or an alert for something that
 * is over. */
import { html, render } from "../vendor/lit-html/lit-html.js";
import { repeat } from "../vendor/lit-html/directives/repeat.js";
import { alarmAnswered, drawAlarms } from "./alarms.js";
import { alertList } from "./feed.js";
import { startFieldPage } from "./field.js";
import { bearing, compass, distance } from "./geo.js";
import { toast } from "./page.js";
import { routeAcked, routeRequest } from "./state.js";
import { fmt, label, scopeOf } from "./util.js";

const alertsNode = document.getElementById("alerts");
const acking = {}; // outbox id -> route: confirmations sent, not yet acknowledged
let field = null;

function sosWhere(d, s) {
  const here = field.position.current;
  if (here) return fmt(s.away, { d: Math.round(distance(here, d)), dir: label("direction", compass(bearing(here, d))) });
  if (typeof d.distance_m === "number") return fmt(s.away, { d: Math.round(d.distance_m), dir: label("direction", d.direction) });
  return s.distance_unknown;
}

/** Whether an SOS is this page's own: it gets no alert here. */
function own(d) {
  return field.sos.isMine(d) || (d.reporter === field.page.cfg.callsign && field.sos.active);
}

function confirmRoute(r) {
  const id = field.page.client.send("route.ack", { route: r.route });
  if (!id) return;
  acking[id] = r.route;
  field.page.redraw();
}

function draw(state) {
  const s = field.page.s, r = routeRequest(state);
  const sending = Object.values(acking);
  render(html`${r ? html`<div id="route-ack-${r.route}" class="fo-alert level-warning" role="alert" data-version=${r.version}>
      <div>${(r.changed ? s.route_changed : s.route_plan) + " v" + r.version + (r.note ? " — " + r.note : "")}</div>
      <div>${s.route_read}</div>
      <button type="button" class="fo-big" data-route=${r.route} ?disabled=${sending.indexOf(r.route) >= 0}
        @click=${() => confirmRoute(r)}>${s.understood}</button></div>` : ""}
    ${repeat(Object.values(state.sos).filter((d) => !own(d)), (d) => d.incident, (d) => html`<div id="sos-alert-${d.incident}" class="fo-alert level-danger fo-sos-alert" role="alert" data-incident=${d.incident}>
      <div>${fmt(s.sos_from, { who: d.reporter || d.sender || "" }) + (d.description || d.note ? " — " + (d.description || d.note) : "")}</div>
      <div class="fo-sos-where">${sosWhere(d, s)}</div>
      <button type="button" @click=${() => field.page.fmap.map.setView([d.lat, d.lng], 17)}>${s.show_on_map}</button></div>`)}
    ${alertList(state, s)}`, alertsNode);
  drawAlarms(field.page, state, document.getElementById("alarms"), (d) => { if (d.lat !== null) field.page.fmap.map.setView([d.lat, d.lng], 17); });
}

field = startFieldPage({
  render: (state) => draw(state),
  onEntry(entry, before, after) {
    const d = entry.data || {}, s = field.page.s, k = String(d.incident);
    if (!entry.replayed && !own(d) && entry.type !== "sos.updated" && after.sos[k] && !before.sos[k]) toast(fmt(s.sos_from, { who: d.reporter || d.sender || "" }), "danger");
    if (!entry.replayed && before.sos[k] && !after.sos[k]) toast(fmt(s.sos_closed, { who: d.reporter || "" }), "info");
    const scope = scopeOf(d.group);
    if (entry.type === "route.published" && !entry.replayed && after.routes[scope] !== before.routes[scope] && field.page.cfg.role !== "marshal") toast(s.route_changed, "warning");
  },
  error(frame, item) { if (item && alarmAnswered(item)) field.page.redraw(); },
  ack(item) {
    if (alarmAnswered(item)) return false;
    const route = acking[item.id];
    if (route !== undefined) {
      delete acking[item.id];
      field.page.update((state) => routeAcked(state, route));
      return true;
    }
    if (item.type !== "checkin") return false;
    document.getElementById("last-checkin").textContent = field.page.s.sent + " · " + new Date().toLocaleTimeString();
    return true;
  },
  reported() { document.getElementById("report").open = false; },
});
field.page.redraw();

document.getElementById("checkin-form").addEventListener("submit", function (ev) {
  ev.preventDefault();
  const p = field.position.current;
  if (!p) { toast(field.page.s.no_position, "warning"); return; }
  const data = { lat: p.lat, lng: p.lng, status: this.querySelector('input[name="status"]:checked').value, device_time: new Date().toISOString() };
  if (p.accuracy_m !== null) data.accuracy_m = p.accuracy_m;
  field.queued(field.page.client.send("checkin", data));
});
