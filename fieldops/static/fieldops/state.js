/* A page's state, and the one reducer that keeps it: `initialState(snapshot, cfg)` from what the
 * server rendered with the page, then `applyEntry(state, entry)` for every journal entry. Pure: it
 * returns a new state (collections it did not touch are shared, an entity that changed is a new
 * object, so renderers tell what to redraw by identity) and touches no DOM; every page draws the
 * result with its own renderer and raises its own toasts.
 *
 * An entry at or below `cfg.seq` is history the snapshot already accounts for. The first replay
 * brings the last entries in order up to the present, so applying them ends where the server is
 * (and fills in what the snapshot does not carry, such as a check-in's note); history only ever
 * brings back a message that is still current (an alert, a zone still active, news of an SOS still
 * active), never an alarm about the past. Later entries may come out of order during a resume:
 * every entity keeps the seq that last set it (`stamps`), and an older entry never overwrites a
 * newer one. */
import { contains } from "./geo.js";
import { scopeOf } from "./util.js";

export const FEED_MAX = 500;
const FIELD_ROLES = ["marshal", "medic", "legal"];
const CLOSED = ["resolved", "dismissed"];

const put = (obj, key, value) => Object.assign({}, obj, { [key]: value });
function drop(obj, key) {
  if (!(key in obj)) return obj;
  const out = Object.assign({}, obj);
  delete out[key];
  return out;
}
function byKey(list, key) {
  const out = {};
  (list || []).forEach((x) => { out[String(x[key])] = x; });
  return out;
}

/** The state a page starts from: the snapshot's features and what its config carries. */
export function initialState(snapshot, cfg) {
  const triage = cfg.triage || {};
  const state = {
    seq: cfg.seq || 0,
    me: { participant: cfg.participant, role: cfg.role, group: cfg.group, callsign: cfg.callsign },
    // The route this participant follows, as the server worked it out (routes.route_for).
    followed: cfg.route ? scopeOf(cfg.route.group) : "event",
    watch: !!cfg.triage, // an organizer's page: it keeps everyone's standing
    entries: {}, // seq -> entry, the feed
    stamps: {}, // entity -> seq of the entry that last set it
    people: byKey(triage.people, "participant"), // participant -> person and latest check-in
    incidents: {}, // open incidents, SOS included
    routes: {}, // scope -> newest route, with `pending`: {participant: true} still to confirm
    places: {}, // active places and zones
    arrests: byKey(cfg.arrests, "arrest"),
    alerts: {}, // seq -> {entry, level, key}: messages the page shows at the top
    sos: byKey(cfg.active_sos, "incident"), // SOS this page is alerted to (not its own)
    alarms: byKey(cfg.alarms, "alarm"), // open alarms this page is told of (alarms.js)
    activeAtLoad: byKey(cfg.active_sos, "incident"),
    acked: {}, // routes this page confirmed
    flags: {
      overdue: byKey(triage.overdue, "participant"),
      off_route: byKey(triage.off_route, "participant"),
      in_zone: byKey(triage.in_zone, "participant"),
    },
    revoked: {},
  };
  (snapshot.features || []).forEach((f) => {
    const p = f.properties, at = f.geometry.coordinates;
    if (p.layer === "route") state.routes[scopeOf(p.group)] = Object.assign({ geometry: f.geometry, pending: {}, changed: false }, p);
    else if (p.layer === "place") state.places[String(p.place)] = Object.assign({ geometry: f.geometry }, p);
    else if (p.layer === "incident") state.incidents[String(p.incident)] = Object.assign({ lat: at[1], lng: at[0] }, p);
    else if (p.layer === "position") {
      const k = String(p.participant);
      state.people[k] = Object.assign({}, state.people[k], p, { lat: at[1], lng: at[0] });
    }
  });
  (triage.routes || []).forEach((r) => {
    const scope = scopeOf(r.group);
    const pending = {};
    r.pending.forEach((p) => { pending[String(p.participant)] = true; });
    state.routes[scope] = Object.assign({ route: r.route, version: r.version, group: r.group }, state.routes[scope], { pending: pending });
  });
  (cfg.unacked_routes || []).forEach((r) => {
    const scope = scopeOf(r.group);
    state.routes[scope] = Object.assign({}, r, state.routes[scope], {
      changed: r.changed, pending: put((state.routes[scope] || {}).pending || {}, String(cfg.participant), true),
    });
  });
  return state;
}

/** Whether `entry` is the newest word on `key`; if so, stamps it. */
function fresh(state, key, entry) {
  if ((state.stamps[key] || 0) > entry.seq) return false;
  state.stamps = put(state.stamps, key, entry.seq);
  return true;
}

