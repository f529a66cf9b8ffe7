/* Fieldops.FieldMap: draws what the journal says on a Leaflet map (routes, places, positions,
 * incidents, arrests). Every text on it comes from participants, so it is given to Leaflet as a node
 * (Fieldops.plain), never as a string Leaflet would parse as HTML. Loaded after fieldops.js. */
(function () {
  "use strict";
  var F = window.Fieldops;
  var el = F.el, plain = F.plain, ago = F.ago;

  var SEVERITY_COLOR = { low: "#0b6e2e", medium: "#b25e00", high: "#c4001a", critical: "#6b0080" };
  var STATUS_COLOR = { ok: "#0b6e2e", need_help: "#b25e00", blocked: "#c4001a" };
  var PLACE_COLOR = { medic: "#c4001a", legal: "#003da5", water: "#006c8f", toilets: "#555", exit: "#0b6e2e", assembly: "#6b0080", info: "#333", danger: "#c4001a" };
  var PLACE_LABEL = { medic: "+", legal: "§", water: "W", toilets: "WC", exit: "→", assembly: "A", info: "i", danger: "!" };

  function FieldMap(elementId, cfg) {
    this.cfg = cfg;
    this.s = cfg.strings;
    this.map = L.map(elementId, { zoomControl: true, attributionControl: !!cfg.tiles.url }).setView(cfg.center, 14);
    if (cfg.tiles.url) L.tileLayer(cfg.tiles.url, { attribution: cfg.tiles.attribution, maxZoom: 19 }).addTo(this.map);
    this.routes = {};
    this.places = {};
    this.positions = {};
    this.incidents = {};
    this.arrests = {};
    this.fitted = false;
    var self = this;
    setInterval(function () { self.refreshAges(); }, 30000);
  }

  FieldMap.prototype.groupColor = function (group) {
    var groups = this.cfg.groups || [];
    for (var i = 0; i < groups.length; i++) if (groups[i].group === group) return groups[i].color;
    return "#000";
  };

  FieldMap.prototype.groupName = function (group) {
    var groups = this.cfg.groups || [];
    for (var i = 0; i < groups.length; i++) if (groups[i].group === group) return groups[i].name;
    return "";
  };

  FieldMap.prototype.load = function (collection) {
    var self = this;
    (collection.features || []).forEach(function (f) {
      var p = f.properties;
      if (p.layer === "route") self.setRoute(Object.assign({ geometry: f.geometry }, p));
      else if (p.layer === "place") self.setPlace(Object.assign({ geometry: f.geometry, active: true }, p));
      else if (p.layer === "position") self.setPosition(Object.assign({ lat: f.geometry.coordinates[1], lng: f.geometry.coordinates[0] }, p));
      else if (p.layer === "incident") self.setIncident(Object.assign({ lat: f.geometry.coordinates[1], lng: f.geometry.coordinates[0] }, p));
    });
    this.fit();
  };

  FieldMap.prototype.fit = function () {
    var bounds = L.latLngBounds([]);
    Object.keys(this.routes).forEach(function (k) { bounds.extend(this.routes[k].getBounds()); }, this);
    Object.keys(this.places).forEach(function (k) {
      var layer = this.places[k];
      if (layer.getBounds) bounds.extend(layer.getBounds()); else bounds.extend(layer.getLatLng());
    }, this);
    if (bounds.isValid()) { this.map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 }); this.fitted = true; }
  };

  FieldMap.prototype.setRoute = function (r) {
    var key = r.group === null || r.group === undefined ? "event" : String(r.group);
    var latlngs = r.geometry.coordinates.map(function (c) { return [c[1], c[0]]; });
    if (this.routes[key]) this.map.removeLayer(this.routes[key]);
    var line = L.polyline(latlngs, { color: this.groupColor(r.group), weight: 7, opacity: 0.9 });
    line.fieldops = r;
    line.bindTooltip(plain((this.groupName(r.group) || "") + " v" + r.version + (r.note ? " · " + r.note : "")));
    this.routes[key] = line.addTo(this.map);
    if (!this.fitted) this.fit();
    return line;
  };

  FieldMap.prototype.setPlace = function (p) {
    var key = String(p.place);
    if (this.places[key]) { this.map.removeLayer(this.places[key]); delete this.places[key]; }
    if (p.active === false || !p.geometry) return;
    var color = PLACE_COLOR[p.kind] || "#333";
    var layer;
    if (p.geometry.type === "Point") {
      var c = p.geometry.coordinates;
      layer = L.marker([c[1], c[0]], {
        icon: L.divIcon({ className: "fo-place", html: plain(PLACE_LABEL[p.kind] || "•", "fo-kind-" + p.kind), iconSize: [34, 34], iconAnchor: [17, 17] }),
        title: p.name,
      });
    } else {
      layer = L.geoJSON(p.geometry, { style: { color: color, weight: 3, fillOpacity: p.kind === "danger" ? 0.25 : 0.1, dashArray: p.kind === "danger" ? "6 4" : null } });
    }
    layer.fieldops = p;
    layer.bindTooltip(plain(p.name));
    this.places[key] = layer.addTo(this.map);
  };

  FieldMap.prototype.setPosition = function (c) {
    var key = String(c.participant);
    var at = c.at || new Date().toISOString();
    var data = Object.assign({}, c, { at: at });
    var icon = this.positionIcon(data);
    var m = this.positions[key];
    if (m) { m.setLatLng([c.lat, c.lng]); m.setIcon(icon); }
    else m = this.positions[key] = L.marker([c.lat, c.lng], { icon: icon, zIndexOffset: 500 }).addTo(this.map);
    m.fieldops = data;
    m.bindTooltip(plain(this.positionText(data)));
    return m;
  };

  FieldMap.prototype.positionIcon = function (c) {
    var html = el("span", { class: "fo-pos fo-status-" + c.status + (this.stale(c.at) ? " fo-stale" : "") }, [
      (c.callsign || "") + " ", el("small", { class: "fo-age", text: ago(c.at, this.s) })]);
    return L.divIcon({ className: "fo-pos-icon", html: html, iconSize: null, iconAnchor: [0, 0] });
  };

  /** Older than the event's check-in interval: drawn faded and dashed so nobody trusts it. */
  FieldMap.prototype.stale = function (at) {
    var interval = (this.cfg.checkin_interval_minutes || 10) * 60000;
    return Date.now() - Date.parse(at) > interval;
  };

  FieldMap.prototype.positionText = function (c) {
    return (c.callsign || "") + " · " + (c.status || "") + " · " + ago(c.at, this.s) + (c.note ? " · " + c.note : "");
  };

  FieldMap.prototype.refreshAges = function () {
    Object.keys(this.positions).forEach(function (k) {
      var m = this.positions[k];
      m.setTooltipContent(plain(this.positionText(m.fieldops)));
      m.setIcon(this.positionIcon(m.fieldops));
    }, this);
    if (this.onAges) this.onAges();
  };

  FieldMap.prototype.setIncident = function (i) {
    var key = String(i.incident);
    if (this.incidents[key]) { this.map.removeLayer(this.incidents[key]); delete this.incidents[key]; }
    if (i.status === "resolved" || i.status === "dismissed") return null;
    var layer;
    if (i.kind === "sos") {
      layer = L.marker([i.lat, i.lng], {
        icon: L.divIcon({ className: "fo-sos-icon", html: plain(this.s.sos, "fo-sos"), iconSize: [64, 64], iconAnchor: [32, 32] }),
        zIndexOffset: 1000,
      });
    } else {
      layer = L.circleMarker([i.lat, i.lng], { radius: 12, color: "#000", weight: 2, fillColor: SEVERITY_COLOR[i.severity] || "#c4001a", fillOpacity: 0.9 });
    }
    layer.fieldops = i;
    layer.bindTooltip(plain(i.kind + " · " + i.severity + " · " + i.status + (i.description ? " · " + i.description : "")));
    this.incidents[key] = layer.addTo(this.map);
    return layer;
  };

  FieldMap.prototype.addArrest = function (a) {
    var key = String(a.arrest);
    if (this.arrests[key]) return;
    var layer = L.marker([a.lat, a.lng], {
      icon: L.divIcon({ className: "fo-arrest-icon", html: plain(a.people_count, "fo-arrest"), iconSize: [34, 34], iconAnchor: [17, 17] }),
    });
    layer.fieldops = a;
    layer.bindTooltip(plain(this.s.arrests + ": " + a.people_count + " " + this.s.people));
    this.arrests[key] = layer.addTo(this.map);
  };

  FieldMap.prototype.arrestCount = function () {
    var people = 0, self = this;
    Object.keys(this.arrests).forEach(function (k) { people += self.arrests[k].fieldops.people_count || 0; });
    return { records: Object.keys(this.arrests).length, people: people };
  };

  /** Apply one journal entry to the map; returns true if the map understood it. */
  FieldMap.prototype.apply = function (entry) {
    var d = entry.data || {};
    switch (entry.type) {
      case "checkin": this.setPosition(Object.assign({ at: entry.at }, d)); return true;
      case "incident.reported":
      case "incident.updated":
      case "sos.raised": this.setIncident(d); return true;
      case "arrest.logged": this.addArrest(d); return true;
      case "route.published": this.setRoute(d); return true;
      case "zone.activated": this.setPlace(Object.assign({ active: true, kind: "danger" }, d)); return true;
      case "zone.deactivated": this.setPlace(Object.assign({}, d, { active: false })); return true;
      case "participant.revoked":
        var m = this.positions[String(d.participant)];
        if (m) { this.map.removeLayer(m); delete this.positions[String(d.participant)]; }
        return true;
      default: return false;
    }
  };

  F.FieldMap = FieldMap;
  F.SEVERITY_COLOR = SEVERITY_COLOR;
})();
