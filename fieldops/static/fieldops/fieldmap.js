/* Fieldops.FieldMap: draws what the journal says on a Leaflet map (routes, places, positions,
 * incidents, arrests). Every text on it comes from participants, so it is given to Leaflet as a node
 * (Fieldops.plain), never as a string Leaflet would parse as HTML. Loaded after fieldops.js.
 *
 * With `{cluster: true}` (the command page, which loads Leaflet.markercluster) people close together
 * are drawn as one numbered bubble, coloured by the worst status inside it, and places close together
 * as one numbered square, so 50 people and 20 places stay readable on a phone. */
(function () {
  "use strict";
  var F = window.Fieldops;
  var el = F.el, plain = F.plain, ago = F.ago;

  var SEVERITY_COLOR = { low: "#0b6e2e", medium: "#b25e00", high: "#c4001a", critical: "#6b0080" };
  var STATUS_COLOR = { ok: "#0b6e2e", need_help: "#b25e00", blocked: "#c4001a" };
  var PLACE_COLOR = { medic: "#c4001a", legal: "#003da5", water: "#006c8f", toilets: "#555", exit: "#0b6e2e", assembly: "#6b0080", info: "#333", danger: "#c4001a" };
  var PLACE_LABEL = { medic: "+", legal: "§", water: "W", toilets: "WC", exit: "→", assembly: "A", info: "i", danger: "!" };

  // Worst first: a cluster shows the colour of the most urgent status among its people.
  var STATUS_RANK = { blocked: 3, need_help: 2, ok: 1 };

  function clusterIcon(cluster) {
    var worst = "ok", stale = true;
    cluster.getAllChildMarkers().forEach(function (m) {
      var d = m.fieldops || {};
      if ((STATUS_RANK[d.status] || 0) > STATUS_RANK[worst]) worst = d.status;
      if (!d.stale) stale = false;
    });
    return L.divIcon({
      className: "fo-cluster-icon",
      html: plain(cluster.getChildCount(), "fo-cluster fo-status-" + worst + (stale ? " fo-stale" : "")),
      iconSize: [44, 44], iconAnchor: [22, 22],
    });
  }

  function placeClusterIcon(cluster) {
    return L.divIcon({ className: "fo-place", html: plain(cluster.getChildCount(), "fo-place-cluster"), iconSize: [34, 34], iconAnchor: [17, 17] });
  }

  function FieldMap(elementId, cfg, options) {
    this.cfg = cfg;
    this.s = cfg.strings;
    // A bounded zoom: clustering needs one, and there are no tiles beyond 19 anyway.
    this.map = L.map(elementId, { zoomControl: true, attributionControl: !!cfg.tiles.url, maxZoom: 19 }).setView(cfg.center, 14);
    if (cfg.tiles.url) L.tileLayer(cfg.tiles.url, { attribution: cfg.tiles.attribution, maxZoom: 19 }).addTo(this.map);
    this.routes = {};
    this.places = {};
    this.positions = {};
    this.incidents = {};
    this.arrests = {};
    this.fitted = false;
    // Places sit below people: a marshal's label is never hidden under a water tap.
    this.map.createPane("fo-places").style.zIndex = 590;
    // Where people's and places' markers go: the map itself, or a cluster group on it.
    this.people = this.map;
    this.placeMarkers = this.map;
    if (options && options.cluster) {
      this.people = L.markerClusterGroup({
        // No animation: less work for a phone, and the clusters are redrawn when a zoom ends.
        maxClusterRadius: 60, showCoverageOnHover: false, spiderfyOnMaxZoom: true, animate: false,
        iconCreateFunction: clusterIcon,
      }).addTo(this.map);
      this.placeMarkers = L.markerClusterGroup({
        maxClusterRadius: 36, showCoverageOnHover: false, animate: false, iconCreateFunction: placeClusterIcon,
        clusterPane: "fo-places",
      }).addTo(this.map);
    }
    var self = this;
    setInterval(function () { self.refreshAges(); }, 30000);
  }

  FieldMap.prototype.groupColor = function (group) {
    var groups = this.cfg.groups || [];
    for (var i = 0; i < groups.length; i++) if (groups[i].group === group) return groups[i].color;
    return "#000";
  };

  /** Clustering on or off: off, every marker is drawn on its own (e.g. to read each tooltip);
   * markers added meanwhile appear when it is on again. No-op on unclustered maps. */
  FieldMap.prototype.declutter = function (on) {
    ["people", "placeMarkers"].forEach(function (name) {
      var group = this[name];
      if (group === this.map) return;
      if (on && group.plainCopy) {
        this.map.removeLayer(group.plainCopy);
        group.plainCopy = null;
        this.map.addLayer(group);
      } else if (!on && !group.plainCopy) {
        this.map.removeLayer(group);
        group.plainCopy = L.featureGroup(group.getLayers()).addTo(this.map);
      }
    }, this);
  };

  /** Centre the map on a layer and open its tooltip; a clustered marker is zoomed to the level
   * where it stands alone, or its cluster fanned out when it never does. */
  FieldMap.prototype.reveal = function (layer) {
    if (!layer) return;
    var map = this.map;
    function open() { if (layer.openTooltip) layer.openTooltip(); }
    var group = [this.people, this.placeMarkers].filter(function (g) { return g !== map && g.hasLayer(layer); })[0];
    if (group) {
      var parent = layer.__parent;
      var zoom = Math.min(map.getMaxZoom(), Math.max(map.getZoom(), parent ? parent._zoom + 1 : 0, 15));
      map.setView(layer.getLatLng(), zoom, { animate: false });
      if (map.hasLayer(layer)) open();
      else if (layer.__parent && layer.__parent._icon) { group.once("spiderfied", open); layer.__parent.spiderfy(); }
      return;
    }
    if (layer.getBounds) map.fitBounds(layer.getBounds(), { maxZoom: 17, animate: false });
    else map.setView(layer.getLatLng(), Math.max(map.getZoom(), 16), { animate: false });
    open();
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
    // A replayed older version never covers the newer one the page already drew.
    if (this.routes[key] && this.routes[key].fieldops.version > r.version) return this.routes[key];
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
    var key = String(p.place), old = this.places[key];
    if (old) { (this.placeMarkers.hasLayer(old) ? this.placeMarkers : this.map).removeLayer(old); delete this.places[key]; }
    if (p.active === false || !p.geometry) return;
    var color = PLACE_COLOR[p.kind] || "#333";
    var layer;
    if (p.geometry.type === "Point") {
      var c = p.geometry.coordinates;
      layer = L.marker([c[1], c[0]], {
        icon: L.divIcon({ className: "fo-place", html: plain(PLACE_LABEL[p.kind] || "•", "fo-kind-" + p.kind), iconSize: [34, 34], iconAnchor: [17, 17] }),
        title: p.name, pane: "fo-places",
      });
    } else {
      layer = L.geoJSON(p.geometry, { style: { color: color, weight: 3, fillOpacity: p.kind === "danger" ? 0.25 : 0.1, dashArray: p.kind === "danger" ? "6 4" : null } });
    }
    layer.fieldops = p;
    layer.bindTooltip(plain(this.placeText(p)));
    (layer.getLatLng ? this.placeMarkers : this.map).addLayer(layer);
    this.places[key] = layer;
  };

  /** A place's name with its kind, once ("Puerta de Alcalá · Exit"). */
  FieldMap.prototype.placeText = function (p) {
    return p.name + " · " + F.label("place", p.kind);
  };

  FieldMap.prototype.setPosition = function (c) {
    var key = String(c.participant);
    var at = c.at || new Date().toISOString();
    var data = Object.assign({}, c, { at: at, stale: this.stale(at) });
    var icon = this.positionIcon(data);
    var m = this.positions[key];
    if (m) { m.fieldops = data; m.setLatLng([c.lat, c.lng]); m.setIcon(icon); }
    else {
      m = this.positions[key] = L.marker([c.lat, c.lng], { icon: icon, zIndexOffset: 500 });
      m.fieldops = data;
      this.people.addLayer(m);
    }
    m.bindTooltip(plain(this.positionText(data)));
    if (this.people.refreshClusters) this.people.refreshClusters(m);
    return m;
  };

  FieldMap.prototype.removePosition = function (participant) {
    var key = String(participant), m = this.positions[key];
    if (!m) return;
    this.people.removeLayer(m);
    if (this.people.plainCopy) this.people.plainCopy.removeLayer(m);
    delete this.positions[key];
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
    return (c.callsign || "") + " · " + F.label("checkin", c.status) + " · " + ago(c.at, this.s) + (c.note ? " · " + c.note : "");
  };

  FieldMap.prototype.refreshAges = function () {
    Object.keys(this.positions).forEach(function (k) {
      var m = this.positions[k];
      m.fieldops.stale = this.stale(m.fieldops.at);
      m.setTooltipContent(plain(this.positionText(m.fieldops)));
      m.setIcon(this.positionIcon(m.fieldops));
    }, this);
    if (this.people.refreshClusters) this.people.refreshClusters();
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
    layer.bindTooltip(plain(this.incidentText(i)));
    this.incidents[key] = layer.addTo(this.map);
    return layer;
  };

  /** "Crowd pressure · High · Reported · Kestrel · text", every value translated. */
  FieldMap.prototype.incidentText = function (i) {
    var parts = [F.label("kind", i.kind)];
    if (i.kind !== "sos") parts.push(F.label("severity", i.severity));
    parts.push(F.label("status", i.status));
    if (i.reporter) parts.push(i.reporter);
    if (i.description) parts.push(i.description);
    return parts.join(" · ");
  };

  FieldMap.prototype.addArrest = function (a) {
    var key = String(a.arrest);
    if (this.arrests[key]) return;
    var layer = L.marker([a.lat, a.lng], {
      icon: L.divIcon({ className: "fo-arrest-icon", html: plain(a.people_count, "fo-arrest"), iconSize: [34, 34], iconAnchor: [17, 17] }),
    });
    layer.fieldops = a;
    layer.bindTooltip(plain(this.s.arrests + ": " + F.plural(this.s.people_n, a.people_count)));
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
      case "sos.raised":
      case "sos.updated": this.setIncident(d); return true;
      case "arrest.logged": this.addArrest(d); return true;
      case "route.published": this.setRoute(d); return true;
      case "zone.activated": this.setPlace(Object.assign({ active: true, kind: "danger" }, d)); return true;
      case "zone.deactivated": this.setPlace(Object.assign({}, d, { active: false })); return true;
      case "participant.revoked": this.removePosition(d.participant); return true;
      default: return false;
    }
  };

  F.FieldMap = FieldMap;
  F.SEVERITY_COLOR = SEVERITY_COLOR;
})();
