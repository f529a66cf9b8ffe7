/* Journal entries as the pages show them: one line of text (`describe`), a level (`levelOf`, from
 * the server's kind table `cfg.kinds` and what the entry's data says), and the feed and message
 * templates every page draws with lit-html. Text is only ever bound as text: nothing from the
 * server or a participant is parsed as HTML. */
import { html } from "../vendor/lit-html/lit-html.js";
import { repeat } from "../vendor/lit-html/directives/repeat.js";
import { config, fmt, groupName, label, plural } from "./util.js";

/** A kind's name for people (the server's table), or the kind itself if it is new to it. */
export const kindLabel = (type) => label("entry", type);

/** How loud an entry is: "info", "warning" or "danger". The kind's own level comes from the
 * server (page_strings.KIND_TABLE); what only the data can say is decided here: an SOS incident
 * and a high or critical severity are danger, an alert or zone carries its own level, and a
 * check-in that is not "ok" is at least a warning. */
export function levelOf(entry) {
  const d = entry.data || {};
  if (d.kind === "sos") return "danger";
  if (d.level) return d.level;
  if (d.severity === "high" || d.severity === "critical") return "danger";
  if (entry.type === "checkin" && d.status && d.status !== "ok") return "warning";
  const known = (config().kinds || {})[entry.type];
  return known ? known.level : "info";
}

/** One line of text for a journal entry, for the feeds and toasts: client strings and labels,
 * never a raw value. Kinds this page does not know still show, by their label. */
export function describe(entry, s, name) {
  const d = entry.data || {};
  const who = d.callsign || d.reporter || d.observer || d.sender || d.by || "";
  const group = d.group !== null && d.group !== undefined ? (name || groupName)(d.group) : "";
  function more(text) { return text ? " — " + text : ""; }
  function also(text) { return text ? " · " + text : ""; }
  switch (entry.type) {
    case "checkin": return fmt(s.line_checkin, { who: who, status: label("checkin", d.status) }) + more(d.note);
    case "incident.reported":
      return fmt(s.line_incident, { kind: label("kind", d.kind), severity: label("severity", d.severity) }) + also(d.reporter) + more(d.description);
    case "incident.updated":
      return fmt(s.line_incident_updated, { id: d.incident, kind: label("kind", d.kind), status: label("status", d.status) }) +
        (d.by ? also(fmt(s.line_by, { who: d.by })) : "") + more(d.note);
    case "sos.raised": return fmt(s.line_sos, { who: who }) + more(d.description);
    case "sos.updated": return fmt(s.line_sos_updated, { who: who }) + more(d.description);
    case "sos.nearby":
      return fmt(s.line_sos_nearby, { who: d.sender, away: fmt(s.away, { d: Math.round(d.distance_m), dir: label("direction", d.direction) }) }) + more(d.note);
    case "arrest.logged": return plural(s.line_arrest, d.people_count) + also(d.agency) + also(d.observer);
    case "arrest.updated": return fmt(d.released ? s.line_arrest_released : s.line_arrest_updated, { id: d.arrest }) + also(d.by);
    case "route.published": return s.route_changed + " " + fmt(s.line_route, { version: d.version }) + also(group) + more(d.note);
    case "route.acked": return fmt(s.line_route_acked, { who: who, version: d.version });
    case "route.ack_reminder": return fmt(s.line_route_reminder, { who: who, version: d.version });
    case "alert.sent": return d.text;
    case "participant.joined": return fmt(s.line_joined, { who: who, role: label("role", d.role) });
    case "participant.revoked": return fmt(s.line_revoked, { who: who, role: label("role", d.role) });
    case "participant.changed": return fmt(s.line_changed, { who: who, role: label("role", d.role) }) + also(group);
    case "device.revoked": return fmt(s.line_device_revoked, { who: who }) + also(d.label);
    case "invite.revoked": return fmt(s.line_invite_revoked, { role: label("role", d.role) }) + also(d.label);
    case "marshal.overdue": return who + ": " + plural(s.overdue, Math.round(d.silent_minutes));
    case "marshal.back": return who + ": " + s.back;
    case "marshal.off_route": return who + ": " + fmt(s.off_route, { d: Math.round(d.distance_m) });
    case "marshal.on_route": return who + ": " + s.on_route;
    case "marshal.in_zone": return fmt(s.line_in_zone, { who: who, name: d.name });
    case "zone.activated": return s.zone_on + ": " + d.name;
    case "zone.deactivated": return s.zone_off + ": " + d.name;
    default:
      return (who ? who + ": " : "") + (d.text || kindLabel(entry.type));
  }
}

/** A feed line: what happened, then its kind and time (`meta: false` leaves the kind out). */
export function feedItem(entry, s, options) {
  const d = entry.data || {}, o = options || {};
  const group = o.groups ? groupName(d.group) : "";
  const time = new Date(entry.at).toLocaleTimeString();
  const meta = (o.kind === false ? time : kindLabel(entry.type) + " · " + time) + (group ? " · " + group : "");
  return html`<li class="level-${levelOf(entry)}${o.tap ? " fo-tap" : ""}" data-seq=${entry.seq} data-kind=${entry.type}
      data-group=${d.group === null || d.group === undefined ? "" : String(d.group)}
      data-participant=${d.participant === undefined ? "" : String(d.participant)}
      ?hidden=${!!o.hidden && o.hidden(entry)} @click=${o.tap ? () => o.tap(entry) : null}>
    <div>${describe(entry, s)}</div><div class="meta">${meta}</div></li>`;
}

/** A whole feed, newest first, each line kept by its seq. */
export function feedList(entries, s, options) {
  return repeat(entries, (e) => e.seq, (e) => feedItem(e, s, options));
}

/** The messages at the top of a page: organizers' alerts (until they expire), danger zones still
 * active, warnings about now; newest first. */
export function alertList(state, s) {
  const now = Date.now();
  const shown = Object.keys(state.alerts).map(Number).sort((a, b) => b - a).map((seq) => state.alerts[seq])
    .filter((a) => !(a.entry.data.expires_at && Date.parse(a.entry.data.expires_at) < now));
  return repeat(shown, (a) => a.entry.seq, (a) => html`<div class="fo-alert level-${a.level}" role="alert"
      data-seq=${a.entry.seq} data-key=${a.key} data-zone=${a.key ? a.entry.data.place : ""}>${a.entry.type === "alert.sent" ? a.entry.data.text : describe(a.entry, s)}</div>`);
}
