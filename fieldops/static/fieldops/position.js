/* Where this phone is: the browser's geolocation, or a tap on the map when it is refused or poor.
 * The position stays in the page; pages that report it (marshal, legal) send it in their actions. */
(function () {
  "use strict";
  var POOR_ACCURACY_M = 200;

  /** `options.tap` false: a tap on the map is the page's own (the legal page marks the arrest
   * place with it) and never sets this phone's position. */
  function Position(fieldMap, strings, onChange, options) {
    this.fieldMap = fieldMap;
    this.s = strings;
    this.onChange = onChange || function () {};
    this.current = null; // {lat, lng, accuracy_m, source}
    this.marker = null;
    var self = this;
    if (!options || options.tap !== false) fieldMap.map.on("click", function (ev) {
      // A tap wins over a poor or missing fix; a good GPS fix is not overridden by a stray tap.
      if (self.current && self.current.source === "gps" && self.current.accuracy_m < POOR_ACCURACY_M) return;
      self.set({ lat: ev.latlng.lat, lng: ev.latlng.lng, accuracy_m: null, source: "tap" });
    });
    if (navigator.geolocation) {
      navigator.geolocation.watchPosition(
        function (pos) {
          self.set({ lat: pos.coords.latitude, lng: pos.coords.longitude, accuracy_m: Math.round(pos.coords.accuracy), source: "gps" });
        },
        function () { /* refused or unavailable: the tap fallback is already armed */ },
        { enableHighAccuracy: true, maximumAge: 15000, timeout: 20000 }
      );
    }
  }

  Position.prototype.set = function (p) {
    this.current = p;
    var ll = [p.lat, p.lng];
    if (this.marker) this.marker.setLatLng(ll);
    else this.marker = L.circleMarker(ll, { radius: 10, color: "#fff", weight: 3, fillColor: "#003da5", fillOpacity: 1 }).addTo(this.fieldMap.map);
    this.onChange(p);
  };

  /** Metres between two positions ({lat, lng}), on a sphere: enough to tell a move of a few metres. */
  Position.distance = function (a, b) {
    function rad(d) { return d * Math.PI / 180; }
    var dLat = rad(b.lat - a.lat), dLng = rad(b.lng - a.lng);
    var h = Math.pow(Math.sin(dLat / 2), 2) + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.pow(Math.sin(dLng / 2), 2);
    return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
  };

  /** Bearing in degrees from `a` to `b`, and its compass point (N, NE, ...). */
  Position.bearing = function (a, b) {
    function rad(d) { return d * Math.PI / 180; }
    var y = Math.sin(rad(b.lng - a.lng)) * Math.cos(rad(b.lat));
    var x = Math.cos(rad(a.lat)) * Math.sin(rad(b.lat)) - Math.sin(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.cos(rad(b.lng - a.lng));
    return (Math.atan2(y, x) * 180 / Math.PI + 360) % 360;
  };
  Position.compass = function (deg) { return ["N", "NE", "E", "SE", "S", "SW", "W", "NW"][Math.round(deg / 45) % 8]; };

  Position.prototype.describe = function () {
    var p = this.current;
    if (!p) return this.s.no_position;
    if (p.source === "tap") return this.s.position_tap;
    return Fieldops.fmt(this.s.position_gps, { m: p.accuracy_m });
  };

  window.Fieldops.Position = Position;
})();
