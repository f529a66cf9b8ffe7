/* Route drawing on the command page: draw a new line, or edit a copy of the current route, then
 * publish it as the route of the event or of one group. */
(function () {
  "use strict";
  var F = window.Fieldops;

  /** Wire the route panel to `fieldMap`; `publish(data)` sends a `route.publish`. Returns the layer
   * group holding the line being drawn. */
  function RouteEditor(fmap, publish) {
    var map = fmap.map;
    var s = fmap.s;
    var drawn = new L.FeatureGroup().addTo(map);
    map.addControl(new L.Control.Draw({
      position: "topright",
      draw: { polyline: { shapeOptions: { color: "#ff00aa", weight: 6 } }, polygon: false, rectangle: false, circle: false, marker: false, circlemarker: false },
      edit: { featureGroup: drawn, remove: true },
    }));
    map.on(L.Draw.Event.CREATED, function (ev) {
      drawn.clearLayers();
      drawn.addLayer(ev.layer);
      document.getElementById("route-panel").open = true;
    });
    document.getElementById("route-edit").addEventListener("click", function () {
      var g = document.getElementById("route-group").value;
      var current = fmap.routes[g || "event"];
      if (!current) return;
      drawn.clearLayers();
      drawn.addLayer(L.polyline(current.getLatLngs(), { color: "#ff00aa", weight: 6 }));
    });
    document.getElementById("route-clear").addEventListener("click", function () { drawn.clearLayers(); });
    document.getElementById("route-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var line = drawn.getLayers()[0];
      if (!line) { F.toast(s.draw_first, "warning"); return; }
      var coords = line.getLatLngs().map(function (ll) { return [Math.round(ll.lng * 1e6) / 1e6, Math.round(ll.lat * 1e6) / 1e6]; });
      if (coords.length < 2) { F.toast(s.draw_first, "warning"); return; }
      var data = { geometry: { type: "LineString", coordinates: coords }, note: this.note.value };
      if (this.group.value) data.group = parseInt(this.group.value, 10);
      publish(data);
      drawn.clearLayers();
      this.note.value = "";
    });
    return drawn;
  }

  F.RouteEditor = RouteEditor;
})();
