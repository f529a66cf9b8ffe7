"""Small PMTiles archives for the tests, written with the `pmtiles` package's own writer: solid
PNG tiles (each zoom a colour of its own) or gzipped vector tiles, over a box around the demo march."""

import gzip
import math
import struct
import zlib
from pathlib import Path

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write

# Around the demo route in Madrid (fieldops/demo.py): west, south, east, north.
DEMO_BOX = (-3.700, 40.405, -3.685, 40.425)


def tile_range(box, z: int):
    west, south, east, north = box

    def x_of(lng):
        return int((lng + 180) / 360 * 2**z)

    def y_of(lat):
        r = math.radians(lat)
        return int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * 2**z)

    return range(x_of(west), x_of(east) + 1), range(y_of(north), y_of(south) + 1)


def solid_png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * size
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


COLOURS = {13: (230, 220, 200), 14: (210, 230, 210), 15: (200, 215, 235), 16: (235, 210, 215)}


def write_archive(
    path: Path, *, zooms=(13, 14, 15), box=DEMO_BOX, vector: bool = False, attribution="Test map"
) -> list[tuple[int, int, int]]:
    """Write an archive; return the (z, x, y) of every tile in it."""
    written = []
    tiles = {}
    for z in zooms:
        xs, ys = tile_range(box, z)
        for x in xs:
            for y in ys:
                if vector:
                    # Not a drawable layer, only bytes that travel gzipped like a real one's.
                    data = gzip.compress(f"tile {z}/{x}/{y}".encode(), mtime=0)
                else:
                    data = solid_png(COLOURS.get(z, (220, 220, 220)))
                tiles[zxy_to_tileid(z, x, y)] = data
                written.append((z, x, y))
    west, south, east, north = box
    with write(str(path)) as writer:
        for tile_id in sorted(tiles):
            writer.write_tile(tile_id, tiles[tile_id])
        writer.finalize(
            {
                "tile_type": TileType.MVT if vector else TileType.PNG,
                "tile_compression": Compression.GZIP if vector else Compression.NONE,
                "min_lon_e7": int(west * 1e7),
                "min_lat_e7": int(south * 1e7),
                "max_lon_e7": int(east * 1e7),
                "max_lat_e7": int(north * 1e7),
                "center_zoom": zooms[0],
                "center_lon_e7": int((west + east) / 2 * 1e7),
                "center_lat_e7": int((south + north) / 2 * 1e7),
            },
            {"attribution": attribution},
        )
    return written
