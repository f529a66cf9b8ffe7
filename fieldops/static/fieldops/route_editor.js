/* Route drawing on the command page, made for one thumb: tap the map to add a point, drag a
 * numbered handle to move it, tap a handle to choose it (the next point goes after it; Remove point
 * deletes it), Undo any step, then Done and Publish. The draft is plain numbers copied from the
 * published route's geometry, never its LatLng objects, so nothing done here can move the live
 * route: only the server's next route.published redraws it, and Cancel leaves it as it was. */
import { toast } from "./page.js";
import { fmt, plain, plural, stopped } from "./util.js";

const COLOR = "#ff00aa";
const MAX_POINTS = 1000; // the server refuses longer lines (schemas.LineString)
const HANDLE = 44; // CSS px: the smallest target a finger hits reliably
const UNDO_DEPTH = 200;

function copy(points) { return points.map(function (p) { return [p[0], p[1]]; }); }
function round6(x) { return Math.round(x * 1e6) / 1e6; }
// A point Leaflet cannot place is not drawn; problem() still refuses to publish it.
function placeable(p) { return isFinite(p[0]) && isFinite(p[1]); }
function valid(p) {
  return typeof p[0] === "number" && typeof p[1] === "number" && isFinite(p[0]) && isFinite(p[1]) &&
    Math.abs(p[0]) <= 90 && Math.abs(p[1]) <= 180;
}

/** Wire the route panel to `fmap`; `publish(data)` sends a `route.publish` (null: not sent).
 * Returns {layer, points(), edit(points), editing()}; `layer` holds the draft line. */