function forget(state, participant) {
  const k = String(participant);
  state.people = drop(state.people, k);
  state.flags = { overdue: drop(state.flags.overdue, k), off_route: drop(state.flags.off_route, k), in_zone: drop(state.flags.in_zone, k) };
  Object.keys(state.routes).forEach((scope) => {
    const r = state.routes[scope];
    if (k in r.pending) state.routes = put(state.routes, scope, Object.assign({}, r, { pending: drop(r.pending, k) }));
  });
}

function flag(state, name, k, value) {
  state.flags = put(state.flags, name, value === null ? drop(state.flags[name], k) : put(state.flags[name], k, value));
}

/** The scope of the route a person follows: their group's own if it has one, else the march's;
 * this page's participant follows what the server said, until a route for their group appears. */
export function followedBy(state, person) {
  if (String(person.participant) === String(state.me.participant)) return state.followed;
  return state.routes[scopeOf(person.group)] && person.group !== null ? scopeOf(person.group) : "event";
}

/** Who must confirm a new route for `scope`: the marshals following it (the server's rule in
 * services/safety/acks.py). An organizer's page knows every marshal; any other only itself. */
function routeAudience(state, scope) {
  const people = state.watch ? Object.values(state.people) : [state.me];
  const out = {};
  people.forEach((p) => { if (p.role === "marshal" && followedBy(state, p) === scope) out[String(p.participant)] = true; });
  return out;
}

function routePublished(state, d) {
  const scope = scopeOf(d.group), known = state.routes[scope];
  if (known && known.version >= d.version) return;
  // A change if it replaced a route these marshals followed: its own scope's, or the march's.
  const changed = !!known || (scope !== "event" && !!state.routes.event);
  state.routes = put(state.routes, scope, Object.assign({}, d, { changed: changed, pending: {} }));
  if (scope !== "event" && scope === scopeOf(state.me.group)) state.followed = scope;
  state.routes = put(state.routes, scope, Object.assign({}, state.routes[scope], { pending: routeAudience(state, scope) }));
}

function routeConfirmed(state, route, participant) {
  Object.keys(state.routes).forEach((scope) => {
    const r = state.routes[scope];
    if (r.route === route && String(participant) in r.pending) {
      state.routes = put(state.routes, scope, Object.assign({}, r, { pending: drop(r.pending, String(participant)) }));
    }
  });
}

function inDangerZone(state, lat, lng) {
  return Object.values(state.places).some((p) => p.kind === "danger" && contains(p.geometry, { lat: lat, lng: lng }));
}

/** What an entry changes of the standing state: who and what is where. */
function standing(state, entry) {
  const d = entry.data || {}, k = String(d.participant);
  switch (entry.type) {
    case "checkin":
      if (!fresh(state, "person:" + k, entry)) return;
      state.people = put(state.people, k, Object.assign({ participant: d.participant }, state.people[k], {
        callsign: d.callsign, role: d.role, group: d.group, status: d.status, at: entry.at,
        lat: d.lat, lng: d.lng, note: d.note, accuracy_m: d.accuracy_m,
      }));
      flag(state, "overdue", k, null);
      // Leaving a zone writes no entry: a check-in outside every active zone ends the flag.
      if (state.flags.in_zone[k] && !inDangerZone(state, d.lat, d.lng)) flag(state, "in_zone", k, null);
      return;
    case "participant.joined":
      if (FIELD_ROLES.indexOf(d.role) >= 0 && !state.people[k]) state.people = put(state.people, k, Object.assign({ status: null, at: null }, d));
      return;
    case "participant.changed":
      if (FIELD_ROLES.indexOf(d.role) < 0) forget(state, d.participant);
      else state.people = put(state.people, k, Object.assign({ status: null, at: null }, state.people[k], { participant: d.participant, callsign: d.callsign, role: d.role, group: d.group }));
      return;
    case "participant.revoked":
      forget(state, d.participant);
      state.revoked = put(state.revoked, k, true);
      return;
    case "marshal.overdue":
      if (!state.people[k]) return;
      flag(state, "overdue", k, d);
      if (d.phone) state.people = put(state.people, k, Object.assign({}, state.people[k], { phone: d.phone }));
      return;
    case "marshal.back": flag(state, "overdue", k, null); return;
    case "marshal.off_route": if (state.people[k]) flag(state, "off_route", k, d); return;
    case "marshal.on_route": flag(state, "off_route", k, null); return;
    case "marshal.in_zone": if (state.people[k]) flag(state, "in_zone", k, d); return;
    case "incident.reported":
    case "incident.updated":
    case "sos.raised":
    case "sos.updated":
      if (!fresh(state, "incident:" + d.incident, entry)) return;
      if (CLOSED.indexOf(d.status) >= 0) state.incidents = drop(state.incidents, String(d.incident));
      else state.incidents = put(state.incidents, String(d.incident), d);
      return;
    case "route.published": routePublished(state, d); return;
    case "route.acked": routeConfirmed(state, d.route, d.participant); return;
    case "route.ack_reminder": {
      const r = state.routes[scopeOf(d.group)];
      if (r && r.route === d.route && !state.acked[d.route]) {
        state.routes = put(state.routes, scopeOf(d.group), Object.assign({}, r, { changed: d.changed, pending: put(r.pending, k, true) }));
      }
      return;
    }
    case "zone.activated":
      if (fresh(state, "place:" + d.place, entry)) state.places = put(state.places, String(d.place), Object.assign({ kind: "danger" }, d));
      return;
    case "zone.deactivated":
      if (!fresh(state, "place:" + d.place, entry)) return;
      state.places = drop(state.places, String(d.place));
      Object.keys(state.flags.in_zone).forEach((p) => { if (state.flags.in_zone[p].place === d.place) flag(state, "in_zone", p, null); });
      return;
  }
}

