"""The pages' own defences, without a browser: the headers every page sends, markup planted in
free text leaving the server only escaped, and page code that never turns text into HTML."""

import re
from pathlib import Path

from django.test import Client, override_settings

from fieldops.services.arrests import arrest_log
from fieldops.services.routes import route_publish
from marshals.services import invite_create

from .factories import PlaceFactory

ROOT = Path(__file__).resolve().parent.parent
ROLES = ["organizer", "marshal", "medic", "legal", "marcher"]
MARKUP = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
SHORT_MARKUP = "<img src=x onerror=window.__pwned=1>"  # fits a 40-character callsign


def directives(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy header"
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def joined(cast, role: str, callsign: str = "") -> Client:
    """A browser that joined the cast's event with a fresh invite of the role."""
    group = cast.group_a.pk if role in ("marshal", "marcher") else None
    issued = invite_create(event=cast.event, role=role, group=group)
    browser = Client()
    reply = browser.post(f"/join/{issued.code}/", {"callsign": callsign or f"{role}-1"})
    assert reply.status_code == 302
    return browser


def every_page(cast):
    """(name, response) for each role's page, a join page, an invite page and a not-joined page."""
    for role in ROLES:
        yield role, joined(cast, role).get(f"/e/{cast.event.slug}/")
    issued = invite_create(event=cast.event, role="marshal", label="Bridge team")
    yield "join", Client().get(f"/join/{issued.code}/")
    organizer = joined(cast, "organizer")
    yield "invite", organizer.post(f"/e/{cast.event.slug}/invites/", {"role": "marcher"})
    yield "not joined", Client().get(f"/e/{cast.event.slug}/")


def test_every_page_sends_a_strict_content_security_policy(cast):
    for name, response in every_page(cast):
        policy = directives(response)
        assert policy["default-src"] == ["'none'"], name
        assert policy["script-src"] == ["'self'"], name
        assert policy["style-src"] == ["'self'"], name
        assert policy["img-src"] == ["'self'"], name
        assert policy["connect-src"][0] == "'self'", name
        assert policy["object-src"] == ["'none'"], name
        assert policy["base-uri"] == ["'none'"], name
        assert policy["frame-ancestors"] == ["'none'"], name
        assert policy["form-action"] == ["'self'"], name
        assert "unsafe" not in response.headers["Content-Security-Policy"], name


def test_sockets_may_reach_the_public_origin_and_nothing_else(cast):
    with override_settings(PUBLIC_URL="https://fieldops.example.org"):
        response = joined(cast, "marcher").get(f"/e/{cast.event.slug}/")
    assert directives(response)["connect-src"] == ["'self'", "wss://fieldops.example.org"]


def test_a_configured_tile_server_is_the_only_other_image_origin(cast):
    marcher = joined(cast, "marcher")
    tiles = "https://{s}.tiles.example.net/osm/{z}/{x}/{y}.png"
    with override_settings(MAP_TILES_URL=tiles):
        response = marcher.get(f"/e/{cast.event.slug}/")
    assert directives(response)["img-src"] == ["'self'", "https://*.tiles.example.net"]
    with override_settings(MAP_TILES_URL="http://127.0.0.1:8081/{z}/{x}/{y}.png"):
        response = marcher.get(f"/e/{cast.event.slug}/")
    assert directives(response)["img-src"] == ["'self'", "http://127.0.0.1:8081"]


def test_every_page_allows_geolocation_for_itself_and_nothing_else(cast):
    for name, response in every_page(cast):
        policy = dict(
            item.strip().split("=", 1) for item in response.headers["Permissions-Policy"].split(",")
        )
        assert policy.pop("geolocation") == "(self)", name
        assert {"camera", "microphone", "payment", "usb", "fullscreen"} <= set(policy), name
        assert set(policy.values()) == {"()"}, name


def test_role_join_and_invite_pages_are_never_stored(cast):
    for name, response in every_page(cast):
        assert response.status_code in (200, 403), name
        cache_control = {v.strip() for v in response.headers.get("Cache-Control", "").split(",")}
        assert {"no-store", "private"} <= cache_control, name


def test_health_checks_stay_cacheable_by_the_balancer(client):
    assert "no-store" not in client.get("/healthz").headers.get("Cache-Control", "")


def test_markup_planted_in_free_text_leaves_the_server_only_escaped(cast):
    event = cast.event
    event.name = f"March {MARKUP}"
    event.save()
    cast.group_a.name = f"Block {MARKUP}"
    cast.group_a.save()
    PlaceFactory(event=event, name=f"Medic {MARKUP}")
    route_publish(participant=cast.organizer, geometry=cast.route.geometry, note=f"Note {MARKUP}")
    arrest_log(participant=cast.legal, lat=40.42, lng=-3.69, agency=f"Unit {MARKUP}"[:120])
    invite_create(event=event, role="marshal", group=cast.group_a.pk, label=f"Label {MARKUP}")
    pages = [
        joined(cast, role, SHORT_MARKUP).get(f"/e/{event.slug}/").content.decode() for role in ROLES
    ]
    issued = invite_create(event=event, role="marshal", group=cast.group_a.pk)
    pages.append(Client().get(f"/join/{issued.code}/").content.decode())
    for html in pages:
        assert "<img src=x" not in html
        assert "<script>window" not in html
    # The text itself is there, escaped, for the scripts to show as text.
    assert "Block \\u003Cimg src=x" in pages[1] and "Block &lt;img src=x" in pages[1]
    assert "Note \\u003Cimg" in pages[1]
    assert "Unit \\u003Cimg" in pages[3]
    assert "Medic &lt;img" in pages[4]


def test_marshal_route_changes_to_confirm_carry_their_note_only_as_json(cast):
    route_publish(participant=cast.organizer, geometry=cast.route.geometry, note=MARKUP)
    html = joined(cast, "marshal").get(f"/e/{cast.event.slug}/").content.decode()
    assert '"note": "\\u003Cimg src=x onerror=\\"window.__pwned=1\\"\\u003E' in html


SINKS = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function")
CONTENT_CALLS = re.compile(
    r"\.(bindTooltip|bindPopup|setTooltipContent|setPopupContent|setContent)\(\s*([^)]*)"
)


def test_page_scripts_never_turn_text_into_html():
    scripts = sorted((ROOT / "fieldops" / "static" / "fieldops").glob("*.js"))
    assert scripts
    for script in scripts:
        source = script.read_text()
        assert not SINKS.search(source), f"{script.name}: {SINKS.search(source).group()}"
        # Leaflet sets a string as HTML: its icons and tooltips get DOM nodes built from text.
        assert not re.search(r"\bhtml:\s*['\"]", source), script.name
        for call in CONTENT_CALLS.finditer(source):
            assert call.group(2).startswith("plain("), f"{script.name}: {call.group()}"


def test_templates_never_switch_escaping_off():
    for template in (ROOT / "templates").rglob("*.html"):
        source = template.read_text()
        assert "|safe" not in source, template
        assert "autoescape off" not in source, template
        # Inline styles would need 'unsafe-inline' in the policy.
        assert " style=" not in source and "<style" not in source, template


def test_invite_qr_code_is_drawn_without_any_text_of_the_link(cast):
    organizer = joined(cast, "organizer")
    html = organizer.post(f"/e/{cast.event.slug}/invites/", {"role": "marcher"}).content.decode()
    svg = re.search(r"<svg.*?</svg>", html, re.S).group()
    assert re.fullmatch(r"<svg [^<>]*>(<path d=\"[MHVz0-9., ]*\"[^<>]*/?>(</path>)?)*</svg>", svg)


def test_the_api_docs_load_their_scripts_from_this_site_not_a_cdn(db):
    reply = Client().get("/api/docs")
    assert reply.status_code == 200
    body = reply.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in body
    assert "cdn" not in body.lower()
