/* The command page's REST panels: the people of the event (revoke one, or one of their devices)
 * and the audit log (reads of personal data and admin changes, by id and field name). */
import { html, render } from "../vendor/lit-html/lit-html.js";
import { toast } from "./page.js";
import { ago, api, fmt, groupName, label } from "./util.js";

/** Wire the panels' buttons; `page` is the command page (app.js). */
export function wirePeoplePanels(page) {
  const s = page.s;
  const byId = (id) => document.getElementById(id);
  const refused = (message) => toast(s.refused + ": " + message, "danger");
  const offline = () => toast(s.offline, "danger");
  const post = (path, body, done) => api(path, { body: body, done: done, refused: (m) => { refused(m); done(); }, offline: offline });
  const devices = {}; // participant -> devices listed, once asked for

  function revokeDevice(d, p) {
    if (window.confirm(s.device_revoke_confirm)) post("/device-revocations", { device: d.device }, () => loadDevices(p));
  }

  function deviceRow(d, p) {
    const used = d.last_used_at ? fmt(s.last_used, { t: ago(d.last_used_at, s) }) : s.never_used;
    return html`<li data-device=${d.device} data-revoked=${d.revoked ? "1" : "0"}>
      <div>${(d.label || "#" + d.device) + " · " + used + (d.revoked ? " · ✕" : "")}</div>
      ${d.revoked ? "" : html`<div class="actions"><button type="button" class="danger" @click=${() => revokeDevice(d, p)}>${s.revoke}</button></div>`}</li>`;
  }

  function loadDevices(p) {
    api("/participants/" + encodeURIComponent(p.participant) + "/devices", {
      done(list) { devices[p.participant] = list; showPeople(); }, refused: refused, offline: offline,
    });
  }

  function revoke(p) {
    if (!window.confirm(s.revoke_confirm)) return;
    post("/revocations", { participant: p.participant, revoke_invite: byId("revoke-invite").checked }, loadPeople);
  }

  let people = [];
  function showPeople() {
    render(people.map((p) => html`<li data-participant=${p.participant}>
      <div>${p.callsign + " · " + label("role", p.role) + (groupName(p.group) ? " · " + groupName(p.group) : "") + (p.revoked ? " · ✕" : "")}</div>
      ${p.revoked || p.participant === page.cfg.participant ? "" : html`<div class="actions">
        <button type="button" class="secondary" data-action="devices" @click=${() => loadDevices(p)}>${s.devices}</button>
        <button type="button" class="danger" @click=${() => revoke(p)}>${s.revoke}</button></div>
        <ul class="fo-devices">${devices[p.participant] === undefined ? "" : devices[p.participant].length
          ? devices[p.participant].map((d) => deviceRow(d, p)) : html`<li>${s.no_devices}</li>`}</ul>`}</li>`), byId("people"));
  }

  function loadPeople() {
    api("/participants", { done(list) { people = list; showPeople(); }, refused: refused, offline: offline });
  }

  function auditRow(e) {
    const who = e.callsign || (e.participant ? "#" + e.participant : "admin #" + e.user);
    const what = e.action + " · " + e.model + " #" + e.object_id + (e.fields.length ? " · " + e.fields.join(", ") : "");
    const meta = new Date(e.at).toLocaleString() + " · " + who + " · " + e.via + (e.bulk_action ? " · " + e.bulk_action : "");
    return html`<li data-audit=${e.id} data-action=${e.action}><div>${what}</div><div class="meta">${meta}</div></li>`;
  }

  byId("people-load").addEventListener("click", loadPeople);
  byId("audit-load").addEventListener("click", () => api("/audit", {
    done(body) { render(body.entries.map(auditRow), byId("audit")); }, refused: refused, offline: offline,
  }));
}