/** SOS news: for a medic every SOS, for anyone else those they are told of personally; from
 * history only those still active when the page was made (it adds their distance). */
function sosNews(state, entry, history) {
  const d = entry.data || {}, k = String(d.incident);
  if (entry.type === "incident.updated" && CLOSED.indexOf(d.status) >= 0) { state.sos = drop(state.sos, k); return; }
  if (["sos.raised", "sos.updated", "sos.nearby"].indexOf(entry.type) < 0) return;
  if (entry.type !== "sos.nearby" && state.me.role !== "medic") return;
  if ((history && !state.activeAtLoad[k]) || CLOSED.indexOf(d.status) >= 0) return;
  // A personal `sos.nearby` knows the distance from the last check-in; keep it with the news.
  state.sos = put(state.sos, k, Object.assign({}, state.sos[k], d));
}

/** Alarms: open from `alarm.opened` until `alarm.resolved`; a claim or an escalation updates it. */
function alarmNews(state, entry) {
  if (entry.type.indexOf("alarm.") !== 0) return;
  const d = entry.data || {}, k = String(d.alarm);
  if (!fresh(state, "alarm:" + k, entry)) return;
  if (entry.type === "alarm.resolved") state.alarms = drop(state.alarms, k);
  else state.alarms = put(state.alarms, k, d);
}

/** Messages shown at the top: organizers' alerts, zones still active, warnings about now. */
function messages(state, entry, history) {
  const d = entry.data || {};
  if (entry.type === "alert.sent") state.alerts = put(state.alerts, entry.seq, { entry: entry, level: d.level || "info", key: "" });
  else if (entry.type === "zone.activated" && state.places[String(d.place)]) state.alerts = put(state.alerts, entry.seq, { entry: entry, level: "warning", key: "zone-" + d.place });
  else if (entry.type === "marshal.in_zone" && !history) state.alerts = put(state.alerts, entry.seq, { entry: entry, level: "warning", key: "" });
  else if (entry.type === "zone.deactivated") {
    Object.keys(state.alerts).forEach((seq) => { if (state.alerts[seq].key === "zone-" + d.place) state.alerts = drop(state.alerts, seq); });
  }
}

/** The state after one journal entry (history, live, or replayed out of order). */
export function applyEntry(state, entry) {
  if (typeof entry.seq !== "number" || state.entries[entry.seq]) return state;
  const next = Object.assign({}, state);
  next.entries = put(state.entries, entry.seq, entry);
  const seqs = Object.keys(next.entries);
  if (seqs.length > FEED_MAX) next.entries = drop(next.entries, String(Math.min.apply(null, seqs.map(Number))));
  const history = entry.seq <= state.seq;
  if (entry.type === "arrest.logged" && !state.arrests[String(entry.data.arrest)]) next.arrests = put(state.arrests, String(entry.data.arrest), entry.data);
  standing(next, entry);
  sosNews(next, entry, history);
  alarmNews(next, entry);
  messages(next, entry, history);
  return next;
}

/** This page confirmed a route (the server acknowledged its `route.ack`): nothing more to ask. */
export function routeAcked(state, route) {
  const next = Object.assign({}, state, { acked: put(state.acked, route, true) });
  routeConfirmed(next, route, state.me.participant);
  return next;
}

/** The route this page's participant is asked to confirm, or null. */
export function routeRequest(state) {
  const r = state.routes[state.followed];
  return r && r.pending[String(state.me.participant)] && !state.acked[r.route] ? r : null;
}

/** Each person's phone as the server last said (GET .../presence: connected, last heard). */
export function withPresence(state, list) {
  const next = Object.assign({}, state, { people: Object.assign({}, state.people) });
  list.forEach((x) => {
    const k = String(x.participant);
    if (next.people[k]) next.people[k] = Object.assign({}, next.people[k], { phone: { connected: x.connected, last_heard: x.last_heard } });
  });
  return next;
}

/** The feed, newest first. */
export function feed(state) {
  return Object.keys(state.entries).map(Number).sort((a, b) => b - a).map((seq) => state.entries[seq]);
}
