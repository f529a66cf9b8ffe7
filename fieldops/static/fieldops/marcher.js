/* Marcher page: route, places, public alerts, and the nearest help computed here, on the phone.
 * The marcher's position is used only in this script: it is never sent anywhere. */
(function () {
  "use strict";
  var F = window.Fieldops;
  var cfg = F.config();
  var s = cfg.strings;
  var fmap = new F.FieldMap("map", cfg);
  fmap.load(JSON.parse(document.getElementById("fo-snapshot").textContent));
  var feed = document.getElementById("feed");
  var alerts = document.getElementById("alerts");
  var positionText = document.getElementById("position");
  var DIRS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];

  function rad(d) { return d * Math.PI / 180; }
  function distance(a, b) {
    var R = 6371008.8, dLat = rad(b.lat - a.lat), dLng = rad(b.lng - a.lng);
    var h = Math.pow(Math.sin(dLat / 2), 2) + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.pow(Math.sin(dLng / 2), 2);
    return 2 * R * Math.asin(Math.sqrt(h));
  }
  function bearing(a, b) {
    var y = Math.sin(rad(b.lng - a.lng)) * Math.cos(rad(b.lat));
    var x = Math.cos(rad(a.lat)) * Math.sin(rad(b.lat)) - Math.sin(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.cos(rad(b.lng - a.lng));
    return (Math.atan2(y, x) * 180 / Math.PI + 360) % 360;
  }
  function placePoint(layer) {
    if (layer.getLatLng) return layer.getLatLng();
    return layer.getBounds().getCenter();
  }

  /** The nearest active place of each kind, from the places this page holds. */
  function nearest(here) {
    document.querySelectorAll("#nearest li").forEach(function (li) {
      var kind = li.getAttribute("data-kind"), best = null;
      Object.keys(fmap.places).forEach(function (key) {
        var layer = fmap.places[key];
        if (layer.fieldops.kind !== kind) return;
        var at = placePoint(layer), d = distance(here, at);
        if (!best || d < best.d) best = { d: d, at: at, name: layer.fieldops.name };
      });
      var span = li.querySelector("span");
      if (!best) { span.textContent = s.nearest_none; return; }
      span.textContent = best.name + " — " + F.fmt(s.away, { d: Math.round(best.d), dir: F.label("direction", DIRS[Math.round(bearing(here, best.at) / 45) % 8]) });
    });
  }

  /** Newest first, by seq: a replay may bring older entries after newer ones. */
  function insertBySeq(list, li, seq) {
    var items = list.children;
    for (var i = 0; i < items.length; i++) {
      if (+items[i].getAttribute("data-seq") < seq) { list.insertBefore(li, items[i]); return; }
    }
    list.appendChild(li);
  }

  var position = new F.Position(fmap, s, function (p) {
    positionText.textContent = position.describe();
    nearest(p);
  });

  /** A route version older than the one on the map (history): it never replaces the map's. */
  function olderRoute(entry) {
    var d = entry.data || {};
    if (entry.type !== "route.published") return false;
    var line = fmap.routes[d.group === null || d.group === undefined ? "event" : String(d.group)];
    return !!line && line.fieldops.version > d.version;
  }

  F.boot({
    entry: function (entry) {
      if (!olderRoute(entry)) fmap.apply(entry);
      if (position.current) nearest(position.current);
      if (feed.querySelector('[data-seq="' + entry.seq + '"]')) return;
      var d = entry.data || {};
      insertBySeq(feed, F.el("li", { class: "level-" + F.kindLevel(entry), "data-seq": entry.seq, "data-kind": entry.type }, [
        F.el("div", { text: F.describe(entry, s, function (g) { return fmap.groupName(g); }) }),
        F.el("div", { class: "meta", text: new Date(entry.at).toLocaleTimeString() }),
      ]), entry.seq);
      var expired = d.expires_at && Date.parse(d.expires_at) < Date.now();
      if (entry.type === "alert.sent" && !expired) {
        insertBySeq(alerts, F.el("div", { class: "fo-alert level-" + (d.level || "info"), role: "alert", "data-seq": entry.seq, text: d.text }), entry.seq);
      } else if (entry.type === "zone.activated" && fmap.places[String(d.place)]) {
        insertBySeq(alerts, F.el("div", { class: "fo-alert level-warning", role: "alert", "data-seq": entry.seq, "data-zone": d.place, text: F.describe(entry, s, function (g) { return fmap.groupName(g); }) }), entry.seq);
      } else if (entry.type === "zone.deactivated") {
        alerts.querySelectorAll('[data-zone="' + d.place + '"]').forEach(function (n) { n.remove(); });
      }
      // History is on the map and in the list; only news is worth interrupting for.
      if (entry.type === "route.published" && !entry.replayed) F.toast(s.route_changed, "warning");
    },
  });

  window.FO = Object.assign(window.FO || {}, { map: fmap, position: position, nearest: nearest });
})();
