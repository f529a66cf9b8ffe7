"""Charts and the report's map as inline SVG, drawn on the server.

Hand-written rather than matplotlib or a script library: the SVG goes in the page as markup, so it
prints as it shows, needs no script, no tiles and nothing from a third party, and it keeps to the
pages' Content-Security-Policy (matplotlib's SVG styles every element with a `style` attribute,
which `style-src 'self'` refuses). Colours are presentation attributes and classes of
static/fieldops/report.css. Every text is escaped here; the result is marked safe for templates.
"""

import math
from collections.abc import Iterable

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

INK = "#000"
BAR = "#003da5"
DANGER = "#c4001a"
ROUTE = "#1f6feb"
ZONE = "#c4001a"
PLACE = "#0b6e2e"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(
    *, bars: list[tuple[str, float]], title: str, unit: str = "", width: int = 640,
    height: int = 200,
) -> SafeString:  # fmt: skip
    """Vertical bars, each labelled below with its value above it."""
    top, bottom, left = 24, 28, 8
    plot = height - top - bottom
    peak = max((v for _, v in bars), default=0) or 1
    step = (width - 2 * left) / max(len(bars), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fo-chart" viewBox="0 0 {width} {height}"'
        f' role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot}" x2="{width - left}" y2="{top + plot}"'
        f' stroke="{INK}" stroke-width="1"/>',
    ]
    for n, (label, value) in enumerate(bars):
        h = plot * value / peak
        x = left + n * step + step * 0.15
        w = step * 0.7
        y = top + plot - h
        parts.append(
            f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}"'
            f' fill="{BAR}"><title>{escape(label)}: {escape(_num(value))}{escape(unit)}</title>'
            "</rect>"
        )
        cx = _num(x + w / 2)
        parts.append(
            f'<text x="{cx}" y="{_num(y - 4)}" text-anchor="middle" font-size="13"'
            f' fill="{INK}">{escape(_num(value))}</text>'
        )
        parts.append(
            f'<text x="{cx}" y="{height - 8}" text-anchor="middle" font-size="12"'
            f' fill="{INK}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


class _Frame:
    """Longitude and latitude to x and y: equirectangular, scaled by the cosine of the middle
    latitude so a street's shape is kept over a march's few kilometres."""

    def __init__(self, points: list[tuple[float, float]], width: int, height: int, pad: int):
        lngs = [p[0] for p in points] or [0.0]
        lats = [p[1] for p in points] or [0.0]
        self.west, self.east = min(lngs), max(lngs)
        self.south, self.north = min(lats), max(lats)
        self.k = math.cos(math.radians((self.south + self.north) / 2))
        span_x = max((self.east - self.west) * self.k, 1e-4)
        span_y = max(self.north - self.south, 1e-4)
        self.scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
        self.x0 = pad + ((width - 2 * pad) - span_x * self.scale) / 2
        self.y0 = pad + ((height - 2 * pad) - span_y * self.scale) / 2

    def xy(self, lng: float, lat: float) -> tuple[str, str]:
        x = self.x0 + (lng - self.west) * self.k * self.scale
        y = self.y0 + (self.north - lat) * self.scale
        return _num(x), _num(y)


def _coordinates(geometry: dict) -> Iterable[tuple[float, float]]:
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Point":
        yield coords[0], coords[1]
    elif kind == "LineString":
        yield from ((c[0], c[1]) for c in coords)
    elif kind == "Polygon":
        for ring in coords:
            yield from ((c[0], c[1]) for c in ring)
    elif kind == "MultiPolygon":
        for polygon in coords:
            for ring in polygon:
                yield from ((c[0], c[1]) for c in ring)


def route_map(
    *,
    routes: list[dict],
    places: list[dict],
    incidents: list[tuple[float, float, str]],
    arrests: list[tuple[float, float, int]],
    title: str,
    width: int = 640,
    height: int = 420,
) -> SafeString:
    """The routes (each version, the latest drawn strongest), places and zones, incidents (SOS in
    red) and arrests (squares, larger for more people), with no basemap."""
    points = [p for r in routes for p in _coordinates(r["geometry"])]
    points += [p for place in places for p in _coordinates(place["geometry"])]
    points += [(lng, lat) for lat, lng, _ in incidents] + [(lng, lat) for lat, lng, _ in arrests]
    frame = _Frame(points, width, height, pad=18)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fo-chart fo-map-svg"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{width}" height="{height}" fill="#f4f6f8"/>'
    ]
    for place in places:
        geometry = place["geometry"]
        colour = ZONE if place["kind"] == "danger" else PLACE
        if geometry.get("type") == "Point":
            x, y = frame.xy(*geometry["coordinates"][:2])
            parts.append(f'<circle cx="{x}" cy="{y}" r="5" fill="{colour}" data-layer="place">'
                         f"<title>{escape(place['name'])}</title></circle>")  # fmt: skip
        elif geometry.get("type") == "Polygon":
            ring = " ".join(",".join(frame.xy(*c[:2])) for c in geometry["coordinates"][0])
            parts.append(f'<polygon points="{ring}" fill="{colour}" fill-opacity="0.15"'
                         f' stroke="{colour}" data-layer="zone"><title>{escape(place["name"])}'
                         "</title></polygon>")  # fmt: skip
    for n, route in enumerate(routes):
        line = " ".join(",".join(frame.xy(*c[:2])) for c in route["geometry"]["coordinates"])
        latest = n == len(routes) - 1
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{ROUTE}"'
            f' stroke-width="{5 if latest else 2}" stroke-opacity="{1 if latest else 0.4}"'
            f' data-layer="route"><title>v{route["version"]}</title></polyline>'
        )
    for lat, lng, kind in incidents:
        x, y = frame.xy(lng, lat)
        colour = DANGER if kind == "sos" else "#8a4b00"
        parts.append(f'<circle cx="{x}" cy="{y}" r="7" fill="{colour}" stroke="#fff"'
                     f' data-layer="incident"><title>{escape(kind)}</title></circle>')  # fmt: skip
    for lat, lng, people in arrests:
        x, y = frame.xy(lng, lat)
        side = 8 + 2 * min(people, 6)
        parts.append(
            f'<rect x="{_num(float(x) - side / 2)}" y="{_num(float(y) - side / 2)}"'
            f' width="{side}" height="{side}" fill="{INK}" stroke="#fff" data-layer="arrest">'
            f"<title>{people}</title></rect>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
