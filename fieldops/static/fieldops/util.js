/* Small helpers every page module shares: the page's config, its strings and labels, ids. */

let cached = null;

/** The page's config (`fo-config`, written by fieldops/pages.py), read once. */
export function config() {
  if (cached === null) {
    const node = document.getElementById("fo-config");
    cached = node ? JSON.parse(node.textContent) : {};
  }
  return cached;
}

/** The server-rendered snapshot of what the page's role may see (`fo-snapshot`, GeoJSON). */
export function snapshot() {
  const node = document.getElementById("fo-snapshot");
  return node ? JSON.parse(node.textContent) : { features: [] };
}

/** `%(name)s` placeholders filled from `values`; a missing one becomes "". */
export function fmt(text, values) {
  return String(text).replace(/%\((\w+)\)s/g, (_, key) => (values && key in values ? values[key] : ""));
}

/** The translated label of an enum value (cfg.labels) or, for the group "entry", of a journal
 * kind (cfg.kinds); the value itself if the page does not know it. */
export function label(group, value) {
  if (value === null || value === undefined) return "";
  if (group === "entry") {
    const kind = (config().kinds || {})[value];
    return kind ? kind.label : String(value);
  }
  const known = (config().labels || {})[group];
  return known && Object.prototype.hasOwnProperty.call(known, value) ? known[value] : String(value);
}

/** A client string with a count: `forms` is {one, other} (or a plain string), `%(n)s` is `n`;
 * `values` fills any other placeholders. English and Spanish need no more forms than these. */
export function plural(forms, n, values) {
  const text = typeof forms === "string" ? forms : n === 1 ? forms.one : forms.other;
  return fmt(text, Object.assign({ n: n }, values || {}));
}

export function ago(iso, s) {
  const minutes = Math.floor((Date.now() - Date.parse(iso)) / 60000);
  if (!(minutes >= 1)) return s.ago_now;
  if (minutes < 60) return plural(s.ago_min, minutes);
  return plural(s.ago_h, Math.floor(minutes / 60));
}

export function uuid4() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

/** A node for Leaflet, which parses a string given as an icon's `html` or a tooltip as HTML:
 * every text there may come from a participant, so each gets a node with `text` as it is. */
export function plain(text, className) {
  const node = document.createElement("span");
  node.className = className || "fo-text";
  node.textContent = text === null || text === undefined ? "" : String(text);
  return node;
}

/** A march group's name from the config ("" for none or unknown). */
export function groupName(group) {
  const found = (config().groups || []).find((g) => g.group === group);
  return found ? found.name : "";
}

export function groupColor(group) {
  const found = (config().groups || []).find((g) => g.group === group);
  return found ? found.color : "#000";
}

/** Where a route applies: "event" for the whole march, else its group's id as text. */
export function scopeOf(group) {
  return group === null || group === undefined ? "event" : String(group);
}

/** After access ended the page does nothing more (page.js disables every control). */
export function stopped() {
  return document.body.classList.contains("fo-stopped");
}

/** GET, or POST (or `method`) JSON to the event's REST API with the session; `done(reply)` on
 * success, a toast (through `refused`) on a refusal, `offline()` when the request did not get through. */
export function api(path, { body, method, done, refused, offline }) {
  const init = { credentials: "same-origin" };
  if (body !== undefined) {
    init.method = method || "POST";
    init.headers = { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Idempotency-Key": uuid4() };
    init.body = JSON.stringify(body);
  }
  return fetch(config().api + path, init)
    .then((r) => r.json().then((reply) => (r.ok ? done(reply) : refused(reply.message || String(r.status)))))
    .catch(offline);
}
