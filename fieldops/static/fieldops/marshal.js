/* Marshal (and medic) page: check in, report, SOS, the route and places, live alerts.
 *
 * What the page shows is rebuilt on every load: the server's config says what is current (the
 * route to acknowledge, the active SOS), and the replayed journal refills the messages. History
 * (entries up to the config's seq, or arriving as replay) never raises a toast, and never brings
 * back a request or an alert for something that is over.
 */
(function () {
  "use strict";
  var F = window.Fieldops;
  var cfg = F.config();
  var s = cfg.strings;
  var fmap = new F.FieldMap("map", cfg);
  fmap.load(JSON.parse(document.getElementById("fo-snapshot").textContent));
  var positionText = document.getElementById("position");
  var feed = document.getElementById("feed");
  var alerts = document.getElementById("alerts");
  var sos;
  var position = new F.Position(fmap, s, function (p) {
    positionText.textContent = position.describe();
    sos.moved(p);
    Object.keys(sosAlerts).forEach(function (k) { sosWhere(sosAlerts[k]); });
  });
  sos = new F.Sos(cfg, position);

  function groupName(g) { return fmap.groupName(g); }
  function current(entry) { return entry.seq > cfg.seq; } // newer than the page's config

  /** Newest first, by seq: a replay may bring older entries after newer ones. */
  function insertBySeq(list, li, seq) {
    var items = list.children;
    for (var i = 0; i < items.length; i++) {
      if (+items[i].getAttribute("data-seq") < seq) { list.insertBefore(li, items[i]); return; }
    }
    list.appendChild(li);
  }

  function addFeed(entry) {
    if (feed.querySelector('[data-seq="' + entry.seq + '"]')) return;
    insertBySeq(feed, F.el("li", { class: "level-" + F.kindLevel(entry), "data-seq": entry.seq, "data-kind": entry.type }, [
      F.el("div", { text: F.describe(entry, s, groupName) }),
      F.el("div", { class: "meta", text: F.label("entry", entry.type) + " · " + new Date(entry.at).toLocaleTimeString() }),
    ]), entry.seq);
  }

  /* --- route acknowledgements: one request at most per route scope, for its newest version --- */
  var versions = {}; // scope ("event" or a group id) -> newest version known
  Object.keys(fmap.routes).forEach(function (k) { versions[k] = fmap.routes[k].fieldops.version; });
  var requests = {}; // scope -> {route, version, box}
  var acked = {}; // route ids this page acknowledged
  var pendingAcks = {};

  function scopeOf(group) { return group === null || group === undefined ? "event" : String(group); }
  // The route this marshal follows is the one the server worked out (routes.route_for, sent as
  // cfg.route); a route published later for their own group becomes theirs, as it does there.
  var followed = cfg.route ? scopeOf(cfg.route.group) : "event";
  function ownScope() { return followed; }

  function dropRequest(scope) {
    var r = requests[scope];
    if (r) { r.box.remove(); delete requests[scope]; }
  }

  function routeRequest(d, changed) {
    var scope = scopeOf(d.group);
    if (cfg.role !== "marshal" || acked[d.route] || scope !== ownScope()) return;
    if (d.version < (versions[scope] || 0)) return; // superseded
    var old = requests[scope];
    if (old && old.version >= d.version) return;
    dropRequest(scope);
    if (scope !== "event") dropRequest("event"); // the group's own route replaces the march's for it
    var box = F.el("div", { id: "route-ack-" + d.route, class: "fo-alert level-warning", role: "alert", "data-version": d.version }, [
      F.el("div", { text: (changed ? s.route_changed : s.route_plan) + " v" + d.version + (d.note ? " — " + d.note : "") }),
      F.el("div", { text: s.route_read }),
    ]);
    var button = F.el("button", { type: "button", class: "fo-big", "data-route": d.route, text: s.understood });
    button.addEventListener("click", function () {
      var id = client.send("route.ack", { route: d.route });
      if (!id) return;
      pendingAcks[id] = d.route;
      button.disabled = true;
    });
    box.appendChild(button);
    alerts.insertBefore(box, alerts.firstChild);
    requests[scope] = { route: d.route, version: d.version, box: box };
  }

  function routePublished(entry) {
    var d = entry.data, scope = scopeOf(d.group);
    var known = versions[scope] || 0;
    if (d.version <= known) return false; // history the config already accounts for
    // A change if it replaced a route these marshals followed: its own scope's, or the march's.
    var changed = known > 0 || (scope !== "event" && !!versions.event);
    versions[scope] = d.version;
    if (cfg.group !== null && cfg.group !== undefined && scope === String(cfg.group)) followed = scope;
    if (requests[scope] && requests[scope].version < d.version) dropRequest(scope);
    routeRequest(d, changed);
    if (!entry.replayed && cfg.role !== "marshal") F.toast(s.route_changed, "warning");
    return true;
  }

  /* --- alerts: organizers' messages, danger zones ------------------------------------------ */
  function alertBox(entry, text, level, key) {
    if (alerts.querySelector('[data-seq="' + entry.seq + '"]')) return;
    var box = F.el("div", { class: "fo-alert level-" + (level || "info"), role: "alert", "data-seq": entry.seq, "data-key": key || "", text: text });
    alerts.insertBefore(box, alerts.firstChild);
  }

  /* --- SOS alerts: near a marshal, or anywhere for a medic ---------------------------------- */
  var sosAlerts = {}; // incident -> {box, where, d}

  function sosWhere(a) {
    var d = a.d, here = position.current, text;
    if (here) {
      var bearing = F.Position.bearing(here, d);
      text = F.fmt(s.away, { d: Math.round(F.Position.distance(here, d)), dir: F.label("direction", F.Position.compass(bearing)) });
    } else if (typeof d.distance_m === "number") {
      text = F.fmt(s.away, { d: Math.round(d.distance_m), dir: F.label("direction", d.direction) });
    } else {
      text = s.distance_unknown;
    }
    a.where.textContent = text;
  }

  function sosAlert(d, live) {
    var key = String(d.incident);
    var who = d.reporter || d.sender || "";
    var note = d.description || d.note || "";
    var a = sosAlerts[key];
    if (!a) {
      var where = F.el("div", { class: "fo-sos-where" });
      var title = F.el("div");
      var show = F.el("button", { type: "button", text: s.show_on_map });
      var box = F.el("div", { id: "sos-alert-" + key, class: "fo-alert level-danger fo-sos-alert", role: "alert", "data-incident": key }, [title, where, show]);
      a = sosAlerts[key] = { box: box, where: where, title: title, d: {} };
      show.addEventListener("click", function () { fmap.map.setView([a.d.lat, a.d.lng], 17); });
      alerts.insertBefore(box, alerts.firstChild);
      if (live) F.toast(F.fmt(s.sos_from, { who: who }), "danger");
    }
    // A personal `sos.nearby` knows the distance from the last check-in; keep it with the news.
    a.d = Object.assign({}, a.d, d);
    a.title.textContent = F.fmt(s.sos_from, { who: who || a.d.reporter || a.d.sender || "" }) + (note ? " — " + note : "");
    sosWhere(a);
  }

  function sosOver(d, live) {
    var a = sosAlerts[String(d.incident)];
    if (!a) return;
    a.box.remove();
    delete sosAlerts[String(d.incident)];
    if (live) F.toast(F.fmt(s.sos_closed, { who: d.reporter || "" }), "info");
  }

  var activeAtLoad = {};
  (cfg.active_sos || []).forEach(function (d) { activeAtLoad[d.incident] = true; sosAlert(d, false); });

  function sosEntry(entry) {
    var d = entry.data || {};
    if (sos.isMine(d)) return;
    if (entry.type !== "sos.nearby" && (cfg.role !== "medic" || (d.reporter === cfg.callsign && sos.active))) return;
    // History shows only an SOS that was active when the page was made; newer ones are news.
    if (!current(entry) && !activeAtLoad[d.incident]) return;
    if (d.status === "resolved" || d.status === "dismissed") return;
    sosAlert(d, !entry.replayed && entry.type !== "sos.updated");
  }

  (cfg.unacked_routes || []).forEach(function (d) { routeRequest(d, d.changed); });

  var booted = F.boot({
    entry: function (entry) {
      var d = entry.data || {};
      sos.entry(entry);
      if (entry.type === "route.published") {
        // Older versions (history) never replace the route on the map.
        if (routePublished(entry) || d.version === versions[scopeOf(d.group)]) fmap.apply(entry);
      } else {
        fmap.apply(entry);
      }
      addFeed(entry);
      if (entry.type === "route.ack_reminder" && current(entry) && d.version >= (versions[scopeOf(d.group)] || 0)) routeRequest(d, d.changed);
      else if (entry.type === "alert.sent" && !(d.expires_at && Date.parse(d.expires_at) < Date.now())) alertBox(entry, d.text, d.level);
      else if (entry.type === "zone.activated" && fmap.places[String(d.place)]) alertBox(entry, F.describe(entry, s, groupName), "warning", "zone-" + d.place);
      else if (entry.type === "zone.deactivated") alerts.querySelectorAll('[data-key="zone-' + d.place + '"]').forEach(function (n) { n.remove(); });
      else if (entry.type === "marshal.in_zone" && current(entry)) alertBox(entry, F.describe(entry, s, groupName), "warning");
      else if (entry.type === "sos.raised" || entry.type === "sos.updated" || entry.type === "sos.nearby") sosEntry(entry);
      else if (entry.type === "incident.updated" && (d.status === "resolved" || d.status === "dismissed")) sosOver(d, !entry.replayed);
    },
    ack: function (item, ack) {
      if (sos.ack(item, ack)) return;
      var route = pendingAcks[item.id];
      if (route !== undefined) {
        delete pendingAcks[item.id];
        acked[route] = true;
        Object.keys(requests).forEach(function (k) { if (requests[k].route === route) dropRequest(k); });
        return;
      }
      if (item.type === "checkin") document.getElementById("last-checkin").textContent = s.sent + " · " + new Date().toLocaleTimeString();
      else if (item.type !== "incident.update") F.toast(s.sent, "info");
    },
    state: function () { sos.show(); },
  });
  var client = booted.client;
  sos.attach(client);

  function need() {
    if (position.current) return position.current;
    F.toast(s.no_position, "warning");
    return null;
  }

  function queuedNote(id) { if (id && !client.live) F.toast(s.queued, "warning"); }

  document.getElementById("checkin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var p = need();
    if (!p) return;
    var status = this.querySelector('input[name="status"]:checked').value;
    var data = { lat: p.lat, lng: p.lng, status: status, device_time: new Date().toISOString() };
    if (p.accuracy_m !== null) data.accuracy_m = p.accuracy_m;
    queuedNote(client.send("checkin", data));
  });

  document.getElementById("incident-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var p = need();
    if (!p) return;
    var id = client.send("incident.report", {
      lat: p.lat, lng: p.lng,
      kind: this.kind.value, severity: this.severity.value, description: this.description.value,
    });
    if (!id) return;
    this.description.value = "";
    document.getElementById("report").open = false;
    queuedNote(id);
  });

  window.FO = Object.assign(window.FO || {}, { map: fmap, position: position, sos: sos });
})();
