/* Legal observer page: a one-handed arrest form, the arrests logged at the event (each readable in
 * full, a read the server records), incidents and messages, and an SOS.
 *
 * The arrest is recorded where the observer's GPS says, until they tap the map where it happened:
 * that place gets its own marker, and the label always says which of the two will be recorded.
 * Its time is the time of logging, unless the observer changed the field. */
import { html, render } from "../vendor/lit-html/lit-html.js";
import { repeat } from "../vendor/lit-html/directives/repeat.js";
import { startFieldPage } from "./field.js";
import { toast } from "./page.js";
import { api, fmt, label, plain, plural } from "./util.js";

const form = document.getElementById("arrest-form");
const byId = (id) => document.getElementById(id);
let tapped = null; // where the observer tapped the map, if they did: the arrest place
let tappedMarker = null;
let field = null;

function describePlace() {
  const here = field.position.current, s = field.page.s;
  byId("arrest-place").textContent = tapped ? s.arrest_at_tap : here ? fmt(s.arrest_at_gps, { m: here.accuracy_m }) : s.arrest_at_none;
  byId("arrest-place-reset").hidden = !(tapped && here);
}

function clearTap() {
  tapped = null;
  if (tappedMarker) { field.page.fmap.map.removeLayer(tappedMarker); tappedMarker = null; }
  describePlace();
}

function summaryText(a, s) {
  return plural(s.people_n, a.people_count) + (a.agency ? " · " + a.agency : "") + (a.force_used ? " · " + s.force_used : "") + (a.medical_needs ? " · " + s.medical_needs : "");
}

/** The arrests, newest first whatever order they arrived in, and their count. */
function draw(state) {
  const s = field.page.s;
  const arrests = Object.values(state.arrests).sort((a, b) => (a.occurred_at < b.occurred_at ? 1 : a.occurred_at > b.occurred_at ? -1 : 0));
  const people = arrests.reduce((n, a) => n + (a.people_count || 0), 0);
  byId("arrest-total").textContent = arrests.length ? "(" + arrests.length + " · " + plural(s.people_n, people) + ")" : "";
  render(repeat(arrests, (a) => a.arrest, (a) => html`<li data-arrest=${a.arrest} data-at=${a.occurred_at}>
      <button type="button" class="fo-arrest-item" aria-controls="arrest-detail" @click=${() => readBack(a.arrest)}>
        <div>${summaryText(a, s)}</div>
        <div class="meta">${new Date(a.occurred_at).toLocaleString() + (a.observer ? " · " + a.observer : "")}</div></button></li>`), byId("arrests"));
}

/* --- reading a record back: labels are the form's own, already in the page's language ------ */
const DETAIL_FIELDS = ["people_count", "agency", "arrestee_description", "officers", "dispersal_details", "force_details", "stated_reason", "vehicle", "taken_to", "welfare_notes", "witnesses", "notes"];

function labelOf(name) {
  const found = form.querySelector('label[for="' + name + '"]');
  return found ? found.textContent.trim() : name;
}

function showRecord(rows) {
  render(rows.map(([term, value]) => html`<dt>${term}</dt><dd>${value}</dd>`), byId("arrest-detail-body"));
}

function readBack(id) {
  const s = field.page.s, detail = byId("arrest-detail");
  detail.hidden = false;
  render(html`<dd>${s.loading}</dd>`, byId("arrest-detail-body"));
  detail.querySelector("h2").focus();
  api("/arrests/" + encodeURIComponent(id), {
    done(rec) {
      detail.setAttribute("data-arrest", rec.arrest);
      const rows = [[s.arrest_record, new Date(rec.occurred_at).toLocaleString() + (rec.observer ? " · " + rec.observer : "")]];
      rows.push([labelOf("dispersal_order"), label("dispersal", rec.dispersal_order)]);
      ["force_used", "medical_needs"].forEach((name) => { if (rec[name]) rows.push([form[name].closest("label").textContent.trim(), "✓"]); });
      DETAIL_FIELDS.forEach((name) => {
        const v = rec[name];
        if (v !== null && v !== undefined && v !== "") rows.push([labelOf(name), String(v)]);
      });
      if (rec.purged) rows.push([s.arrest_record, s.purged]);
      showRecord(rows);
    },
    refused(message) { showRecord([[s.refused, message]]); },
    offline() { showRecord([[s.offline, ""]]); },
  });
}

field = startFieldPage({
  render: (state) => draw(state),
  locate: () => (field.position.current || tapped),
  tap: false,
  moved: () => describePlace(),
  feedSkip: (entry) => entry.type === "arrest.logged",
});
field.page.redraw();

field.page.fmap.map.on("click", (ev) => {
  tapped = { lat: ev.latlng.lat, lng: ev.latlng.lng };
  if (tappedMarker) tappedMarker.setLatLng(ev.latlng);
  else tappedMarker = L.marker(ev.latlng, {
    icon: L.divIcon({ className: "fo-arrest-here-icon", html: plain("✕", "fo-arrest-here"), iconSize: [40, 40], iconAnchor: [20, 20] }),
    keyboard: false, zIndexOffset: 800,
  }).addTo(field.page.fmap.map);
  describePlace();
});
byId("arrest-place-reset").addEventListener("click", clearTap);
byId("arrest-detail-close").addEventListener("click", () => { byId("arrest-detail").hidden = true; });
describePlace();

/* --- the time: now, kept current until the observer edits it ----------------------------- */
let timeEdited = false;
function freshTime() {
  if (timeEdited) return;
  const d = new Date();
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  form.occurred_at.value = d.toISOString().slice(0, 16);
}
form.occurred_at.addEventListener("input", () => { timeEdited = true; });
setInterval(freshTime, 15000);
freshTime();

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const p = tapped || field.position.current;
  if (!p) { toast(field.page.s.arrest_at_none, "warning"); return; }
  const data = { lat: p.lat, lng: p.lng, people_count: parseInt(form.people_count.value, 10) || 1 };
  // The time of logging, unless the observer set another: a form opened long ago is not stale.
  data.occurred_at = timeEdited && form.occurred_at.value ? new Date(form.occurred_at.value).toISOString() : new Date().toISOString();
  DETAIL_FIELDS.slice(1).forEach((name) => {
    const v = form[name].value.trim();
    if (v) data[name] = v;
  });
  data.dispersal_order = form.dispersal_order.value;
  data.force_used = form.force_used.checked;
  data.medical_needs = form.medical_needs.checked;
  const id = field.page.client.send("arrest.log", data);
  if (!id) return;
  field.queued(id);
  form.reset();
  timeEdited = false;
  freshTime();
  clearTap();
});
