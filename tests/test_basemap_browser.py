"""The map drawn over the workers' own basemap (fieldops/tiles.py): every tile comes from the
server the page came from, and nothing else is asked of anyone."""

from urllib.parse import urlsplit

import pytest

from tests.browser import *  # noqa: F403
from tests.browser import field_fixture, serving

from .tilearchive import write_archive

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def basemap_server(tmp_path_factory):
    archive = tmp_path_factory.mktemp("maps") / "demo.pmtiles"
    write_archive(archive, zooms=(13, 14, 15), attribution="Test map <b>bold</b>")
    with serving(env={"MAP_TILES_ARCHIVE": str(archive)}) as server:
        yield server


field = field_fixture("basemap_server")


def test_the_map_draws_the_servers_own_tiles_and_asks_nobody_else(field, basemap_server):
    origin = urlsplit(basemap_server.base_url).netloc
    context, page = field.join("marshal", "Wren")
    asked = []
    context.on("request", lambda request: asked.append(request.url))
    page.reload()
    page.wait_for_selector("#fo-state[data-state=live]")
    page.wait_for_function("() => document.querySelectorAll('img.leaflet-tile-loaded').length > 0")
    tiles = [u for u in asked if "/tiles/" in u]
    assert tiles, asked
    assert all(urlsplit(u).netloc == origin for u in asked), [
        u for u in asked if urlsplit(u).netloc != origin
    ]
    # The archive's attribution is shown as its text, never as the markup it carried.
    credit = page.locator(".leaflet-control-attribution")
    assert "Test map bold" in credit.inner_text()
    assert credit.locator("b").count() == 0