export function RouteEditor(fmap, publish) {
  var map = fmap.map;
  var s = fmap.s;
  var layer = L.featureGroup().addTo(map);
  var form = document.getElementById("route-form");
  var scope = document.getElementById("route-group");
  var summary = document.getElementById("route-summary");
  var tools = document.getElementById("route-tools");
  var status = document.getElementById("route-status");
  var undoButton = document.getElementById("route-undo");
  var removeButton = document.getElementById("route-remove");
  var points = []; // [lat, lng]
  var selected = -1; // the point the next tap goes after
  var history = []; // earlier {points, selected}, for Undo
  var editing = false;
  var line = null;
  var zoomOnDoubleTap = map.doubleClickZoom.enabled();

  // The buttons sit on the map while drawing; taps on them must not reach the map as points.
  var Tools = L.Control.extend({
    options: { position: "bottomleft" },
    onAdd: function () {
      L.DomEvent.disableClickPropagation(tools);
      L.DomEvent.disableScrollPropagation(tools);
      return tools;
    },
  });
  new Tools().addTo(map);

  function remember() {
    history.push({ points: copy(points), selected: selected });
    if (history.length > UNDO_DEPTH) history.shift();
  }

  function describe() {
    var n = points.length;
    var text = n ? plural(s.route_points, n) : s.route_first;
    if (n && selected < n - 1) text += " " + fmt(s.route_after, { k: selected + 1 });
    status.textContent = text;
    summary.textContent = n ? plural(s.route_draft, n) : "";
    undoButton.disabled = stopped() || !history.length;
    removeButton.disabled = stopped() || selected < 0;
  }

  function handle(p, i) {
    var marker = L.marker(p, {
      draggable: true,
      title: fmt(s.route_point, { k: i + 1 }),
      zIndexOffset: i === selected ? 2000 : 1000,
      icon: L.divIcon({
        className: "fo-vertex" + (i === selected ? " fo-vertex-selected" : ""),
        html: plain(String(i + 1), "fo-vertex-n"),
        iconSize: [HANDLE, HANDLE],
        iconAnchor: [HANDLE / 2, HANDLE / 2],
      }),
    });
    marker.on("dragstart", remember);
    marker.on("drag", function () {
      var ll = marker.getLatLng();
      points[i] = [ll.lat, ll.lng];
      line.setLatLngs(points.filter(placeable));
    });
    marker.on("dragend", function () {
      var ll = marker.getLatLng().wrap();
      points[i] = [ll.lat, ll.lng];
      selected = i;
      render();
    });
    marker.on("click", function () { selected = i; render(); });
    return marker;
  }

  function render() {
    layer.clearLayers();
    line = L.polyline(copy(points.filter(placeable)), { color: COLOR, weight: 6, dashArray: "12 8", interactive: false }).addTo(layer);
    if (editing) points.forEach(function (p, i) { if (placeable(p)) layer.addLayer(handle(p, i)); });
    describe();
  }

  function say(text, level) {
    summary.textContent = text;
    if (editing) status.textContent = text;
    toast(text, level || "warning");
  }

  function addPoint(ev) {
    if (stopped()) return;
    if (points.length >= MAX_POINTS) { say(plural(s.route_too_many, MAX_POINTS)); return; }
    var ll = ev.latlng.wrap();
    remember();
    points.splice(selected + 1, 0, [ll.lat, ll.lng]);
    selected += 1;
    render();
  }

  function begin() {
    if (!editing) {
      editing = true;
      map.getContainer().classList.add("fo-route-editing");
      // Two quick taps are two points, not a zoom.
      map.doubleClickZoom.disable();
      map.eachLayer(function (l) { if (l.closeTooltip) l.closeTooltip(); });
      map.on("click", addPoint);
      tools.hidden = false;
    }
    render();
    map.getContainer().scrollIntoView({ block: "center" });
  }

  function end() {
    if (!editing) return;
    editing = false;
    map.getContainer().classList.remove("fo-route-editing");
    if (zoomOnDoubleTap) map.doubleClickZoom.enable();
    map.off("click", addPoint);
    tools.hidden = true;
  }

  function start(from) {
    if (points.length) remember(); else history = [];
    points = copy(from);
    selected = points.length - 1;
    begin();
  }

  function cancel() {
    end();
    points = [];
    history = [];
    selected = -1;
    line = null;
    layer.clearLayers();
    summary.textContent = "";
    status.textContent = "";
  }

  /** What stops the draft from being published, in words; "" if nothing. */
  function problem() {
    var n = points.length;
    if (!n) return s.route_none;
    if (n < 2) return plural(s.route_too_few, 2 - n);
    if (n > MAX_POINTS) return plural(s.route_too_many, MAX_POINTS);
    for (var i = 0; i < n; i++) if (!valid(points[i])) return fmt(s.route_bad_point, { k: i + 1 });
    return "";
  }

  function scopeName() { return scope.options[scope.selectedIndex].text; }

  document.getElementById("route-start").addEventListener("click", function () { start([]); });
  document.getElementById("route-edit").addEventListener("click", function () {
    var current = fmap.routes[scope.value || "event"];
    if (!current) { say(fmt(s.route_no_current, { scope: scopeName() })); return; }
    start(current.fieldops.geometry.coordinates.map(function (c) { return [c[1], c[0]]; }));
  });
  undoButton.addEventListener("click", function () {
    var previous = history.pop();
    if (!previous) return;
    points = previous.points;
    selected = previous.selected;
    render();
  });
  removeButton.addEventListener("click", function () {
    if (selected < 0) return;
    remember();
    points.splice(selected, 1);
    selected = points.length ? Math.max(selected - 1, 0) : -1;
    render();
  });
  document.getElementById("route-cancel").addEventListener("click", cancel);
  document.getElementById("route-finish").addEventListener("click", function () {
    end();
    render();
    document.getElementById("route-publish").scrollIntoView({ block: "center" });
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var refused = problem();
    if (refused) {
      // Too few points: back to the map, where the missing ones are added.
      if (points.length && !editing) begin();
      say(refused);
      return;
    }
    var data = {
      geometry: { type: "LineString", coordinates: points.map(function (p) { return [round6(p[1]), round6(p[0])]; }) },
      note: form.note.value,
    };
    if (scope.value) data.group = parseInt(scope.value, 10);
    if (publish(data) === null) { say(s.route_not_sent, "danger"); return; }
    cancel();
    form.note.value = "";
  });

  return {
    layer: layer,
    points: function () { return copy(points); },
    editing: function () { return editing; },
    /** Start editing `latlngs` ([lat, lng] pairs) as the draft. */
    edit: function (latlngs) { start(latlngs); },
  };
}

