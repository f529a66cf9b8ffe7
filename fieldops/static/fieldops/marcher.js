/* Marcher page: route, places, public alerts, and the nearest help computed here, on the phone.
 * The marcher's position is used only in this script: it is never sent anywhere. */

/* Nearest help measured as the server measures it (place_nearest, geo.LocalFrame): the distance
 * from here to the nearest point of a place's shape (a point; a line's or polygon's nearest edge;
 * 0 inside a polygon, holes excepted) and the bearing to that point. The frame is metres east and
 * north of here on the WGS84 ellipsoid's local radii: within centimetres of the server's geodesic
 * frame at the scale of a march (tests/test_safety_nearest.py runs both on the same shapes). */
var FieldopsMeasure = (function () {
  "use strict";
  var A = 6378137.0, E2 = 0.00669437999014; // WGS84 semi-major axis, first eccentricity squared
  var DEG = Math.PI / 180;

  function frame(here) {
    var sin = Math.sin(here.lat * DEG), w = 1 - E2 * sin * sin;
    var north = A * (1 - E2) / Math.pow(w, 1.5) * DEG; // metres per degree of latitude
    var east = A / Math.sqrt(w) * Math.cos(here.lat * DEG) * DEG; // per degree of longitude
    return function (c) { return [(c[0] - here.lng) * east, (c[1] - here.lat) * north]; };
  }
  function closestOnSegment(a, b) { // to the origin
    var dx = b[0] - a[0], dy = b[1] - a[1], len = dx * dx + dy * dy;
    var t = len ? Math.max(0, Math.min(1, -(a[0] * dx + a[1] * dy) / len)) : 0;
    return [a[0] + t * dx, a[1] + t * dy];
  }
  function lines(g) { // each line of a shape (polygon rings included), as [lng, lat] lists
    switch (g.type) {
      case "Point": return [[g.coordinates]];
      case "MultiPoint": return g.coordinates.map(function (c) { return [c]; });
      case "LineString": return [g.coordinates];
      case "MultiLineString": case "Polygon": return g.coordinates;
      case "MultiPolygon": return [].concat.apply([], g.coordinates);
      default: throw new Error("unknown geometry " + g.type);
    }
  }
  function inside(rings) { // even-odd: the origin inside the rings (a hole counts as outside)
    var odd = false;
    rings.forEach(function (ring) {
      for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        var a = ring[i], b = ring[j];
        if ((a[1] > 0) !== (b[1] > 0) && 0 < a[0] + (0 - a[1]) * (b[0] - a[0]) / (b[1] - a[1])) odd = !odd;
      }
    });
    return odd;
  }
  /** {distance_m, bearing_deg} from here ({lat, lng}) to a GeoJSON geometry. */
  function measure(here, geometry) {
    var project = frame(here);
    var projected = lines(geometry).map(function (line) { return line.map(project); });
    var polygons = geometry.type === "Polygon" ? [projected] : geometry.type === "MultiPolygon"
      ? geometry.coordinates.map(function (rings) { return rings.map(function (r) { return r.map(project); }); }) : [];
    if (polygons.some(inside)) return { distance_m: 0, bearing_deg: 0 };
    var best = null;
    projected.forEach(function (line) {
      for (var i = 0; i < line.length; i++) {
        var p = closestOnSegment(line[i], line[Math.min(i + 1, line.length - 1)]);
        var d = Math.sqrt(p[0] * p[0] + p[1] * p[1]);
        if (!best || d < best.d) best = { d: d, p: p };
      }
    });
    if (best.d === 0) return { distance_m: 0, bearing_deg: 0 };
    return { distance_m: best.d, bearing_deg: (Math.atan2(best.p[0], best.p[1]) / DEG + 360) % 360 };
  }
  return { measure: measure };
})();
if (typeof module === "object" && module.exports) module.exports = FieldopsMeasure;

(function () {
  "use strict";
  if (typeof window === "undefined") return; // loaded outside a page, for the measure alone
  var F = window.Fieldops;
  var cfg = F.config();
  var s = cfg.strings;
  var fmap = new F.FieldMap("map", cfg);
  fmap.load(JSON.parse(document.getElementById("fo-snapshot").textContent));
  var feed = document.getElementById("feed");
  var alerts = document.getElementById("alerts");
  var positionText = document.getElementById("position");
  var DIRS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];

  /** The nearest active place of each kind, from the places this page holds. */
  function nearest(here) {
    document.querySelectorAll("#nearest li").forEach(function (li) {
      var kind = li.getAttribute("data-kind"), best = null;
      Object.keys(fmap.places).forEach(function (key) {
        var place = fmap.places[key].fieldops;
        if (place.kind !== kind) return;
        var m;
        try { m = FieldopsMeasure.measure(here, place.geometry); } catch (e) { return; } // skipped, as on the server
        if (!best || m.distance_m < best.distance_m) best = Object.assign({ name: place.name }, m);
      });
      var span = li.querySelector("span");
      if (!best) { span.textContent = s.nearest_none; return; }
      span.textContent = best.name + " — " + F.fmt(s.away, { d: Math.round(best.distance_m), dir: F.label("direction", DIRS[Math.round(best.bearing_deg / 45) % 8]) });
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
