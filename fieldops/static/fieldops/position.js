/* Where this phone is: the browser's geolocation, or a tap on the map when it is refused or poor.
 * The position stays in the page; pages that report it (marshal, legal) send it in their actions. */
import { fmt } from "./util.js";

const POOR_ACCURACY_M = 200;

export class Position {
  /** `options.tap` false: a tap on the map is the page's own (the legal page marks the arrest
   * place with it) and never sets this phone's position. */
  constructor(fieldMap, strings, onChange, options) {
    this.fieldMap = fieldMap;
    this.s = strings;
    this.onChange = onChange || (() => {});
    this.current = null; // {lat, lng, accuracy_m, source}
    this.marker = null;
    if (!options || options.tap !== false) {
      fieldMap.map.on("click", (ev) => {
        // A tap wins over a poor or missing fix; a good GPS fix is not overridden by a stray tap.
        if (this.current && this.current.source === "gps" && this.current.accuracy_m < POOR_ACCURACY_M) return;
        this.set({ lat: ev.latlng.lat, lng: ev.latlng.lng, accuracy_m: null, source: "tap" });
      });
    }
    if (navigator.geolocation) {
      navigator.geolocation.watchPosition(
        (pos) => this.set({ lat: pos.coords.latitude, lng: pos.coords.longitude, accuracy_m: Math.round(pos.coords.accuracy), source: "gps" }),
        () => { /* refused or unavailable: the tap fallback is already armed */ },
        { enableHighAccuracy: true, maximumAge: 15000, timeout: 20000 },
      );
    }
  }

  set(p) {
    this.current = p;
    const ll = [p.lat, p.lng];
    if (this.marker) this.marker.setLatLng(ll);
    else this.marker = L.circleMarker(ll, { radius: 10, color: "#fff", weight: 3, fillColor: "#003da5", fillOpacity: 1 }).addTo(this.fieldMap.map);
    this.onChange(p);
  }

  describe() {
    const p = this.current;
    if (!p) return this.s.no_position;
    if (p.source === "tap") return this.s.position_tap;
    return fmt(this.s.position_gps, { m: p.accuracy_m });
  }
}
