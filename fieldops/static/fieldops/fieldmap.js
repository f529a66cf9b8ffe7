/* The map renderer: draws a page's state (state.js) on a Leaflet map: routes, places and zones,
 * people's latest positions, open incidents, arrests. `sync(state)` redraws only what changed (an
 * entity that changed is a new object in the state) and removes what is gone. Every text on the map
 * comes from participants, so it is given to Leaflet as a node (`plain`), never as a string
 * Leaflet would parse as HTML.
 *
 * With `{cluster: true}` (the command page, which loads Leaflet.markercluster) people close together
 * are drawn as one numbered bubble, coloured by the worst status inside it, and places close together
 * as one numbered square, so 50 people and 20 places stay readable on a phone. */
import { ago, groupColor, groupName, label, plain, plural } from "./util.js";

const SEVERITY_COLOR = { low: "#0b6e2e", medium: "#b25e00", high: "#c4001a", critical: "#6b0080" };
const PLACE_COLOR = { medic: "#c4001a", legal: "#003da5", water: "#006c8f", toilets: "#555", exit: "#0b6e2e", assembly: "#6b0080", info: "#333", danger: "#c4001a" };
const PLACE_LABEL = { medic: "+", legal: "§", water: "W", toilets: "WC", exit: "→", assembly: "A", info: "i", danger: "!" };
const PLACE_ORDER = (a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
// Worst first: a cluster shows the colour of the most urgent status among its people.
const STATUS_RANK = { blocked: 3, need_help: 2, ok: 1 };

function clusterIcon(cluster) {
  let worst = "ok", stale = true;
  cluster.getAllChildMarkers().forEach((m) => {
    const d = m.fieldops || {};
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

/** "Crowd pressure · High · Reported · Kestrel · text", every value translated. */
export function incidentText(i) {
  const parts = [label("kind", i.kind)];
  if (i.kind !== "sos") parts.push(label("severity", i.severity));
  parts.push(label("status", i.status));
  if (i.reporter) parts.push(i.reporter);
  if (i.description) parts.push(i.description);
  return parts.join(" · ");
}

/** A place's name with its kind, once ("Puerta de Alcalá · Exit"). */
export function placeText(p) {
  return p.name + " · " + label("place", p.kind);
}

/** The basemap the server offers (fieldops/tiles.py): its own archive's tiles, vector ones drawn by
 * protomaps-leaflet, raster ones by Leaflet; stretched past the archive's deepest zoom, none
 * asked for outside its bounds. Null without one: the map is a plain background. */
function basemapLayer(tiles) {
  if (!tiles || !tiles.url) return null;
  const b = tiles.bounds;
  const options = { attribution: tiles.attribution, maxZoom: 19 };
  if (b) options.bounds = L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
  if (tiles.vector) {
    if (!window.protomapsL) return null;
    // Vector tiles are drawn afresh at every zoom from the deepest data the archive holds.
    return window.protomapsL.leafletLayer(Object.assign(options, {
      url: tiles.url, flavor: "light", lang: document.documentElement.lang || "en", maxDataZoom: tiles.max_zoom,
    }));
  }
  return L.tileLayer(tiles.url, Object.assign(options, { minNativeZoom: tiles.min_zoom, maxNativeZoom: tiles.max_zoom }));
}

export class FieldMap {
  constructor(elementId, cfg, options) {
    this.cfg = cfg;
    this.s = cfg.strings;
    // A bounded zoom: clustering needs one, and there are no tiles beyond 19 anyway.
    this.map = L.map(elementId, { zoomControl: true, attributionControl: !!cfg.tiles.url, maxZoom: 19 }).setView(cfg.center, 14);
    const base = basemapLayer(cfg.tiles);
    if (base) base.addTo(this.map);
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
      // No animation: less work for a phone, and the clusters are redrawn when a zoom ends.
      this.people = L.markerClusterGroup({ maxClusterRadius: 60, showCoverageOnHover: false, spiderfyOnMaxZoom: true, animate: false, iconCreateFunction: clusterIcon }).addTo(this.map);
      this.placeMarkers = L.markerClusterGroup({ maxClusterRadius: 36, showCoverageOnHover: false, animate: false, iconCreateFunction: placeClusterIcon, clusterPane: "fo-places" }).addTo(this.map);
    }
    setInterval(() => this.refreshAges(), 30000);
  }

  /** Draw `state`: each collection's entities that are new or changed, and none that are gone. */
  sync(state) {
    const people = {};
    Object.keys(state.people).forEach((k) => { if (typeof state.people[k].lat === "number") people[k] = state.people[k]; });
    this.each("routes", state.routes, (r) => this.setRoute(r), (layer) => this.map.removeLayer(layer));
    // In the server's order (kind, name): clustering is greedy, so the order decides the clusters.
    this.each("places", state.places, (p) => this.setPlace(p), (layer) => this.layerGroup(layer).removeLayer(layer), PLACE_ORDER);
    this.each("positions", people, (p) => this.setPosition(p), (layer) => this.dropPosition(layer));
    this.each("incidents", state.incidents, (i) => this.setIncident(i), (layer) => this.map.removeLayer(layer));
    this.each("arrests", state.arrests, (a) => this.setArrest(a), (layer) => this.map.removeLayer(layer));
    if (!this.fitted) this.fit();
  }

  each(name, wanted, draw, remove, order) {
    const layers = this[name];
    Object.keys(layers).forEach((k) => { if (!wanted[k]) { remove(layers[k]); delete layers[k]; } });
    const keys = Object.keys(wanted);
    if (order) keys.sort((a, b) => order(wanted[a], wanted[b]));
    keys.forEach((k) => { if (!layers[k] || layers[k].drawn !== wanted[k]) { layers[k] = draw(wanted[k]); layers[k].drawn = wanted[k]; } });
  }

  layerGroup(layer) {
    return this.placeMarkers.hasLayer(layer) ? this.placeMarkers : this.map;
  }

  /** Clustering on or off: off, every marker is drawn on its own (e.g. to read each tooltip);
   * markers added meanwhile appear when it is on again. No-op on unclustered maps. */
  declutter(on) {
    ["people", "placeMarkers"].forEach((name) => {
      const group = this[name];
      if (group === this.map) return;
      if (on && group.plainCopy) {
        this.map.removeLayer(group.plainCopy);
        group.plainCopy = null;
        this.map.addLayer(group);
      } else if (!on && !group.plainCopy) {
        this.map.removeLayer(group);
        group.plainCopy = L.featureGroup(group.getLayers()).addTo(this.map);
      }
    });
  }

  /** Centre the map on a layer and open its tooltip; a clustered marker is zoomed to the level
   * where it stands alone, or its cluster fanned out when it never does. */
  reveal(layer) {
    if (!layer) return;
    const map = this.map;
    const open = () => { if (layer.openTooltip) layer.openTooltip(); };
    const group = [this.people, this.placeMarkers].filter((g) => g !== map && g.hasLayer(layer))[0];
    if (group) {
      const parent = layer.__parent;
      const zoom = Math.min(map.getMaxZoom(), Math.max(map.getZoom(), parent ? parent._zoom + 1 : 0, 15));
      map.setView(layer.getLatLng(), zoom, { animate: false });
      if (map.hasLayer(layer)) open();
      else if (parent && parent._icon) { group.once("spiderfied", open); parent.spiderfy(); }
      return;
    }
    if (layer.getBounds) map.fitBounds(layer.getBounds(), { maxZoom: 17, animate: false });
    else map.setView(layer.getLatLng(), Math.max(map.getZoom(), 16), { animate: false });
    open();
  }

  fit() {
    const bounds = L.latLngBounds([]);
    Object.values(this.routes).forEach((line) => bounds.extend(line.getBounds()));
    Object.values(this.places).forEach((layer) => bounds.extend(layer.getBounds ? layer.getBounds() : layer.getLatLng()));
    if (bounds.isValid()) { this.map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 }); this.fitted = true; }
  }

  setRoute(r) {
    const old = this.routes[r.group === null || r.group === undefined ? "event" : String(r.group)];
    if (old) this.map.removeLayer(old);
    const line = L.polyline(L.GeoJSON.coordsToLatLngs(r.geometry.coordinates), { color: groupColor(r.group), weight: 7, opacity: 0.9 });
    line.fieldops = r;
    line.bindTooltip(plain((groupName(r.group) || "") + " v" + r.version + (r.note ? " · " + r.note : "")));
    return line.addTo(this.map);
  }

  setPlace(p) {
    const old = this.places[String(p.place)];
    if (old) this.layerGroup(old).removeLayer(old);
    let layer;
    if (p.geometry.type === "Point") {
      layer = L.marker(L.GeoJSON.coordsToLatLng(p.geometry.coordinates), {
        icon: L.divIcon({ className: "fo-place", html: plain(PLACE_LABEL[p.kind] || "•", "fo-kind-" + p.kind), iconSize: [34, 34], iconAnchor: [17, 17] }),
        title: p.name, pane: "fo-places",
      });
    } else {
      const danger = p.kind === "danger";
      layer = L.geoJSON(p.geometry, { style: { color: PLACE_COLOR[p.kind] || "#333", weight: 3, fillOpacity: danger ? 0.25 : 0.1, dashArray: danger ? "6 4" : null } });
    }
    layer.fieldops = p;
    layer.bindTooltip(plain(placeText(p)));
    (layer.getLatLng ? this.placeMarkers : this.map).addLayer(layer);
    return layer;
  }

  setPosition(c) {
    const data = Object.assign({}, c, { at: c.at || new Date().toISOString() });
    data.stale = this.stale(data.at);
    let m = this.positions[String(c.participant)];
    if (m) { m.fieldops = data; m.setLatLng([c.lat, c.lng]); m.setIcon(this.positionIcon(data)); }
    else {
      m = L.marker([c.lat, c.lng], { icon: this.positionIcon(data), zIndexOffset: 500 });
      m.fieldops = data;
      this.people.addLayer(m);
    }
    m.bindTooltip(plain(this.positionText(data)));
    if (this.people.refreshClusters) this.people.refreshClusters(m);
    return m;
  }

  dropPosition(m) {
    this.people.removeLayer(m);
    if (this.people.plainCopy) this.people.plainCopy.removeLayer(m);
  }

  positionIcon(c) {
    const html = plain((c.callsign || "") + " ", "fo-pos fo-status-" + c.status + (this.stale(c.at) ? " fo-stale" : ""));
    const age = document.createElement("small");
    age.className = "fo-age";
    age.textContent = ago(c.at, this.s);
    html.appendChild(age);
    return L.divIcon({ className: "fo-pos-icon", html: html, iconSize: null, iconAnchor: [0, 0] });
  }

  /** Older than the event's check-in interval: drawn faded and dashed so nobody trusts it. */
  stale(at) {
    return Date.now() - Date.parse(at) > (this.cfg.checkin_interval_minutes || 10) * 60000;
  }

  positionText(c) {
    return (c.callsign || "") + " · " + label("checkin", c.status) + " · " + ago(c.at, this.s) + (c.note ? " · " + c.note : "");
  }

  refreshAges() {
    Object.values(this.positions).forEach((m) => {
      m.fieldops.stale = this.stale(m.fieldops.at);
      m.setTooltipContent(plain(this.positionText(m.fieldops)));
      m.setIcon(this.positionIcon(m.fieldops));
    });
    if (this.people.refreshClusters) this.people.refreshClusters();
    if (this.onAges) this.onAges();
  }

  setIncident(i) {
    const old = this.incidents[String(i.incident)];
    if (old) this.map.removeLayer(old);
    const layer = i.kind === "sos"
      ? L.marker([i.lat, i.lng], { icon: L.divIcon({ className: "fo-sos-icon", html: plain(this.s.sos, "fo-sos"), iconSize: [64, 64], iconAnchor: [32, 32] }), zIndexOffset: 1000 })
      : L.circleMarker([i.lat, i.lng], { radius: 12, color: "#000", weight: 2, fillColor: SEVERITY_COLOR[i.severity] || "#c4001a", fillOpacity: 0.9 });
    layer.fieldops = i;
    layer.bindTooltip(plain(incidentText(i)));
    return layer.addTo(this.map);
  }

  setArrest(a) {
    const layer = L.marker([a.lat, a.lng], {
      icon: L.divIcon({ className: "fo-arrest-icon", html: plain(a.people_count, "fo-arrest"), iconSize: [34, 34], iconAnchor: [17, 17] }),
    });
    layer.fieldops = a;
    layer.bindTooltip(plain(this.s.arrests + ": " + plural(this.s.people_n, a.people_count)));
    return layer.addTo(this.map);
  }
}
