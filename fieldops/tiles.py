"""The basemap, served by the workers from one tile archive the operator provides (MAP_TILES_ARCHIVE,
a PMTiles file), so the pages ask nobody else for a map: a third-party tile server would learn
where everyone is looking.

PMTiles is one file with a directory of tiles, read in place (memory-mapped) with the `pmtiles`
package: no tile server, no database, nothing to unpack. Vector archives (a city cut from the
Protomaps daily build with one `pmtiles extract` command, docs/deployment.md) are drawn in the page
by protomaps-leaflet; raster ones (PNG, JPEG, WebP) by Leaflet itself.

Tile URLs carry the archive's version (its size and modification time), so a tile is cached for
good by browsers and the service worker, and replacing the archive changes every URL.
"""

import functools
import gzip
import hashlib
import json
import os
from dataclasses import dataclass

from django.conf import settings
from django.core import checks
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.html import escape, strip_tags
from django.views.decorators.http import require_GET
from pmtiles.reader import MmapSource
from pmtiles.tile import (
    Compression,
    TileType,
    deserialize_directory,
    deserialize_header,
    find_tile,
    zxy_to_tileid,
)

FORMATS = {
    TileType.MVT: ("mvt", "application/vnd.mapbox-vector-tile"),
    TileType.PNG: ("png", "image/png"),
    TileType.JPEG: ("jpg", "image/jpeg"),
    TileType.WEBP: ("webp", "image/webp"),
    TileType.AVIF: ("avif", "image/avif"),
}
ENCODINGS = {Compression.NONE: None, Compression.GZIP: "gzip"}
MAX_DIRECTORY_DEPTH = 4  # the PMTiles spec's bound: root and at most three leaf levels
A_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Basemap:
    """What the pages need to draw the archive: its tile URL template and what it holds."""

    url: str
    vector: bool
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]  # west, south, east, north
    attribution: str

    def page_config(self) -> dict:
        return {
            "url": self.url,
            "vector": self.vector,
            "min_zoom": self.min_zoom,
            "max_zoom": self.max_zoom,
            "bounds": self.bounds,
            "attribution": self.attribution,
        }


class Archive:
    """One PMTiles file, opened once per process; directories are decoded once and kept."""

    def __init__(self, path: str):
        with open(path, "rb") as file:
            stat = os.fstat(file.fileno())
            # The map stays readable while open, even if the operator replaces the file.
            self.read = MmapSource(file)
        identity = f"{stat.st_size}:{stat.st_mtime_ns}".encode()
        self.version = hashlib.sha256(identity).hexdigest()[:12]
        if self.read(0, 7) != b"PMTiles" or self.read(7, 1) != b"\x03":
            raise ValueError("it is not a version 3 PMTiles archive")
        self.header = deserialize_header(self.read(0, 127))
        kind = self.header["tile_type"]
        if kind not in FORMATS:
            raise ValueError(f"it holds tiles of an unknown type ({kind})")
        if self.header["internal_compression"] != Compression.GZIP:
            # What every PMTiles tool writes, and the only one the `pmtiles` reader decodes.
            raise ValueError("its directories are not gzip-compressed")
        self.extension, self.content_type = FORMATS[kind]
        self.encoding = ENCODINGS.get(self.header["tile_compression"])
        self.directory = functools.lru_cache(maxsize=256)(self._directory)

    def _directory(self, offset: int, length: int):
        return deserialize_directory(self.read(offset, length))

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        if not (self.header["min_zoom"] <= z <= self.header["max_zoom"]) or not (
            0 <= x < 2**z and 0 <= y < 2**z
        ):
            return None
        tile_id = zxy_to_tileid(z, x, y)
        offset, length = self.header["root_offset"], self.header["root_length"]
        for _ in range(MAX_DIRECTORY_DEPTH):
            entry = find_tile(self.directory(offset, length), tile_id)
            if entry is None:
                return None
            if entry.run_length:
                return self.read(self.header["tile_data_offset"] + entry.offset, entry.length)
            offset = self.header["leaf_directory_offset"] + entry.offset
            length = entry.length
        return None

    def metadata(self) -> dict:
        raw = gzip.decompress(
            self.read(self.header["metadata_offset"], self.header["metadata_length"])
        )
        try:
            found = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}


@functools.cache
def _open(path: str, _changed: int) -> Archive:
    return Archive(path)


def archive() -> Archive | None:
    """The configured archive, reopened when the operator replaces the file; None without one, or
    if it cannot be read (the pages then draw no basemap; `manage.py check` says why)."""
    path = settings.MAP_TILES_ARCHIVE
    if not path:
        return None
    try:
        return _open(path, os.stat(path).st_mtime_ns)
    except (OSError, ValueError, KeyError):
        return None


@checks.register(checks.Tags.compatibility)
def archive_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    path = settings.MAP_TILES_ARCHIVE
    if not path:
        return []
    try:
        _open(path, os.stat(path).st_mtime_ns)
    except (OSError, ValueError, KeyError) as exc:
        return [
            checks.Error(
                f"MAP_TILES_ARCHIVE cannot be served: {exc}",
                hint="Point it at a readable PMTiles file (docs/deployment.md, the basemap).",
                id="fieldops.E101",
            )
        ]
    return []


def basemap() -> Basemap | None:
    """The pages' basemap from the archive, or None (no archive: the pages draw no tile layer,
    unless MAP_TILES_URL names a tile server the operator chose)."""
    found = archive()
    if found is None:
        return None
    h = found.header
    return Basemap(
        url=f"/tiles/{found.version}/{{z}}/{{x}}/{{y}}.{found.extension}",
        vector=found.extension == "mvt",
        min_zoom=h["min_zoom"],
        max_zoom=h["max_zoom"],
        bounds=(
            h["min_lon_e7"] / 1e7,
            h["min_lat_e7"] / 1e7,
            h["max_lon_e7"] / 1e7,
            h["max_lat_e7"] / 1e7,
        ),
        attribution=settings.MAP_TILES_ATTRIBUTION or _archive_credit(found),
    )


def _archive_credit(found: Archive) -> str:
    """The archive's own attribution as text. Leaflet shows attributions as HTML, and only the
    operator's MAP_TILES_ATTRIBUTION is trusted as such: the file's is stripped and escaped."""
    return escape(strip_tags(str(found.metadata().get("attribution", ""))))


def tiles_config() -> dict:
    """The `tiles` entry of every page's config: the archive's basemap, else the operator's tile
    server (MAP_TILES_URL), else none (`url` empty)."""
    found = basemap()
    if found is not None:
        return found.page_config()
    return {
        "url": settings.MAP_TILES_URL,
        "vector": False,
        "min_zoom": 0,
        "max_zoom": 19,
        "bounds": None,
        "attribution": settings.MAP_TILES_ATTRIBUTION,
    }


@require_GET
def tile(request: HttpRequest, version: str, z: int, x: int, y: int, ext: str) -> HttpResponse:
    """One tile. Public: it is the same map for everyone and says nothing about anyone."""
    found = archive()
    if found is None or version != found.version or ext != found.extension:
        raise Http404("No such tile.")
    data = found.tile(z, x, y)
    if data is None:
        # An empty tile (sea, or outside the extract) is a normal answer, cached like the others.
        response = HttpResponse(status=204)
    else:
        response = HttpResponse(data, content_type=found.content_type)
        if found.encoding:
            response["Content-Encoding"] = found.encoding
    response["Cache-Control"] = f"public, max-age={A_YEAR}, immutable"
    return response
