"""Exports as files: CSV (the csv module), GeoJSON and KML (fastkml), written row by row from
fieldops/export_rows.py and streamed, for the REST door and the pages alike (docs/pages.md,
"Exports").

Each file says when the event's data will be purged: a `Fieldops-Purge-At` header on every
format, and inside GeoJSON (a `fieldops` member of the collection) and KML (the document's
description). Under ASGI the rows are read in batches on Django's thread for the ORM, so the
server never holds a whole export (a plain iterator would be read whole first).
"""

import csv
import io
import itertools
import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from xml.sax.saxutils import escape

import orjson
import pygeoif
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

from fieldops.export_rows import Export, Row

with warnings.catch_warnings():
    # fastkml warns on import when lxml is absent: it only loses pretty printing, never used here.
    warnings.simplefilter("ignore", UserWarning)
    from fastkml import Data, ExtendedData, Placemark
    from fastkml.geometry import create_kml_geometry

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
    "kml": "application/vnd.google-earth.kml+xml",
}
MSG_NO_FORMAT = "No such format: csv, geojson or kml."
BATCH = 200  # rows written per trip to the database thread under ASGI
KML_NS = "http://www.opengis.net/kml/2.2"


def purge_at(export: Export) -> str:
    """When the event's personal data is (or was) erased, as ISO 8601."""
    event = export.event
    if event.purged_at is not None:
        return event.purged_at.isoformat()
    return (event.ends_at + timedelta(hours=event.retention_hours)).isoformat()


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_lines(export: Export) -> Iterator[str]:
    """A header row, then one line per row; a geometry other than a point (routes, zones) goes in
    a `geometry` column as GeoJSON."""
    out = io.StringIO()
    writer = csv.writer(out)
    shaped = export.dataset in ("routes", "places")
    columns = [*export.columns, "geometry"] if shaped else export.columns

    def line(values) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(values)
        return out.getvalue()

    yield line(columns)
    for row in export.rows:
        values = [_text(row.properties.get(c)) for c in export.columns]
        if shaped:
            values.append(orjson.dumps(row.geometry).decode() if row.geometry else "")
        yield line(values)


def geojson_parts(export: Export) -> Iterator[str]:
    """A FeatureCollection, one feature per row, its properties the row's columns."""
    about = {
        "event": export.event.slug,
        "dataset": export.dataset,
        "purge_at": purge_at(export),
        "purged": export.purged,
        "personal": export.personal,
    }
    yield '{"type":"FeatureCollection","fieldops":' + orjson.dumps(about).decode()
    yield ',"features":['
    for n, row in enumerate(export.rows):
        feature = {
            "type": "Feature",
            "geometry": row.geometry,
            "properties": {c: row.properties.get(c) for c in export.columns},
        }
        yield ("," if n else "") + orjson.dumps(feature).decode()
    yield "]}\n"


def _placemark(export: Export, row: Row) -> str:
    first = export.columns[0]
    data = [Data(name=c, value=_text(row.properties.get(c))) for c in export.columns]
    geometry = create_kml_geometry(pygeoif.shape(row.geometry)) if row.geometry else None
    mark = Placemark(
        name=f"{export.dataset} {row.properties.get(first)}",
        kml_geometry=geometry,
        extended_data=ExtendedData(elements=data),
    )
    return mark.to_string(prettyprint=False)


def kml_parts(export: Export) -> Iterator[str]:
    """A KML document, one placemark per row (its columns as ExtendedData), each written by
    fastkml on its own so the document streams."""
    name = f"{export.event.name} · {export.dataset}"
    description = f"purge_at={purge_at(export)}; purged={_text(export.purged)}"
    yield (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="{KML_NS}"><Document>'
        f"<name>{escape(name)}</name><description>{escape(description)}</description>"
    )
    for row in export.rows:
        yield _placemark(export, row)
    yield "</Document></kml>\n"


WRITERS = {"csv": csv_lines, "geojson": geojson_parts, "kml": kml_parts}


def _batches(parts: Iterator[str]) -> str:
    return "".join(itertools.islice(parts, BATCH))


async def _async_parts(parts: Iterator[str]) -> AsyncIterator[str]:
    # thread_sensitive: every batch runs on the one thread that holds the request's connection.
    take = sync_to_async(_batches, thread_sensitive=True)
    while chunk := await take(parts):
        yield chunk


def export_response(request: HttpRequest, export: Export, fmt: str) -> StreamingHttpResponse:
    """The export as a streamed download."""
    parts = WRITERS[fmt](export)
    content = _async_parts(parts) if isinstance(request, ASGIRequest) else parts
    response = StreamingHttpResponse(content, content_type=FORMATS[fmt])
    label = "tallies" if export.purged else export.dataset
    response["Content-Disposition"] = f'attachment; filename="{export.event.slug}-{label}.{fmt}"'
    response["Fieldops-Purge-At"] = purge_at(export)
    response["Cache-Control"] = "no-store"
    return response
