/* What an organizer triages, derived from the page's state (state.js): the six standing panels
 * and the flags of each person. Pure: the command page's renderer turns these into text. */

/** Open incidents that are SOS (`sos` true) or not. */
export function openIncidents(state, sos) {
  return Object.values(state.incidents).filter((i) => (i.kind === "sos") === sos);
}

/** Who has still to confirm the newest route they follow: [{route, scope, person}]. */
export function pendingAcks(state) {
  const out = [];
  Object.keys(state.routes).forEach((scope) => {
    const route = state.routes[scope];
    Object.keys(route.pending).forEach((p) => { if (state.people[p]) out.push({ route: route, scope: scope, person: state.people[p] }); });
  });
  return out;
}

/** The people raised by one flag ("overdue", "off_route", "in_zone"), with what it says. */
function flagged(state, name) {
  return Object.keys(state.flags[name]).filter((k) => state.people[k]).map((k) => ({ person: state.people[k], flag: state.flags[name][k] }));
}

/** Each panel's items, in the order the page shows the chips. */
export function panels(state) {
  return {
    sos: openIncidents(state, true).map((i) => ({ incident: i })),
    overdue: flagged(state, "overdue"),
    off_route: flagged(state, "off_route"),
    in_zone: flagged(state, "in_zone"),
    incidents: openIncidents(state, false).map((i) => ({ incident: i })),
    routes: pendingAcks(state),
  };
}

/** A person's flags, most urgent first: "sos", "overdue", "off_route", "in_zone". */
export function personFlags(state, person) {
  const k = String(person.participant), out = [];
  if (openIncidents(state, true).some((i) => i.reporter === person.callsign)) out.push("sos");
  ["overdue", "off_route", "in_zone"].forEach((name) => { if (state.flags[name][k]) out.push(name); });
  return out;
}

/** The people an organizer sees in the field (marshals, medics, legal observers), flagged first. */
export function fieldPeople(state) {
  return Object.values(state.people)
    .filter((p) => ["marshal", "medic", "legal"].indexOf(p.role) >= 0)
    .map((p) => ({ person: p, flags: personFlags(state, p) }))
    .sort((a, b) => (b.flags.length - a.flags.length) || a.person.callsign.localeCompare(b.person.callsign));
}

/** Arrest records and the people they name. */
export function arrestCount(state) {
  const all = Object.values(state.arrests);
  return { records: all.length, people: all.reduce((n, a) => n + (a.people_count || 0), 0) };
}
