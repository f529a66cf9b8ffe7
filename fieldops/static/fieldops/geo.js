/* Geometry the pages need and Leaflet does not give: whether a point is inside a GeoJSON area,
 * and the nearest help measured as the server measures it.
 *
 * `measure` is the server's place_nearest (services/safety/geo.py, LocalFrame): the distance from
 * here to the nearest point of a place's shape (a point; a line's or polygon's nearest edge; 0
 * inside a polygon, holes excepted) and the bearing to that point, in a frame of metres east and
 * north of here on the WGS84 ellipsoid's local radii. Leaflet measures on a sphere (LatLng.distanceTo,
 * off by up to 0.5% from the geodesic), so the frame is ours; the nearest point of each edge is
 * Leaflet's (L.LineUtil.closestPointOnSegment), on the projected points. Within centimetres of the
 * server at the scale of a march: tests/test_safety_nearest.py runs both on the same shapes.
 * Leaflet has no public point-in-polygon test, so `contains` is the even-odd rule, in degrees: a
 * projection that scales each axis keeps inside inside. */

const A = 6378137.0, E2 = 0.00669437999014; // WGS84 semi-major axis, first eccentricity squared
const DEG = Math.PI / 180;
const DIRS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];

/** The polygons (lists of rings of [x, y]) of a GeoJSON geometry; [] for other shapes. */
function polygons(g) {
  if (g.type === "Polygon") return [g.coordinates];
  if (g.type === "MultiPolygon") return g.coordinates;
  return [];
}

/** Even-odd: the point [x, y] inside the rings (a hole counts as outside). */
function insideRings(rings, x, y) {
  let odd = false;
  rings.forEach((ring) => {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const a = ring[i], b = ring[j];
      if ((a[1] > y) !== (b[1] > y) && x < a[0] + ((y - a[1]) * (b[0] - a[0])) / (b[1] - a[1])) odd = !odd;
    }
  });
  return odd;
}

/** Whether `at` ({lat, lng}) is inside a GeoJSON (multi)polygon; false for other shapes. */
export function contains(geometry, at) {
  return !!geometry && polygons(geometry).some((rings) => insideRings(rings, at.lng, at.lat));
}

function frame(here) {
  const sin = Math.sin(here.lat * DEG), w = 1 - E2 * sin * sin;
  const north = ((A * (1 - E2)) / Math.pow(w, 1.5)) * DEG; // metres per degree of latitude
  const east = (A / Math.sqrt(w)) * Math.cos(here.lat * DEG) * DEG; // per degree of longitude
  return (c) => L.point((c[0] - here.lng) * east, (c[1] - here.lat) * north);
}

function lines(g) { // each line of a shape (polygon rings included), as [lng, lat] lists
  switch (g.type) {
    case "Point": return [[g.coordinates]];
    case "MultiPoint": return g.coordinates.map((c) => [c]);
    case "LineString": return [g.coordinates];
    case "MultiLineString": case "Polygon": return g.coordinates;
    case "MultiPolygon": return [].concat(...g.coordinates);
    default: throw new Error("unknown geometry " + g.type);
  }
}

/** {distance_m, bearing_deg} from here ({lat, lng}) to a GeoJSON geometry. */
export function measure(here, geometry) {
  const project = frame(here), origin = L.point(0, 0);
  const projected = lines(geometry).map((line) => line.map(project));
  // The frame is affine in degrees, so inside is inside in either.
  if (contains(geometry, here)) return { distance_m: 0, bearing_deg: 0 };
  let best = null;
  projected.forEach((line) => {
    line.forEach((a, i) => {
      const p = L.LineUtil.closestPointOnSegment(origin, a, line[Math.min(i + 1, line.length - 1)]);
      const d = origin.distanceTo(p);
      if (!best || d < best.d) best = { d: d, p: p };
    });
  });
  if (best.d === 0) return { distance_m: 0, bearing_deg: 0 };
  return { distance_m: best.d, bearing_deg: ((Math.atan2(best.p.x, best.p.y) / DEG) + 360) % 360 };
}

/** The compass point (N, NE, ...) of a bearing in degrees. */
export function compass(deg) {
  return DIRS[Math.round(deg / 45) % 8];
}

/** Metres between two positions ({lat, lng}): Leaflet's great-circle distance, enough to tell a
 * move of a few metres or how far an SOS is. */
export function distance(a, b) {
  return L.latLng(a.lat, a.lng).distanceTo([b.lat, b.lng]);
}

/** Initial bearing in degrees from `a` to `b` (Leaflet has none). */
export function bearing(a, b) {
  const y = Math.sin((b.lng - a.lng) * DEG) * Math.cos(b.lat * DEG);
  const x = Math.cos(a.lat * DEG) * Math.sin(b.lat * DEG) - Math.sin(a.lat * DEG) * Math.cos(b.lat * DEG) * Math.cos((b.lng - a.lng) * DEG);
  return ((Math.atan2(y, x) / DEG) + 360) % 360;
}
