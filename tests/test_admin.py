"""The admin shows routes and places on django-leaflet maps, with the bundled assets only."""

import json

import pytest

from fieldops.models import Route

from .factories import MADRID_ROUTE, PlaceFactory

DANGER_ZONE = {
    "type": "Polygon",
    "coordinates": [
        [[-3.6935, 40.4095], [-3.6915, 40.4095], [-3.6915, 40.4102], [-3.6935, 40.4095]]
    ],
}


def leaflet_page(admin_client, url: str) -> str:
    response = admin_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/leaflet/leaflet.js">' in html  # bundled, not from a CDN
    assert "unpkg.com" not in html and "cdnjs" not in html
    return html


def test_the_route_change_page_draws_the_route_on_a_read_only_map(cast, admin_client):
    html = leaflet_page(admin_client, f"/admin/fieldops/route/{cast.route.pk}/change/")

    assert "geodjango_route_map.modifiable = false;" in html
    assert "geodjango_route_map.geom_type = 'LineString';" in html
    assert json.dumps(MADRID_ROUTE[0]).replace(" ", "") in html.replace(" ", "")
    assert 'name="_save"' not in html  # a version is history: publish a new one instead


def test_the_route_add_page_has_an_editable_map(cast, admin_client):
    html = leaflet_page(admin_client, "/admin/fieldops/route/add/")
    assert "geodjango_id_geometry.modifiable = true;" in html
    assert "geodjango_id_geometry.geom_type = 'LineString';" in html


@pytest.mark.parametrize(
    "geometry",
    [{"type": "Point", "coordinates": [-3.6915, 40.42]}, DANGER_ZONE],
    ids=["point", "polygon"],
)
def test_the_place_change_page_has_an_editable_map_with_the_place(cast, admin_client, geometry):
    place = PlaceFactory(event=cast.event, geometry=geometry)
    html = leaflet_page(admin_client, f"/admin/fieldops/place/{place.pk}/change/")

    assert "geodjango_id_geometry.modifiable = true;" in html
    assert geometry["type"] in html


def test_the_admin_needs_a_login(cast, client):
    response = client.get(f"/admin/fieldops/place/{cast.route.pk}/change/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_route_added_in_the_admin_is_published_as_a_new_version(
    cast, admin_client, published, django_capture_on_commit_callbacks
):
    line = {"type": "LineString", "coordinates": [[-3.6903, 40.4253], [-3.6920, 40.4078]]}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/fieldops/route/add/",
            {"event": cast.event.pk, "group": "", "geometry": json.dumps(line), "note": "Detour"},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    newest = Route.objects.filter(event=cast.event).order_by("-version").first()
    assert newest.version == cast.route.version + 1 and newest.geometry == line
    kinds = [(p["event_id"], p["audience"], json.loads(p["frame"])["type"]) for p in published]
    assert (cast.event.pk, ["organizers", "public"], "route.published") in kinds


def test_the_admin_shows_revocations_but_never_edits_their_dates(cast, admin_client):
    from marshals.models import DeviceToken

    from .factories import issue_token

    issue_token(cast.medic)
    device = DeviceToken.objects.get(participant=cast.medic)
    person = admin_client.get(f"/admin/marshals/participant/{cast.medic.pk}/change/")
    token = admin_client.get(f"/admin/marshals/devicetoken/{device.pk}/change/")

    # Revoking goes through the service (a checkbox or an action), which closes open sockets.
    assert 'name="revoke"' in person.content.decode()
    assert 'name="revoke_invite"' in person.content.decode()
    for page in (person, token):
        assert page.status_code == 200 and 'name="revoked_at_0"' not in page.content.decode()
    # Invite codes and tokens are shown once, to whoever made them: never made in the admin.
    assert admin_client.get("/admin/marshals/invite/add/").status_code == 403
    assert admin_client.get("/admin/marshals/devicetoken/add/").status_code == 403


def test_a_group_of_another_event_is_refused_by_name_in_the_admin(cast, admin_client):
    from marshals.models import Participant

    from .factories import EventFactory, MarchGroupFactory

    elsewhere = MarchGroupFactory(event=EventFactory())
    form = {"role": "marshal", "callsign": "m-a", "group": elsewhere.pk, "user": ""}
    reply = admin_client.post(f"/admin/marshals/participant/{cast.marshal_a.pk}/change/", form)

    assert reply.status_code == 200
    assert reply.context["adminform"].form.errors["group"] == ["No such march group at this event."]
    assert Participant.objects.get(pk=cast.marshal_a.pk).group_id == cast.group_a.pk
