"""The basemap served by the workers from the operator's PMTiles archive (fieldops/tiles.py)."""

import gzip
import os

import pytest

from fieldops import tiles

from .tilearchive import write_archive


@pytest.fixture
def archive(tmp_path, settings):
    path = tmp_path / "city.pmtiles"
    written = write_archive(path)
    settings.MAP_TILES_ARCHIVE = str(path)
    return path, written


def url_of(basemap, z, x, y) -> str:
    return basemap.url.format(z=z, x=x, y=y)


def test_without_an_archive_there_is_no_basemap(settings):
    settings.MAP_TILES_ARCHIVE = ""
    assert tiles.basemap() is None


def test_an_archive_that_is_missing_serves_nothing(settings, client, tmp_path):
    settings.MAP_TILES_ARCHIVE = str(tmp_path / "gone.pmtiles")
    assert tiles.basemap() is None
    assert client.get("/tiles/abc/14/8025/6178.png").status_code == 404


def test_the_basemap_says_what_the_archive_holds(archive):
    basemap = tiles.basemap()
    assert not basemap.vector
    assert (basemap.min_zoom, basemap.max_zoom) == (13, 15)
    west, south, east, north = basemap.bounds
    assert west == pytest.approx(-3.700) and north == pytest.approx(40.425)
    assert basemap.attribution == "Test map"
    assert basemap.url.startswith("/tiles/") and basemap.url.endswith("/{z}/{x}/{y}.png")


def test_a_tile_is_served_with_its_type_and_cached_for_good(archive, client):
    _, written = archive
    z, x, y = written[-1]
    response = client.get(url_of(tiles.basemap(), z, x, y))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    assert "immutable" in response["Cache-Control"] and "public" in response["Cache-Control"]


def test_a_tile_needs_no_session_and_sets_no_cookie(archive, client):
    _, written = archive
    response = client.get(url_of(tiles.basemap(), *written[0]))
    assert response.status_code == 200
    assert not response.cookies


def test_a_tile_outside_the_archive_is_an_empty_answer(archive, client):
    basemap = tiles.basemap()
    assert client.get(url_of(basemap, 14, 0, 0)).status_code == 204  # in the zooms, not the box
    assert client.get(url_of(basemap, 18, 0, 0)).status_code == 204  # beyond the zooms
    assert client.get(url_of(basemap, 14, 1 << 14, 0)).status_code == 204  # not a tile at all


def test_a_tile_of_another_archive_version_or_type_is_not_found(archive, client):
    _, written = archive
    z, x, y = written[0]
    version = tiles.basemap().url.split("/")[2]
    assert client.get(f"/tiles/{version}/{z}/{x}/{y}.jpg").status_code == 404
    assert client.get(f"/tiles/0123456789ab/{z}/{x}/{y}.png").status_code == 404


def test_replacing_the_archive_changes_every_tile_url(archive):
    path, _ = archive
    before = tiles.basemap().url
    write_archive(path, zooms=(13, 14))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = tiles.basemap()
    assert after.url != before and after.max_zoom == 14


def test_vector_tiles_travel_gzipped_as_the_archive_keeps_them(tmp_path, settings, client):
    path = tmp_path / "city-vector.pmtiles"
    written = write_archive(path, vector=True)
    settings.MAP_TILES_ARCHIVE = str(path)
    basemap = tiles.basemap()
    assert basemap.vector and basemap.url.endswith(".mvt")
    z, x, y = written[0]
    response = client.get(url_of(basemap, z, x, y))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert response["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.content) == f"tile {z}/{x}/{y}".encode()


def test_only_get_reads_a_tile(archive, client):
    _, written = archive
    assert client.post(url_of(tiles.basemap(), *written[0])).status_code == 405


def test_check_names_an_archive_that_cannot_be_served(settings, tmp_path):
    settings.MAP_TILES_ARCHIVE = str(tmp_path / "gone.pmtiles")
    (error,) = tiles.archive_check()
    assert error.id == "fieldops.E101" and "MAP_TILES_ARCHIVE" in error.msg
    not_tiles = tmp_path / "notes.pmtiles"
    not_tiles.write_bytes(b"these are not tiles" * 10)
    settings.MAP_TILES_ARCHIVE = str(not_tiles)
    (error,) = tiles.archive_check()
    assert "MAP_TILES_ARCHIVE" in error.msg
    assert tiles.basemap() is None


def test_check_is_quiet_with_a_good_archive_or_none(archive, settings):
    assert tiles.archive_check() == []
    settings.MAP_TILES_ARCHIVE = ""
    assert tiles.archive_check() == []
